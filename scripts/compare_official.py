#!/usr/bin/env python
"""Published | the authors' code, run here | this project, per cell, with a verdict and both
codes' per-epoch curves (reports/side_by_side.py explains the verdicts).

    python scripts/compare_official.py --runs runs/side/ours --official-runs runs/side/official \
        --dataset mnist --out docs/results/side_by_side [--recipe release] [--paired]
    (also: python scripts/tables.py ... --official-runs DIR)

With --recipes paper,release: which recipe explains each published cell (reports/recipes.py):
published | each code under each recipe | verdict, a figure per cell with every curve, and
the count over cells; --cells kind:rate:loss,... picks the cells (in order), --earlier CSV
fills a paper-era column that has no run here from an earlier side-by-side table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository root holds the packages
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli import HelpFormatter  # noqa: E402
from engine.record import RecordError, setting_text  # noqa: E402
from reports.output import OutputFolder, ReportError  # noqa: E402
from reports.side_by_side import write_all  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    p.add_argument("--runs", type=Path, required=True, help="this project's runs root")
    p.add_argument(
        "--official-runs",
        type=Path,
        required=True,
        help="the authors' code's runs (scripts/official_apl.py --runs)",
    )
    p.add_argument("--dataset", default="mnist", help="dataset folder under both roots")
    p.add_argument("--out", type=Path, required=True, help="where the table and figures go")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing files in --out that this command did not write",
    )
    p.add_argument("--no-figures", action="store_true", help="the table only")
    p.add_argument(
        "--losses",
        help="comma list: only these losses' cells (default: every loss either code has runs of)",
    )
    p.add_argument(
        "--recipe",
        help="only runs of this recipe (default: every recipe; each variant is a cell of its own)",
    )
    p.add_argument(
        "--seeds",
        help="comma list: only these seeds' runs, e.g. the seeds both codes "
        "ran, so each column averages the same noisy labels (default: "
        "every seed either code has)",
    )
    p.add_argument(
        "--paired",
        action="store_true",
        help="per cell, only the seeds both codes ran (table and figures)",
    )
    p.add_argument(
        "--name",
        help="file name stem of the table (default: <dataset>_side_by_side, "
        "or <dataset>_recipes with --recipes)",
    )
    p.add_argument("--recipes", help="comma list, e.g. paper,release: the recipe report instead")
    p.add_argument(
        "--cells",
        help="with --recipes: comma list of kind:rate:loss, e.g. sym:0.8:ce,asym:0.4:nce+rce",
    )
    p.add_argument(
        "--factors",
        type=Path,
        help="with --recipes: a runs root of one-factor-at-a-time runs, tabulated one row per "
        "run (what it changed, last and peak accuracy, the epoch it collapsed)",
    )
    p.add_argument(
        "--earlier",
        type=Path,
        help="with --recipes: an earlier side-by-side CSV for paper-era columns with no run here",
    )
    return p


def parse_cells(text: str) -> list[tuple]:
    cells = []
    for item in text.split(","):
        parts = item.split(":")
        if len(parts) != 3:
            raise ReportError(f"--cells {item!r}: give kind:rate:loss, e.g. sym:0.8:ce")
        kind, rate, loss = parts
        try:
            rate = setting_text(rate)
        except ValueError:
            raise ReportError(f"--cells {item!r}: the rate {rate!r} is not a number") from None
        cells.append((kind, rate, loss))
    return cells


def recipe_report(args) -> list:
    from reports.recipes import write_all as write_recipes

    if not args.cells:
        raise ReportError("--recipes needs --cells kind:rate:loss,... (the cells to explain)")
    written = []
    if args.factors:
        from engine.record import walk_runs
        from reports.recipes import factor_table

        written = factor_table(
            list(walk_runs(args.factors, args.dataset)),
            OutputFolder(args.out, args.overwrite),
            f"{args.dataset}_factors",
            f"{args.dataset}: one factor at a time (this project; last-epoch test top-1)",
        )
    return written + write_recipes(
        args.runs,
        args.official_runs,
        args.dataset,
        parse_cells(args.cells),
        args.recipes.split(","),
        OutputFolder(args.out, args.overwrite),
        args.earlier,
        not args.no_figures,
        args.name,
    )


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    losses = set(args.losses.split(",")) if args.losses else None
    try:
        seeds = {int(s) for s in args.seeds.split(",")} if args.seeds else None
    except ValueError:
        print(
            f"error: --seeds {args.seeds!r}: give integers separated by commas, e.g. --seeds 0,123",
            file=sys.stderr,
        )
        return 2
    try:
        written = (
            recipe_report(args)
            if args.recipes
            else write_all(
                args.runs,
                args.official_runs,
                args.dataset,
                OutputFolder(args.out, args.overwrite),
                not args.no_figures,
                losses,
                seeds,
                args.paired,
                args.recipe,
                args.name,
            )
        )
    except (ReportError, RecordError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("\n".join(map(str, written)))
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
