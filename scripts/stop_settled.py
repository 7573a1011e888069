#!/usr/bin/env python
"""Watch a run root and stop (SIGTERM: checkpointed, resumable) every unfinished run whose last
--epochs epochs all sit at a constant predictor's accuracy (--level: 11.35 on MNIST), marking it
settled.json; the reports show it as "stopped: settled at epoch N" (engine/settle.py).

    python scripts/stop_settled.py runs/factors --level 11.35 --epochs 5 [--once]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository root holds the packages
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli import HelpFormatter  # noqa: E402
from engine.settle import stop_settled  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("root", type=Path, help="a run root (searched recursively for metrics.jsonl)")
    p.add_argument("--level", type=float, default=11.35, help="the constant predictor's top-1 (%%)")
    p.add_argument("--epochs", type=int, default=5, help="epochs at that level before stopping")
    p.add_argument("--every", type=float, default=30.0, help="seconds between looks")
    p.add_argument("--once", action="store_true", help="look once and exit")
    args = p.parse_args(argv)
    if not args.root.is_dir():
        p.error(f"{args.root} is not a directory; give the run root the trainings write under")
    if args.epochs < 1:
        p.error("--epochs must be at least 1")
    while True:
        for folder, epoch in stop_settled(args.root, args.level, args.epochs):
            print(f"settled: {folder} at epoch {epoch}", flush=True)
        if args.once:
            return 0
        time.sleep(args.every)


if __name__ == "__main__":
    sys.exit(main())
