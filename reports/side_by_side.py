"""Three columns per cell: published | the authors' code, run here | this project, with a
verdict, and both codes' per-epoch curves in one figure per cell.

Both run roots use engine/record.py's layout (this project's runs from train.py or the sweep,
the authors' from scripts/official_apl.py). A cell is the last-epoch test top-1, mean ± std
(ddof 0) over the seeds that ran. Verdicts:

  all agree                        this project ≈ the authors' code ≈ published
  project = authors' ≠ published   both codes agree with each other, not with the paper's
                                   table: the published value does not follow from the
                                   released code on current libraries
  project ≠ authors'               the two codes disagree: a fidelity question for this project
  configs differ: <keys>           the two sides (or two runs of one side) trained different
                                   settings: not compared
  partial                          a run has not finished its schedule (epochs shown)
  no authors' run / no project run

"≈" between the codes: a two-sample test at about 95 %: the gap between the two means is within
2·σ·sqrt(1/n_ours + 1/n_authors) (at least 1 point), where σ, the seed-to-seed spread of the
cell's last-epoch accuracy, is the largest of each code's std over its seeds (when it has two
or more), the published std over the paper's seeds, and 0.5 points. With one seed per code
the published std is the only estimate of that spread there is.
"≈ published": inside the published mean ± 2 std (± 1 point where the published std is below
0.5), as in the paper tables.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from collections import defaultdict

from engine.record import identity_diff, walk_runs

from .cells import mean_std
from .figures import figure_codes
from .output import OutputFolder
from .published import load_published, outside

MIN_SPREAD, MIN_TOLERANCE = 0.5, 1.0  # points; see the module docstring


def collect(
    root,
    dataset: str,
    seeds: set | None = None,
    losses: set | None = None,
    recipe: str | None = None,
) -> dict:
    """{(kind, setting, loss[@variant]): [RunRecord]}: every run with an epoch done, finished
    or not (shown as partial); only `seeds` / `losses` / `recipe` when given."""
    cells = defaultdict(list)
    for record in walk_runs(root, dataset):
        w = record.where
        if (
            (seeds is not None and int(w.seed) not in seeds)
            or (losses and record.loss not in losses)
            or (recipe is not None and record.recipe != recipe)
            or not record.rows
        ):
            continue
        cells[(w.kind, w.setting, w.loss)].append(record)
    return cells


def paired(ours: dict, theirs: dict) -> tuple[dict, dict]:
    """Each cell that both codes ran keeps only the seeds both ran (the same noisy labels in
    both columns); a cell only one code ran is kept whole; a cell with no seed in common is
    left out, and says so on stderr."""
    ours, theirs = dict(ours), dict(theirs)
    for key in sorted(set(ours) & set(theirs)):
        common = {r.where.seed for r in ours[key]} & {r.where.seed for r in theirs[key]}
        if not common:
            print(
                f"--paired: {' '.join(key)} has no seed both codes ran; left out", file=sys.stderr
            )
            del ours[key], theirs[key]
            continue
        ours[key] = [r for r in ours[key] if r.where.seed in common]
        theirs[key] = [r for r in theirs[key] if r.where.seed in common]
    return ours, theirs


def top1(record) -> float:
    return record.result["last"]["test_top1"] if record.result else record.rows[-1]["test_top1"]


def summarise(runs: list) -> dict | None:
    if not runs:
        return None
    mean, std = mean_std([top1(r) for r in runs], ddof=0)
    return {
        "mean": mean,
        "std": std,
        "n": len(runs),
        "complete": all(r.finished and r.epochs_run >= r.schedule_epochs for r in runs),
        "epochs": min(r.epochs_run for r in runs),
        "schedule": max(r.schedule_epochs for r in runs),
    }


def config_differences(ours: list, theirs: list) -> list[str]:
    """The identity keys on which any two runs of the cell (either side) differ."""
    runs = ours + theirs
    return sorted(
        {d.split(":", 1)[0] for r in runs[1:] for d in identity_diff(runs[0].config, r.config)}
    )


def codes_agree(ours: dict, theirs: dict, published) -> bool:
    spreads = [x["std"] for x in (ours, theirs) if x["n"] >= 2]
    spreads += [published[1]] if published is not None and published[1] is not None else []
    sigma = max([MIN_SPREAD] + spreads)
    tolerance = max(MIN_TOLERANCE, 2 * sigma * math.sqrt(1 / ours["n"] + 1 / theirs["n"]))
    return abs(ours["mean"] - theirs["mean"]) <= tolerance


def verdict(ours: dict | None, theirs: dict | None, published, differences=()) -> str:
    if ours is None:
        return "no project run"
    if theirs is None:
        return "no authors' run"
    if differences:
        return f"configs differ: {', '.join(differences)}"
    if not (ours["complete"] and theirs["complete"]):
        return "partial"
    if not codes_agree(ours, theirs, published):
        return "project ≠ authors'"
    if published is None:
        return "project = authors' (nothing published)"
    if outside(ours["mean"], published) or outside(theirs["mean"], published):
        return "project = authors' ≠ published"
    return "all agree"


def fmt(summary: dict | None) -> str:
    if summary is None:
        return "–"
    text = f"{summary['mean']:.2f}" + (
        "" if math.isnan(summary["std"]) else f"±{summary['std']:.2f}"
    )
    text += f" (n={summary['n']})"
    if not summary["complete"]:
        text += f" [epoch {summary['epochs']}/{summary['schedule']}]"
    return text


def build_rows(ours: dict, theirs: dict, published: dict) -> list[dict]:
    rows = []
    for key in sorted(set(ours) | set(theirs)):
        kind, setting, loss = key
        pub = published.get(kind, {}).get(loss.split("@")[0], {}).get(float(setting))
        a, b = summarise(ours.get(key, [])), summarise(theirs.get(key, []))
        differences = config_differences(ours.get(key, []), theirs.get(key, []))
        rows.append(
            {
                "kind": kind,
                "setting": setting,
                "loss": loss,
                "published": pub,
                "official": b,
                "ours": a,
                "verdict": verdict(a, b, pub, differences),
            }
        )
    return rows


def write_report(rows: list[dict], out: OutputFolder, dataset: str, name: str) -> list:
    md = [
        f"### {dataset}: published | the authors' code, run here | this project "
        f"(last-epoch test top-1, mean ± std over seeds, ddof 0)",
        "",
        "| noise | loss | published | authors' code | this project | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r["published"]
        pub = "–" if p is None else f"{p[0]:.2f}" + ("" if p[1] is None else f"±{p[1]:.2f}")
        md.append(
            f"| {r['kind']} {r['setting']} | {r['loss']} | {pub} | {fmt(r['official'])} | "
            f"{fmt(r['ours'])} | {r['verdict']} |"
        )
    buffer = io.StringIO()
    w = csv.writer(buffer)
    w.writerow(
        [
            "kind",
            "setting",
            "loss",
            "published_mean",
            "published_std",
            "official_mean",
            "official_std",
            "official_n",
            "official_epochs",
            "ours_mean",
            "ours_std",
            "ours_n",
            "ours_epochs",
            "verdict",
        ]
    )
    for r in rows:
        cols = []
        for s in (r["official"], r["ours"]):
            cols += (
                [None] * 4
                if s is None
                else [f"{s['mean']:.4f}", f"{s['std']:.4f}", s["n"], s["epochs"]]
            )
        w.writerow(
            [
                r["kind"],
                r["setting"],
                r["loss"],
                *(r["published"] or [None, None]),
                *cols,
                r["verdict"],
            ]
        )
    return [
        out.write_text(f"{name}.md", "\n".join(md) + "\n"),
        out.write_text(f"{name}.csv", buffer.getvalue()),
    ]


def figure_cell(
    ours: list, theirs: list, published, out: OutputFolder, dataset: str, key: tuple
) -> list:
    kind, setting, loss = key
    sides = [
        (label, colour, [(r.where.seed, [row["test_top1"] for row in r.rows]) for r in runs])
        for runs, label, colour in (
            (theirs, "authors' code", "tab:orange"),
            (ours, "this project", "tab:blue"),
        )
    ]
    return figure_codes(
        out,
        f"{dataset}_{kind}_{setting}_{loss}_side_by_side",
        f"{dataset} {kind} {setting} {loss.upper()}",
        sides,
        published,
    )


def write_all(
    runs,
    official_runs,
    dataset: str,
    out: OutputFolder,
    figures: bool = True,
    losses: set | None = None,
    seeds: set | None = None,
    pair: bool = False,
    recipe: str | None = None,
    name: str | None = None,
) -> list:
    """`losses`/`seeds`/`recipe`: only those runs; `pair`: per cell, only the seeds both codes
    ran (either way both columns average the same noisy labels)."""
    ours = collect(runs, dataset, seeds, losses, recipe)
    theirs = collect(official_runs, dataset, seeds, losses, recipe)
    if pair:
        ours, theirs = paired(ours, theirs)
    if not theirs:
        print(f"no runs of the authors' code under {official_runs}/{dataset}", file=sys.stderr)
        return []
    published = load_published(dataset)
    rows = build_rows(ours, theirs, published)
    written = write_report(rows, out, dataset, name or f"{dataset}_side_by_side")
    if figures:
        for r in rows:
            key = (r["kind"], r["setting"], r["loss"])
            written += figure_cell(
                ours.get(key, []), theirs.get(key, []), r["published"], out, dataset, key
            )
    return written
