#!/usr/bin/env python
"""Published | the authors' code, run here | this project, per cell, with a verdict and both
codes' per-epoch curves (reports/side_by_side.py explains the verdicts).

    python scripts/compare_official.py --runs runs/side/ours --official-runs runs/side/official \
        --dataset mnist --out docs/results/side_by_side [--recipe release] [--paired]
    (also: python scripts/tables.py ... --official-runs DIR)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository root holds the packages
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli import HelpFormatter  # noqa: E402
from engine.record import RecordError  # noqa: E402
from reports.output import OutputFolder, ReportError  # noqa: E402
from reports.side_by_side import write_all  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--runs", type=Path, required=True, help="this project's runs root")
    p.add_argument("--official-runs", type=Path, required=True,
                   help="the authors' code's runs (scripts/official_apl.py --runs)")
    p.add_argument("--dataset", default="mnist", help="dataset folder under both roots")
    p.add_argument("--out", type=Path, required=True, help="where the table and figures go")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing files in --out that this command did not write")
    p.add_argument("--no-figures", action="store_true", help="the table only")
    p.add_argument("--losses", help="comma list: only these losses' cells (default: every loss "
                                    "either code has runs of)")
    p.add_argument("--recipe", help="only runs of this recipe (default: every recipe; each "
                                    "variant is a cell of its own)")
    p.add_argument("--seeds", help="comma list: only these seeds' runs, e.g. the seeds both codes "
                                   "ran, so each column averages the same noisy labels (default: "
                                   "every seed either code has)")
    p.add_argument("--paired", action="store_true",
                   help="per cell, only the seeds both codes ran (table and figures)")
    p.add_argument("--name", help="file name stem of the table (default: <dataset>_side_by_side)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    losses = set(args.losses.split(",")) if args.losses else None
    try:
        seeds = {int(s) for s in args.seeds.split(",")} if args.seeds else None
    except ValueError:
        print(f"error: --seeds {args.seeds!r}: give integers separated by commas, e.g. "
              f"--seeds 0,123", file=sys.stderr)
        return 2
    try:
        written = write_all(args.runs, args.official_runs, args.dataset,
                            OutputFolder(args.out, args.overwrite), not args.no_figures, losses,
                            seeds, args.paired, args.recipe, args.name)
    except (ReportError, RecordError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("\n".join(map(str, written)))
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
