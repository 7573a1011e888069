#!/usr/bin/env python
"""Run the paper's grid for one dataset: noise kinds x rates x losses x seeds, resumably.

    python scripts/sweep.py --dataset mnist                          # the whole grid, 1 job
    python scripts/sweep.py --dataset mnist --losses ce,nce+rce --sym-rates 0,0.8 \
        --asym-rates 0.4 --seeds 0,123,515 --epochs 10 --jobs 2 --out runs/paper
    python scripts/sweep.py --dataset cifar10 --slurm sweep_c10.sbatch   # write a Slurm array

Each run is `python train.py --config configs/<dataset>/<kind>/<loss>.yaml --resume ...` in its
own directory <out>/<dataset>/<kind>/<rate>/<loss>[@<variant>]/seed<S> (engine/record.py: the
variant names what the run changes against its config, e.g. `release` for --recipe release or
`beta=1` for a grid point), so re-running the same command is always safe: a finished run of
the same config is skipped (one of another config is refused, with the keys that differ), an
interrupted one resumes from its checkpoint, a failed one (failed.json, with its error) is
retried. `--grid KEY=V1,V2,...` (repeatable: the cartesian product) runs every point of a grid
of any config keys, each in its own directory. A run claimed by another
sweep process (an flock on <run>/.sweep.lock) is left to it, so two sweeps on one output
directory never train the same run twice. The summary at the end lists done / failed / skipped.
Ctrl-C reaches the trainings too (they checkpoint and stop); no further run starts, and each
running one is reported by what it left: done (result.json) or interrupted (resumed next time).

Filling GPUs: `--devices cuda:0,cuda:1 --jobs-per-device 3` (or `--devices auto
--jobs-per-device auto`) runs 3 runs at once on each GPU; each run gets `--set
train.device=<its GPU> train.threads=<cores // runs at once>`, devices are handed out
round-robin, and a device never holds more than its count. Each epoch's device and threads
are in the run's metrics.jsonl (and its command in train.log).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository root holds the packages
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli import HelpFormatter  # noqa: E402
from engine.errors import UserError  # noqa: E402
from engine.grid import DEFAULT_SEEDS, LOSSES  # noqa: E402
from engine.sweep import SweepError, run_sweep  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    p.add_argument(
        "--dataset",
        required=True,
        choices=["mnist", "cifar10", "cifar100", "cifar10n"],
        help="which grid (configs/<dataset>/)",
    )
    p.add_argument("--label-sets", help="cifar10n: comma list of label sets (unset: all five)")
    p.add_argument("--kinds", default="sym,asym", help="sym, asym or sym,asym")
    p.add_argument("--losses", help=f"comma list (unset: all {len(LOSSES)} paper losses)")
    p.add_argument("--sym-rates", help="comma list (unset: 0,0.2,0.4,0.6,0.8)")
    p.add_argument("--asym-rates", help="comma list (unset: 0.1,0.2,0.3,0.4)")
    p.add_argument(
        "--seeds",
        default=",".join(map(str, DEFAULT_SEEDS)),
        help="comma list of training seeds (each has its own noise draw)",
    )
    p.add_argument(
        "--epochs", type=int, help="reduced-scale runs: override train.epochs (unset: the paper's)"
    )
    p.add_argument(
        "--train-subset",
        type=int,
        help="reduced-scale runs: train on a fixed subset of N samples (unset: all)",
    )
    p.add_argument(
        "--data-root", help="dataset root passed to train.py (unset: the configs' data/)"
    )
    p.add_argument("--out", default="runs/paper", help="root of the run directories")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs in parallel on this machine; above 1 each run gets train.threads="
        "cores // jobs unless --set train.threads=N",
    )
    p.add_argument(
        "--devices",
        help="spread runs over these devices, each run gets --set train.device=D: a "
        "comma list (cuda:0,cuda:1 or cpu) or auto (every visible GPU, else the "
        "CPU); unset: train.device from the configs",
    )
    p.add_argument(
        "--jobs-per-device",
        help="with --devices: runs at once on each device, a number or auto (a "
        "conservative table by model, capped by free GPU memory and cores; 1 "
        "on the CPU); unset: 1",
    )
    p.add_argument(
        "--recipe",
        help="a named recipe of the configs (configs/base/<dataset>.yaml recipes:, or "
        "paper); unset: the configs' default (MNIST: release). Runs of a recipe other than "
        "paper get their own directories (<loss>@<recipe>)",
    )
    p.add_argument("--set", nargs="*", help="extra train.py --set overrides for every run")
    p.add_argument(
        "--grid",
        action="append",
        metavar="KEY=V1,V2",
        help="run every value of a config key, each in its own directory "
        "(<loss>@<key>=<value>); repeat for a cartesian grid",
    )
    p.add_argument("--slurm", type=Path, help="write a Slurm job-array script instead of running")
    p.add_argument("--dry-run", action="store_true", help="list the runs and their state")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_sweep(args, argv)
    except (SweepError, UserError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
