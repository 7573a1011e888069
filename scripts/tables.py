#!/usr/bin/env python
"""Collect runs into paper-style tables and figures, next to the published numbers.

    python scripts/tables.py --runs runs/paper --dataset mnist --out docs/results
    python scripts/tables.py --runs runs/side/ours --dataset mnist --recipe release
    python scripts/tables.py --runs runs/select --dataset mnist --pivot loss.beta

Reads every run under <runs>/<dataset>/ (engine/record.py: each run's coordinates, config and
result from its own files). A table shows one recipe (--recipe; by default the one the
dataset's configs run, or else the only one the runs have) and has one row per loss (a variant
of it, e.g. "nce+rce [beta=1]", is a row of its own) and one
column per noise rate; a cell is the mean ± std over seeds of the last-epoch clean test top-1
(the paper's protocol). Runs of different configs never share a cell: such a cell is split
into rows named by the keys that differ, and a note under the table says so. --protocol
best_test uses the best epoch selected on the test set (flagged as optimistic);
best_noisy_val the epoch selected on the held-out noisy validation split. The std is the
population std (ddof 0, as in the authors' notebook) unless --ddof 1. The published value
stands beside each cell with the difference; "!" flags a cell outside the published mean ±
2·std (± 1 point where the published std is below 0.5; never where no std is published).
"(n=k)" marks a cell with fewer seeds than --seeds. A cell of reduced-scale runs (fewer epochs
trained than the setting's config, or a training subset) shows its scale, e.g. "{6/50 ep, 2000
train}", and is compared, not flagged. "(forced k)" counts runs resumed with --force-resume.
--pivot KEY: one table per noise setting with a column per value of KEY (a grid's axis).
--official-runs adds published | the authors' code | this project (reports/side_by_side.py).
Writes <out>/<dataset>_<kind>.{md,tex,csv}, <out>/<dataset>_curves.md, the noise estimates
and, with --figures, PNG+PDF plots; <out> defaults to <runs>/tables. A file in <out> that
this command did not write (e.g. a committed table) is never overwritten without --overwrite.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository root holds the packages
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli import HelpFormatter  # noqa: E402
from engine.config import PAPER_RECIPE  # noqa: E402
from engine.record import RecordError, walk_runs  # noqa: E402
from reports import cells as C  # noqa: E402
from reports import figures, side_by_side  # noqa: E402
from reports import tables as T  # noqa: E402
from reports.output import OutputFolder, ReportError  # noqa: E402
from reports.published import SOURCES, load_published  # noqa: E402

# The paper's figure groups (spec §11.9), then APL against the later losses (docs/NEWER_LOSSES.md).
CURVE_GROUPS = [
    ("ce", "nce"),
    ("fl", "nfl"),
    ("mae", "nmae"),
    ("rce", "nrce"),
    ("ce", "mae", "nce+rce", "nce+mae", "nfl+rce", "nfl+mae", "nfl+nce", "mae+rce"),
    ("nce+rce", "ce-eps+mae", "jal-ce", "anl-ce", "ldr-kl"),
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    p.add_argument(
        "--runs",
        type=Path,
        default=Path("runs/paper"),
        help="a runs root (train.py's runs/, scripts/sweep.py --out)",
    )
    p.add_argument("--dataset", required=True, help="dataset folder under --runs, e.g. mnist")
    p.add_argument("--kinds", default="sym,asym", help="noise kinds to tabulate (comma list)")
    p.add_argument(
        "--recipe",
        help="the recipe whose runs the tables show (default: the one the dataset's configs "
        "run, configs/base/<dataset>.yaml, or else the only one the runs have)",
    )
    p.add_argument(
        "--protocol",
        choices=sorted(C.PROTOCOLS),
        default="last",
        help="which epoch's test top-1 a run contributes",
    )
    p.add_argument(
        "--ddof",
        type=int,
        choices=(0, 1),
        default=0,
        help="0: population std, as the authors' notebook (D23); 1: sample std",
    )
    p.add_argument("--seeds", type=int, default=3, help="seeds expected per cell")
    p.add_argument(
        "--out",
        type=Path,
        help="output folder (unset: <runs>/tables, never a folder of the repository)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing files in --out that this command did not write",
    )
    p.add_argument("--figures", action="store_true", help="also write PNG/PDF figures")
    p.add_argument(
        "--pivot",
        metavar="KEY",
        help="a config key (e.g. loss.beta): one table per noise setting with a "
        "column per value of KEY, instead of the rate tables",
    )
    p.add_argument(
        "--official-runs",
        type=Path,
        help="runs of the authors' code (scripts/official_apl.py --runs): adds the "
        "three-column side-by-side table and figures",
    )
    p.add_argument(
        "--published",
        default="paper",
        help=f"comma list of published sources ({', '.join(SOURCES)}); the "
        f"first is diffed and flagged, the others are shown beside it",
    )
    p.add_argument(
        "--losses", help="comma list: only these losses' runs (default: every loss under --runs)"
    )
    p.add_argument(
        "--curve-metrics",
        default="test_top1,mem_flipped_fit_noisy",
        help="metrics.jsonl columns plotted against epoch for the paper's loss groups "
        "(mem_flipped_fit_noisy: %% of flipped samples fit to their noisy label)",
    )
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (ReportError, RecordError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def run(args) -> int:
    losses = set(args.losses.split(",")) if args.losses else None
    sources = args.published.split(",")
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ReportError(
            f"unknown --published source(s) {unknown}; choose from {','.join(SOURCES)}"
        )
    records = [r for r in walk_runs(args.runs, args.dataset) if not losses or r.loss in losses]
    args.recipe = C.table_recipe(records, args.dataset, args.recipe)
    notes: list[str] = []
    chosen = C.choose(records, args.recipe, notes=notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not chosen:
        print(
            f"no finished runs of recipe {args.recipe!r} under {args.runs / args.dataset}",
            file=sys.stderr,
        )
        return 1
    out = OutputFolder(args.out or args.runs / "tables", args.overwrite)
    for path in write_all(
        args, out, chosen, [r for r in records if r.recipe == args.recipe], sources, losses
    ):
        print(path)
    return 0


def write_all(args, out: OutputFolder, chosen: list, all_runs: list, sources: list, losses) -> list:
    if args.pivot:
        return T.pivot_table(
            chosen,
            args.pivot,
            args.ddof,
            out,
            f"{args.dataset}_pivot_{args.pivot}",
            f"{args.dataset}, recipe {args.recipe}: last-epoch test top-1 by "
            f"{args.pivot}, mean ± std over seeds (ddof {args.ddof})",
        )
    notes: list[str] = []
    measured_all = C.collect(chosen, args.protocol, notes)
    published = {s: load_published(args.dataset, s) for s in sources}
    written = []
    for kind in args.kinds.split(","):
        if not measured_all.get(kind):
            continue
        rates, rows = T.build_rows(
            measured_all[kind], published[sources[0]].get(kind, {}), args.ddof, args.seeds
        )
        T.add_other_sources(rows, {s: published[s].get(kind, {}) for s in sources[1:]})
        name = (
            f"{args.dataset}_{kind}"
            + ("" if args.recipe == PAPER_RECIPE else f"_{args.recipe}")
            + ("" if args.protocol == "last" else f"_{args.protocol}")
        )
        title = (
            f"{args.dataset} {kind}, recipe {args.recipe}: {C.PROTOCOLS[args.protocol][1]}, "
            f"mean ± std over seeds (ddof {args.ddof}); {T.TITLE_NOTE}; published: "
            f"{', '.join(sources)}"
        )
        kind_notes = [n for n in notes if n.startswith(f"{kind} ")]
        written += T.write_tables(out, name, title, rates, rows, kind_notes)
        if args.figures:
            written += write_figures(args, out, kind, name, rates, rows, chosen)
    written += T.noise_estimate_table(chosen, out, args.dataset)
    written += T.curve_summary_table(all_runs, out, args.dataset)
    if args.official_runs:
        written += side_by_side.write_all(
            args.runs,
            args.official_runs,
            args.dataset,
            out,
            args.figures,
            losses,
            recipe=args.recipe,
        )
    return written


def write_figures(args, out: OutputFolder, kind: str, name: str, rates, rows, chosen) -> list:
    by_cell = defaultdict(list)
    for record in chosen:
        by_cell[
            (record.where.kind, C.setting_key(record.where.setting), C.row_label(record))
        ].append(record)
    title = f"{args.dataset} {kind}"
    written = figures.figure_vs_rate(out, name, title + scale_label(rows, rates), rates, rows)
    for rate in rates:
        label = f"{title} {C.fmt_setting(rate)}" + scale_label(rows, [rate])
        stem = f"{args.dataset}_{kind}_{C.fmt_setting(rate)}"
        for group in CURVE_GROUPS:
            for metric in args.curve_metrics.split(","):
                curves = {
                    loss: T.curves_of(by_cell[(kind, rate, loss)], metric)
                    for loss in group
                    if by_cell.get((kind, rate, loss))
                }
                written += figures.figure_curves(out, stem, label, curves, metric)
    return written


def scale_label(rows, rates) -> str:
    """ " (reduced scale: 6/120 ep, 8000 train)" when any plotted cell is reduced scale, so a
    figure carries the label as its table does."""
    scales = sorted(
        {
            cells[r]["scale"]
            for _, cells in rows
            for r in rates
            if cells[r]["n"] and cells[r]["reduced"]
        }
    )
    return f" (reduced scale: {'; '.join(scales)})" if scales else ""


if __name__ == "__main__":
    sys.exit(main())
