#!/usr/bin/env python
"""The paper's α/β selection protocol as one command: run the grid with 20 % of the noisy
training set held out, pick per setting the pair with the best last-epoch accuracy on that
noisy split, and report its clean test accuracy beside the pair the paper's config uses.

    python scripts/select_hyperparameters.py --dataset mnist --losses nce+rce --sym-rates 0.4 \
        --out runs/select                                   # full length: 12 runs of 50 epochs
    python scripts/select_hyperparameters.py ... --epochs 10 --train-subset 10000  # reduced

The grid defaults to the paper's (spec §4.1): loss.alpha 0.1,1,10 x loss.beta 0.1,1,10,100.
Runs go through scripts/sweep.py (resumable; one folder per pair, <loss>@alpha=..,beta=..),
then reports/selection.py writes <out>/tables/<dataset>_selection.md. Reduced-scale runs are
labelled as such in the table's title.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository root holds the packages
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli import HelpFormatter  # noqa: E402

PAPER_GRID = ["loss.alpha=0.1,1,10", "loss.beta=0.1,1,10,100"]  # spec §4.1
HELD_OUT = 0.2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    p.add_argument("--dataset", required=True, help="mnist, cifar10 or cifar100")
    p.add_argument("--losses", default="nce+rce", help="comma list of APL losses")
    p.add_argument("--kinds", default="sym", help="sym, asym or sym,asym")
    p.add_argument("--sym-rates", default="0.4", help="comma list")
    p.add_argument("--asym-rates", default="0.4", help="comma list")
    p.add_argument("--seeds", default="0", help="comma list of training seeds")
    p.add_argument(
        "--grid",
        action="append",
        metavar="KEY=V1,V2",
        help="the grid (repeatable; unset: the paper's alpha x beta)",
    )
    p.add_argument("--epochs", type=int, help="reduced scale: train.epochs")
    p.add_argument("--train-subset", type=int, help="reduced scale: training samples")
    p.add_argument("--data-root", help="dataset root (unset: the configs' data/)")
    p.add_argument(
        "--recipe",
        help="the recipe to train and report (unset: the configs' default, MNIST: release); "
        "the table never mixes runs of two recipes",
    )
    p.add_argument("--out", default="runs/select", help="runs root")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel")
    p.add_argument("--set", nargs="*", default=[], help="extra train.py --set overrides")
    p.add_argument("--report-only", action="store_true", help="only write the table")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    grid = args.grid or PAPER_GRID
    keys = [item.partition("=")[0] for item in grid]
    from scripts import sweep

    sweep_argv = [
        "--dataset",
        args.dataset,
        "--losses",
        args.losses,
        "--kinds",
        args.kinds,
        "--sym-rates",
        args.sym_rates,
        "--asym-rates",
        args.asym_rates,
        "--seeds",
        args.seeds,
        "--out",
        args.out,
        "--jobs",
        str(args.jobs),
        *[a for item in grid for a in ("--grid", item)],
        "--set",
        f"dataset.noisy_val_fraction={HELD_OUT}",
        *args.set,
    ]
    sweep_argv += ["--epochs", str(args.epochs)] if args.epochs else []
    sweep_argv += ["--train-subset", str(args.train_subset)] if args.train_subset else []
    sweep_argv += ["--data-root", args.data_root] if args.data_root else []
    sweep_argv += ["--recipe", args.recipe] if args.recipe else []
    if not args.report_only:
        code = sweep.main(sweep_argv)
        if code not in (0, 1):
            return code
    return report(args, keys)


def report(args, keys: list[str]) -> int:
    from engine.experiment import load_config
    from engine.record import walk_runs
    from reports.cells import default_recipe
    from reports.output import OutputFolder, ReportError
    from reports.selection import selection_table

    root = Path(__file__).resolve().parents[1] / "configs" / args.dataset

    def config_values(kind, loss):
        cfg = load_config(root / kind / f"{loss}.yaml", overrides={"recipe": recipe})
        return tuple(cfg.get(k) for k in keys)

    recipe = args.recipe or default_recipe(args.dataset)
    records = [
        r
        for r in walk_runs(args.out, args.dataset)
        if r.config.get("dataset.noisy_val_fraction") == HELD_OUT and r.recipe == recipe
    ]
    scale = ", ".join(
        part
        for part in (
            args.epochs and f"{args.epochs} epochs",
            args.train_subset and f"{args.train_subset} training samples",
        )
        if part
    )
    title = (
        f"{args.dataset}: the paper's selection protocol ({HELD_OUT:.0%} of the noisy "
        f"training set held out, chosen on its last-epoch noisy accuracy; test never "
        f"chooses), recipe {recipe}" + (f" — REDUCED SCALE: {scale}" if scale else "")
    )
    try:
        written = selection_table(
            records,
            keys,
            config_values,
            OutputFolder(Path(args.out) / "tables", overwrite=False),
            f"{args.dataset}_selection",
            title,
        )
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        "\n".join(map(str, written)) or f"no finished runs with a held-out split under {args.out}"
    )
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
