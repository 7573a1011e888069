#!/usr/bin/env python
"""Three columns per cell: published | the authors' code, run here | this project, with a
verdict, and both codes' per-epoch curves in one figure per cell.

    python scripts/compare_official.py --runs runs/side/ours --official-runs runs/side/official \
        --dataset mnist --out docs/results/side_by_side
    (also: python scripts/tables.py ... --official-runs DIR)

Both run roots use the sweep layout <root>/<dataset>/<kind>/<rate>/<loss>/seed<S>/ (this
project's runs from scripts/sweep.py, the authors' from scripts/official_apl.py --runs). A cell
is the last-epoch test top-1, mean ± std (ddof 0) over the seeds that ran (--seeds: only the
named ones; --paired: per cell, only the seeds both codes ran, so that both means cover the
same noisy labels).
Verdicts:

  all agree                        this project ≈ the authors' code ≈ published
  project = authors' ≠ published   both codes agree with each other, not with the paper's
                                   table: the published value does not follow from the
                                   released code on current libraries
  project ≠ authors'               the two codes disagree: a fidelity question for this project
  partial                          a run has not finished its schedule (epochs shown)
  no authors' run / no project run

"≈" between the codes: a two-sample test at about 95 %: the gap between the two means is within
2·σ·sqrt(1/n_ours + 1/n_authors) (at least 1 point), where σ, the seed-to-seed spread of the
cell's last-epoch accuracy, is the largest of each code's std over its seeds (when it has two
or more), the published std over the paper's seeds, and 0.5 points. With one seed per code
the published std is the only estimate of that spread there is.
"≈ published": inside the published
mean ± 2 std (± 1 point where the published std is below 0.5), as in scripts/tables.py.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.rundir import read_metrics, result_coordinates, run_path  # noqa: E402
from scripts.tables import (OutputFolder, TablesError, load_published, mean_std,  # noqa: E402
                            outside, save_figure)

MIN_SPREAD, MIN_TOLERANCE = 0.5, 1.0   # points; see the module docstring
# one code's seeds share its colour; the line style tells them apart (the same seed, and so the
# same noisy labels, has the same style in both codes)
SEED_LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))


def collect_runs(root: Path, dataset: str, seeds: set | None = None) -> dict:
    """{(kind, setting, loss): [{seed, top1, epochs_run, schedule_epochs, metrics}]}: finished
    runs from result.json, runs still going or cut short from metrics.jsonl (shown as partial).
    `seeds`: only these seeds' runs (None: every seed)."""
    cells = defaultdict(list)
    pattern = run_path("", dataset, "*", "*", "*", "*") / "metrics.jsonl"
    for metrics in sorted(Path(root).glob(str(pattern))):
        run = read_run(metrics.parent)
        if run is not None:
            where = run.pop("where")
            if seeds is not None and int(where.seed) not in seeds:
                continue
            cells[(where.kind, where.setting, where.loss)].append(
                {"seed": where.seed, "metrics": metrics, **run})
    return cells


def paired(ours: dict, theirs: dict) -> tuple[dict, dict]:
    """Each cell that both codes ran keeps only the seeds both ran (the same noisy labels in
    both columns); a cell only one code ran is kept whole; a cell with no seed in common is
    left out, and says so on stderr."""
    ours, theirs = dict(ours), dict(theirs)
    for key in sorted(set(ours) & set(theirs)):
        common = {r["seed"] for r in ours[key]} & {r["seed"] for r in theirs[key]}
        if not common:
            print(f"--paired: {' '.join(key)} has no seed both codes ran; left out",
                  file=sys.stderr)
            del ours[key], theirs[key]
            continue
        ours[key] = [r for r in ours[key] if r["seed"] in common]
        theirs[key] = [r for r in theirs[key] if r["seed"] in common]
    return ours, theirs


def read_run(folder: Path) -> dict | None:
    rows = read_metrics(folder / "metrics.jsonl")
    if not rows:
        return None
    if (folder / "result.json").is_file():
        result = json.loads((folder / "result.json").read_text())
        epochs = result.get("epochs_run", result["last"]["epoch"])
        schedule = result.get("schedule_epochs",
                              result.get("config", {}).get("train.epochs", epochs))
        return {"top1": result["last"]["test_top1"], "epochs_run": epochs,
                "schedule_epochs": schedule,
                "where": result_coordinates(folder / "result.json", result)}
    config = yaml.safe_load((folder / "config.yaml").read_text()) if (
        folder / "config.yaml").is_file() else {}
    schedule = config.get("train", {}).get("epochs", len(rows) + 1)
    return {"top1": rows[-1]["test_top1"], "epochs_run": len(rows),
            "schedule_epochs": max(schedule, len(rows) + 1),   # no result.json: not finished
            "where": result_coordinates(folder / "result.json", {})}   # from the path


def summarise(runs: list[dict]) -> dict | None:
    if not runs:
        return None
    mean, std = mean_std([r["top1"] for r in runs], ddof=0)
    return {"mean": mean, "std": std, "n": len(runs),
            "complete": all(r["epochs_run"] >= r["schedule_epochs"] for r in runs),
            "epochs": min(r["epochs_run"] for r in runs),
            "schedule": max(r["schedule_epochs"] for r in runs)}


def codes_agree(ours: dict, theirs: dict, published) -> bool:
    spreads = [x["std"] for x in (ours, theirs) if x["n"] >= 2]
    spreads += [published[1]] if published is not None and published[1] is not None else []
    sigma = max([MIN_SPREAD] + spreads)
    tolerance = max(MIN_TOLERANCE, 2 * sigma * math.sqrt(1 / ours["n"] + 1 / theirs["n"]))
    return abs(ours["mean"] - theirs["mean"]) <= tolerance


def verdict(ours: dict | None, theirs: dict | None, published) -> str:
    if ours is None:
        return "no project run"
    if theirs is None:
        return "no authors' run"
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
    text = f"{summary['mean']:.2f}" + ("" if math.isnan(summary["std"]) else f"±{summary['std']:.2f}")
    text += f" (n={summary['n']})"
    if not summary["complete"]:
        text += f" [epoch {summary['epochs']}/{summary['schedule']}]"
    return text


def build_rows(ours: dict, theirs: dict, published: dict) -> list[dict]:
    rows = []
    for key in sorted(set(ours) | set(theirs)):
        kind, setting, loss = key
        pub = published.get(kind, {}).get(loss, {}).get(float(setting))
        a, b = summarise(ours.get(key, [])), summarise(theirs.get(key, []))
        rows.append({"kind": kind, "setting": setting, "loss": loss, "published": pub,
                     "official": b, "ours": a, "verdict": verdict(a, b, pub)})
    return rows


def write_report(rows: list[dict], out: OutputFolder, dataset: str) -> list[Path]:
    md = [f"### {dataset}: published | the authors' code, run here | this project "
          f"(last-epoch test top-1, mean ± std over seeds, ddof 0)", "",
          "| noise | loss | published | authors' code | this project | verdict |",
          "|---|---|---|---|---|---|"]
    for r in rows:
        pub = "–" if r["published"] is None else f"{r['published'][0]:.2f}±{r['published'][1]:.2f}"
        md.append(f"| {r['kind']} {r['setting']} | {r['loss']} | {pub} | {fmt(r['official'])} | "
                  f"{fmt(r['ours'])} | {r['verdict']} |")
    paths = [out.claim(f"{dataset}_side_by_side.md"), out.claim(f"{dataset}_side_by_side.csv")]
    paths[0].write_text("\n".join(md) + "\n")
    with open(paths[1], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kind", "setting", "loss", "published_mean", "published_std",
                    "official_mean", "official_std", "official_n", "official_epochs",
                    "ours_mean", "ours_std", "ours_n", "ours_epochs", "verdict"])
        for r in rows:
            p = r["published"] or [None, None]
            cols = []
            for s in (r["official"], r["ours"]):
                cols += ([None] * 4 if s is None else
                         [f"{s['mean']:.4f}", f"{s['std']:.4f}", s["n"], s["epochs"]])
            w.writerow([r["kind"], r["setting"], r["loss"], *p, *cols, r["verdict"]])
    return paths


def read_curve(metrics: Path) -> list[float]:
    return [row["test_top1"] for row in read_metrics(metrics)]


def figure_cell(ours: list[dict], theirs: list[dict], published, out: OutputFolder, dataset: str,
                key: tuple) -> list[Path]:
    """Test top-1 per epoch, one line per run of each code, the published value as a band."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    kind, setting, loss = key
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    seeds = sorted({int(r["seed"]) for r in ours + theirs})
    for runs, label, colour in ((theirs, "authors' code", "tab:orange"),
                                (ours, "this project", "tab:blue")):
        for r in runs:
            style = SEED_LINESTYLES[min(seeds.index(int(r["seed"])), len(SEED_LINESTYLES) - 1)]
            curve = read_curve(r["metrics"])
            ax.plot(range(1, len(curve) + 1), curve, color=colour, ls=style, marker="."
                    if len(curve) < 3 else None, label=f"{label}, seed {r['seed']}", alpha=0.9)
    if published is not None:
        m, s = published
        ax.axhspan(m - s, m + s, color="grey", alpha=0.25)
        ax.axhline(m, color="grey", ls="--", lw=1, label=f"published {m:.2f}±{s:.2f}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test top-1 (%)")
    ax.set_title(f"{dataset} {kind} {setting} {loss.upper()}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, out, f"{dataset}_{kind}_{setting}_{loss}_side_by_side")


def write_all(runs: Path, official_runs: Path, dataset: str, out: OutputFolder,
              figures: bool = True, losses: set | None = None,
              seeds: set | None = None, pair: bool = False) -> list[Path]:
    """`losses`: only these losses' cells (a sweep root may hold other losses' runs too);
    `seeds`: only these seeds' runs; `pair`: per cell, only the seeds both codes ran (either
    way both columns average the same noisy labels)."""
    ours, theirs = collect_runs(runs, dataset, seeds), collect_runs(official_runs, dataset, seeds)
    if pair:
        ours, theirs = paired(ours, theirs)
    if losses:
        ours = {k: v for k, v in ours.items() if k[2] in losses}
        theirs = {k: v for k, v in theirs.items() if k[2] in losses}
    if not theirs:
        print(f"no runs of the authors' code under {official_runs / dataset}", file=sys.stderr)
        return []
    published = load_published(dataset)
    rows = build_rows(ours, theirs, published)
    written = write_report(rows, out, dataset)
    if figures:
        for r in rows:
            key = (r["kind"], r["setting"], r["loss"])
            written += figure_cell(ours.get(key, []), theirs.get(key, []), r["published"], out,
                                   dataset, key)
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--runs", type=Path, required=True, help="this project's sweep root")
    p.add_argument("--official-runs", type=Path, required=True,
                   help="the authors' code's runs (scripts/official_apl.py --runs)")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--out", type=Path, required=True, help="where the table and figures go")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing files in --out that this script did not write")
    p.add_argument("--no-figures", action="store_true", help="the table only")
    p.add_argument("--losses", help="comma list: only these losses' cells (default: every loss "
                                    "either code has runs of)")
    p.add_argument("--seeds", help="comma list: only these seeds' runs, e.g. the seeds both codes "
                                   "ran, so each column averages the same noisy labels (default: "
                                   "every seed either code has)")
    p.add_argument("--paired", action="store_true",
                   help="per cell, only the seeds both codes ran (table and figures)")
    args = p.parse_args(argv)
    losses = set(args.losses.split(",")) if args.losses else None
    try:
        seeds = {int(s) for s in args.seeds.split(",")} if args.seeds else None
    except ValueError:
        raise SystemExit(f"error: --seeds {args.seeds!r}: give integers separated by commas, "
                         "e.g. --seeds 0,123") from None
    try:
        written = write_all(args.runs, args.official_runs, args.dataset,
                            OutputFolder(args.out, args.overwrite), not args.no_figures, losses,
                            seeds, args.paired)
    except TablesError as e:
        raise SystemExit(f"error: {e}") from None
    print("\n".join(map(str, written)))
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
