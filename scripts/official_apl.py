#!/usr/bin/env python
"""Run the authors' code (../shared/reference/official-apl/archive) as a baseline, into this
project's run layout (baselines/official.py explains how).

    python scripts/official_apl.py --config configs/mnist/sym/nce+rce.yaml --noise-rate 0.8 \
        --seed 0 --data-root data --runs runs/official --threads 1 [--stop-after 8] [--recipe release]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository root holds the packages
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines.official import CODE_NAME, ReferenceMissing, check_expressible, run  # noqa: E402
from engine.cli import HelpFormatter, add_set_option  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    p.add_argument("--config", required=True, help="this project's config naming the setting")
    p.add_argument("--noise-rate", type=float, help="override noise.rate")
    p.add_argument("--seed", type=int, help="override train.seed (also the noise seed)")
    p.add_argument("--data-root", default="data", help="a folder made by prepare.py")
    p.add_argument(
        "--recipe",
        help="a recipe of the config's `recipes:` table (configs/base/mnist.yaml: release = "
        "weight decay 1e-2 + Nesterov, MNIST's default; paper = their train.py unedited)",
    )
    add_set_option(
        p,
        "override config keys their command line or the harness can follow "
        "(optim.weight_decay, optim.nesterov, optim.lr, loss parameters)",
    )
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--runs", type=Path, help="root of the sweep layout to write into")
    group.add_argument("--out", type=Path, help="the run directory itself")
    p.add_argument("--stop-after", type=int, help="stop after N epochs (schedule unchanged)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    args = p.parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")  # its per-batch progress bars, in a log file
    from datasets import DatasetError
    from engine.errors import UserError

    try:
        cfg, out, where = plan(args)
        if out is None:
            return 0
        result = run(cfg, out, args.stop_after, args.resume, args.threads, where)
    except (UserError, DatasetError, ReferenceMissing) as e:
        raise SystemExit(f"error: {e}") from None
    print(
        f"[{CODE_NAME}] {result['status']} after {result['epochs_run']}/"
        f"{result['schedule_epochs']} epochs: last test top-1 {result['last']['test_top1']:.2f}"
        f" -> {out / 'result.json'}"
    )
    return 0


def plan(args):
    """(config, run directory, coordinates), after the same checks train.py makes before it
    writes anything: the config, the data, and what the directory already holds (a finished
    run of this config: nothing to do, out None; of another config: refused)."""
    from datasets import load_dataset
    from engine.experiment import load_config, run_coordinates
    from engine.record import run_path
    from engine.rundir import inspect_run_dir

    cfg = load_config(
        args.config,
        overrides={
            "noise.rate": args.noise_rate,
            "train.seed": args.seed,
            "recipe": args.recipe,
            "dataset.root": args.data_root,
        },
        sets=args.set,
    )
    check_expressible(cfg)
    where = run_coordinates(cfg, args.config)
    out = args.out or run_path(args.runs, where)  # the sweep's layout: tables read both alike
    load_dataset(cfg["dataset.name"], cfg["dataset.root"])  # a missing dataset stops here
    finished, _ = inspect_run_dir(Path(out), cfg, args.resume, force=False)
    if finished is not None and finished["status"] == "finished":
        print(
            f"{out} is already finished (last-epoch test top-1 "
            f"{finished['last']['test_top1']:.2f}); nothing to do"
        )
        return cfg, None, where
    return cfg, Path(out), where


if __name__ == "__main__":
    sys.exit(main())
