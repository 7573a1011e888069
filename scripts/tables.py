#!/usr/bin/env python
"""Collect a sweep's run directory into paper-style tables and figures, next to the published
numbers.

    python scripts/tables.py --runs runs/paper --dataset mnist --out docs/results
    python scripts/tables.py --runs runs/paper --dataset cifar10 --kinds sym --ddof 1 --figures

Reads <runs>/<dataset>/<kind>/<rate>/<loss>/seed*/result.json (written by train.py, in the
layout of engine/rundir.py run_path), each run's setting taken from its own
result.json["config"] (from the path for runs that saved none). A table has one row per loss
and one column per noise rate; a cell is the mean ± std over seeds of the
last-epoch clean test top-1 (the paper's protocol). --protocol best_test uses the best epoch
selected on the test set (flagged as optimistic); --protocol best_noisy_val the epoch selected
on the held-out noisy validation split (runs with dataset.noisy_val_fraction > 0). The std is
the population std (ddof 0, as in the authors' notebook) unless --ddof 1. The published value
from docs/published.yaml stands beside each cell with the difference; "!" flags a cell outside
the published mean ± 2·std (± 1 point where the published std is below 0.5; never where no std
is published). "(n=k)" marks a cell with fewer seeds than --seeds. --published paper,newer
picks the published sources: the first is diffed and flagged, the others stand beside it as
"name mean" (PUBLISHED_SOURCES). A cell of reduced-scale runs (fewer epochs than the paper's
config, or a training subset) shows its scale, e.g. "{6/50 ep, 2000 train}", and its
difference is labelled "reduced scale" instead of being flagged. "(forced k)" counts runs
resumed with --force-resume (result.json 'resumes': part of them trained under another setting).
--official-runs adds the three-column table published | the authors' code | this project
(scripts/compare_official.py).
Writes <out>/<dataset>_<kind>.{md,tex,csv}, <out>/<dataset>_curves.md (each run's last and
peak epoch and the share of flipped labels it fits, unfinished runs included) and, with
--figures, PNG+PDF plots; <out> defaults
to <runs>/tables. Every file written is listed in <out>/.tables-written.json; a file there that
is not listed (e.g. a committed docs/results/ table) is never overwritten without --overwrite.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.cli import HelpFormatter  # noqa: E402
from engine.config import load_tree  # noqa: E402
from engine.rundir import finished_runs, read_metrics, run_path  # noqa: E402

PUBLISHED = ROOT / "docs" / "published.yaml"
PUBLISHED_NEWER = ROOT / "docs" / "published_newer.yaml"
# --published name -> (file, section of the file or None): docs/published_newer.yaml holds one
# section per source (scripts/extract_published.py --newer)
PUBLISHED_SOURCES = {"paper": (PUBLISHED, None),
                     "newer": (PUBLISHED_NEWER, "eps_softmax"),        # last epoch, mean of 3
                     "newer-best": (PUBLISHED_NEWER, "eps_softmax_best"),  # best epoch, CIFAR-N
                     "jal": (PUBLISHED_NEWER, "jal_summary")}          # unconfirmed summary
PROTOCOLS = {"last": ("last", "last-epoch test top-1 (the paper's protocol)"),
             "best_test": ("best_on_test", "best-epoch test top-1, SELECTED ON THE TEST SET "
                                           "(optimistic; not the paper's protocol)"),
             "best_noisy_val": ("best_on_noisy_val", "test top-1 at the epoch selected on a "
                                                     "held-out noisy validation split")}
# The paper's figure groups (spec §11.9), then APL against the later losses (docs/NEWER_LOSSES.md).
CURVE_GROUPS = [("ce", "nce"), ("fl", "nfl"), ("mae", "nmae"), ("rce", "nrce"),
                ("ce", "mae", "nce+rce", "nce+mae", "nfl+rce", "nfl+mae", "nfl+nce", "mae+rce"),
                ("nce+rce", "ce-eps+mae", "jal-ce", "anl-ce", "ldr-kl")]


MANIFEST = ".tables-written.json"


class TablesError(Exception):
    """A user error: printed as one line, exit 2."""


class OutputFolder:
    """The output folder, with a manifest of the files this script wrote there: those may be
    rewritten; any other existing file (a committed table, someone's notes) only with
    --overwrite."""

    def __init__(self, folder: Path, overwrite: bool):
        self.folder, self.overwrite = Path(folder), overwrite
        manifest = self.folder / MANIFEST
        self.written = set(json.loads(manifest.read_text())) if manifest.is_file() else set()

    def claim(self, name: str) -> Path:
        path = self.folder / name
        if path.exists() and name not in self.written and not self.overwrite:
            raise TablesError(f"{path} exists and was not written by scripts/tables.py (not in "
                              f"{self.folder / MANIFEST}); choose another --out, or pass "
                              f"--overwrite to replace it")
        self.folder.mkdir(parents=True, exist_ok=True)
        if name not in self.written:
            self.written.add(name)
            (self.folder / MANIFEST).write_text(json.dumps(sorted(self.written), indent=1))
        return path


class RunResult(NamedTuple):
    top1: float
    epochs: int | None        # trained epochs (None: not recorded)
    paper_epochs: int | None  # the epochs of the setting's config (the paper's recipe)
    subset: int | None        # dataset.train_subset
    forced: bool              # resumed with --force-resume (result.json 'resumes')

    @property
    def reduced(self) -> bool:
        fewer = None not in (self.epochs, self.paper_epochs) and self.epochs < self.paper_epochs
        return fewer or self.subset is not None


def collect(runs: Path, dataset: str, protocol: str = "last", losses=None) -> dict:
    """{kind: {loss: {rate: [RunResult per seed]}}} from every finished run (of `losses` only,
    when given)."""
    key = PROTOCOLS[protocol][0]
    table: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for _, data, run in finished_runs(runs, dataset):
        kind, rate, loss = run.kind, setting_key(run.setting), run.loss
        if losses and loss not in losses:
            continue
        if data.get(key) is None:  # e.g. no noisy validation split in this run
            continue
        table[kind][loss][rate].append(run_result(data, data[key]["test_top1"],
                                                  paper_epochs(dataset, kind, loss)))
    return table


def run_result(data: dict, top1: float, paper: int | None) -> RunResult:
    cfg = data.get("config", {})
    return RunResult(top1, cfg.get("train.epochs"), paper, cfg.get("dataset.train_subset"),
                     bool(data.get("forced_resume")))


def paper_epochs(dataset: str, kind: str, loss: str) -> int | None:
    """train.epochs of the setting's config (configs/<dataset>/<kind>/<loss>.yaml, or
    configs/<dataset>/<loss>.yaml for human noise); None where there is none."""
    for path in (ROOT / "configs" / dataset / kind / f"{loss}.yaml",
                 ROOT / "configs" / dataset / f"{loss}.yaml"):
        if path.is_file():
            return load_tree(path).get("train", {}).get("epochs")
    return None


def setting_key(text: str):
    """A noise rate ("0.4" -> 0.4) or a named label set of human noise ("worse")."""
    try:
        return float(text)
    except ValueError:
        return text


def mean_std(values, ddof: int):
    values = np.asarray(values, dtype=float)
    # one seed has no spread to report (ddof 0 would print a misleading 0.00)
    std = float(values.std(ddof=ddof)) if len(values) >= 2 else float("nan")
    return float(values.mean()), std


def outside(mean: float, published) -> bool:
    pub_mean, pub_std = published
    if pub_std is None:  # the source gives means only: no tolerance to test against
        return False
    tolerance = 2 * pub_std if pub_std >= 0.5 else 1.0
    return abs(mean - pub_mean) > tolerance


def load_published(dataset: str, source: str = "paper") -> dict:
    path, section = PUBLISHED_SOURCES[source]
    if not path.is_file():
        return {}
    doc = yaml.safe_load(path.read_text())
    return (doc.get(section, {}) if section else doc).get(dataset, {})


def add_other_sources(rows, others: dict) -> None:
    """Each cell gets "others": [(source, [mean, std])] from the sources after the first."""
    for loss, cells in rows:
        for rate, cell in cells.items():
            cell["others"] = [(name, table[loss][rate]) for name, table in others.items()
                              if rate in table.get(loss, {})]


def build_rows(measured: dict, published: dict, ddof: int, seeds: int):
    """Rows of dicts: loss, and per rate the measured/published/diff/flag/count."""
    losses = list(measured)
    losses += [loss for loss in published if loss not in measured]
    rates = sorted({r for by_rate in measured.values() for r in by_rate}, key=lambda r: (isinstance(r, str), r))
    rows = []
    for loss in losses:
        cells = {}
        for rate in rates:
            cells[rate] = build_cell(measured.get(loss, {}).get(rate, []),
                                     published.get(loss, {}).get(rate), ddof, seeds)
        if any(c["n"] for c in cells.values()):
            rows.append((loss, cells))
    return rates, rows


def build_cell(results: list, pub, ddof: int, seeds: int) -> dict:
    """One cell: measured mean/std over seeds beside the published value. Reduced-scale runs
    are compared only as such: their difference is shown, never flagged as a miss."""
    if not results:
        return {"n": 0, "published": pub}
    m, s = mean_std([r.top1 for r in results], ddof)
    reduced = any(r.reduced for r in results)
    return {"n": len(results), "mean": m, "std": s, "published": pub,
            "diff": None if pub is None else m - pub[0],
            "flag": pub is not None and not reduced and outside(m, pub),
            "short": len(results) < seeds, "reduced": reduced, "scale": scale_text(results),
            "forced": sum(r.forced for r in results)}


def scale_text(results: list) -> str:
    """"6/50 ep, 2000 train" for reduced-scale runs ("" at full scale); several values
    when the seeds of a cell differ."""
    if not any(r.reduced for r in results):
        return ""
    epochs = sorted({f"{r.epochs}/{r.paper_epochs}" if r.paper_epochs else f"{r.epochs}"
                     for r in results if r.epochs is not None})
    subsets = sorted({r.subset for r in results if r.subset is not None})
    parts = ([f"{','.join(epochs)} ep"] if epochs else []) + (
        [f"{','.join(map(str, subsets))} train"] if subsets else [])
    return ", ".join(parts)


def fmt_setting(r) -> str:
    return r if isinstance(r, str) else f"{r:g}"


def fmt_cell(c: dict, latex=False) -> str:
    if not c["n"]:
        return "–"
    pm = r"$\pm$" if latex else "±"
    std = "" if math.isnan(c["std"]) else f"{pm}{c['std']:.2f}"
    text = f"{c['mean']:.2f}{std}"
    if c["short"]:
        text += f" (n={c['n']})"
    if c["forced"]:
        text += f" (forced {c['forced']})"
    if c["reduced"]:
        text += r" \{" + c["scale"] + r"\}" if latex else " {" + c["scale"] + "}"
    parts = []
    if c["published"] is not None:
        p = c["published"]
        std = "" if p[1] is None else f"{pm}{p[1]:.2f}"
        verdict = " reduced scale" if c["reduced"] else "!" if c["flag"] else ""
        parts.append(f"{p[0]:.2f}{std}, {c['diff']:+.2f}{verdict}")
    parts += [f"{name} {value[0]:.2f}" for name, value in c.get("others", [])]
    return text + (f" [{'; '.join(parts)}]" if parts else "")


CSV_COLUMNS = ["loss", "rate", "n", "mean", "std", "published_mean", "published_std", "diff",
               "outside_published", "reduced_scale", "scale", "forced_resumes"]


def write_tables(out: OutputFolder, name: str, title: str, rates, rows) -> list[Path]:
    header = ["loss"] + [fmt_setting(r) for r in rates]
    md = [f"### {title}", "", "| " + " | ".join(header) + " |",
          "|" + "---|" * len(header)]
    md += ["| " + " | ".join([loss] + [fmt_cell(c[r]) for r in rates]) + " |" for loss, c in rows]
    tex = [r"\begin{tabular}{l" + "c" * len(rates) + "}", r"\toprule",
           " & ".join(header) + r" \\", r"\midrule"]
    tex += [" & ".join([loss.upper()] + [fmt_cell(c[r], latex=True) for r in rates]) + r" \\"
            for loss, c in rows]
    tex += [r"\bottomrule", r"\end{tabular}"]
    paths = [out.claim(f"{name}.md"), out.claim(f"{name}.tex"), out.claim(f"{name}.csv")]
    paths[0].write_text("\n".join(md) + "\n")
    paths[1].write_text(f"% {title}\n" + "\n".join(tex) + "\n")
    with open(paths[2], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        w.writerows(csv_row(loss, r, cells[r]) for loss, cells in rows for r in rates
                    if cells[r]["n"])
    return paths


def csv_row(loss: str, rate, c: dict) -> list:
    p = c["published"] or [None, None]
    return [loss, rate, c["n"], f"{c['mean']:.4f}", f"{c['std']:.4f}", p[0], p[1],
            None if c["diff"] is None else f"{c['diff']:.4f}", c["flag"], c["reduced"],
            c["scale"], c["forced"]]


def figure_vs_rate(out: OutputFolder, name: str, title: str, rates, rows) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 4))
    lines = 0
    for loss, cells in rows:
        xs = [r for r in rates if cells[r]["n"] and not isinstance(r, str)]
        if len(xs) < 2:
            continue
        lines += 1
        ax.errorbar(xs, [cells[r]["mean"] for r in xs],
                    yerr=[0 if math.isnan(cells[r]["std"]) else cells[r]["std"] for r in xs],
                    marker="o", capsize=2, label=loss.upper())
    if not lines:
        plt.close(fig)
        return []
    ax.set_xlabel("noise rate")
    ax.set_ylabel("last-epoch test top-1 (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, out, f"{name}_vs_rate")


def figure_curves(runs: Path, out: OutputFolder, dataset: str, kind: str, rate: float,
                  group: tuple, metric: str = "test_top1", title: str = "") -> list[Path]:
    """Test accuracy (or another metrics.jsonl column) against epoch, mean over seeds."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.6))
    plotted = []
    for loss in group:
        curves = []
        seeds = run_path(runs, dataset, kind, fmt_setting(rate), loss, "*")
        for metrics in sorted(seeds.parent.glob(f"{seeds.name}/metrics.jsonl")):
            rows = read_metrics(metrics)
            curves.append([r.get(metric) for r in rows])
        if not curves:
            continue
        length = min(map(len, curves))
        if any(v is None for c in curves for v in c[:length]):
            continue  # e.g. memorisation on a noise-free run
        mean = np.mean([c[:length] for c in curves], axis=0)
        # a line needs two epochs: shorter curves (1-epoch runs) would be invisible without
        # markers
        ax.plot(range(1, length + 1), mean, marker="o" if length < 10 else None,
                label=f"{loss.upper()} (n={len(curves)})")
        plotted.append(loss)
    if len(plotted) < 2:
        plt.close(fig)
        return []
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(title or f"{dataset} {kind} {fmt_setting(rate)}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    # named after the losses drawn, not the whole group (some may have no runs)
    return save_figure(fig, out, f"{dataset}_{kind}_{fmt_setting(rate)}_{'_'.join(plotted)}_{metric}")


def save_figure(fig, out: OutputFolder, stem: str) -> list[Path]:
    import matplotlib.pyplot as plt
    fig.tight_layout()
    paths = [out.claim(f"{stem}.png"), out.claim(f"{stem}.pdf")]  # stems contain dots (rates)
    fig.savefig(paths[0], dpi=110)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def noise_estimate_table(runs: Path, out: OutputFolder, dataset: str, losses=None) -> list[Path]:
    """Estimated against injected noise (result.json -> noise_estimate), one row per run."""
    lines = [f"### {dataset}: noise estimated from the final model (confident joint) vs injected",
             "", "in-sample: predictions on the training set the model fitted (memorised flips "
                 "look clean, so the rate is under-estimated); held-out: on the noisy "
                 "validation split", "",
             "| kind | setting | loss | seed | predictions on | injected rate | estimated rate | "
             "abs. error | transition MAE | transition max error |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    count = 0
    for _, data, run in finished_runs(runs, dataset):
        estimate = data.get("noise_estimate")
        if not estimate or (losses and run.loss not in losses):
            continue
        sample = "held-out" if estimate.get("out_of_sample") else "in-sample"
        lines.append(f"| {run.kind} | {run.setting} | {run.loss} | {run.seed} | {sample} "
                     f"| {estimate['injected_rate']:.4f} "
                     f"| {estimate['estimated_rate']:.4f} | {estimate['rate_abs_error']:.4f} | "
                     f"{estimate['transition_mean_abs_error']:.4f} | "
                     f"{estimate['transition_max_abs_error']:.3f} |")
        count += 1
    if not count:
        return []
    path = out.claim(f"{dataset}_noise_estimates.md")
    path.write_text("\n".join(lines) + "\n")
    return [path]


def curve_summary_table(runs: Path, out: OutputFolder, dataset: str, losses=None) -> list[Path]:
    """One row per run, finished or still running, from its metrics.jsonl: what a last-epoch cell
    hides (the peak, when it came, how much of the noise the last model fits)."""
    lines = [f"### {dataset}: each run's curve (metrics.jsonl)", "",
             "last = last epoch's test top-1 (unfinished: the epoch reached so far); peak = the "
             "best epoch, selected on the test set (optimistic); fits = % of the flipped "
             "training labels predicted as their noisy label at the last epoch", "",
             "| kind | setting | loss | seed | epochs | last | peak (epoch) | fits |",
             "|---|---|---|---|---|---|---|---|"]
    pattern = run_path("", dataset, "*", "*", "*", "*") / "metrics.jsonl"
    found = []
    for metrics in Path(runs).glob(str(pattern)):
        kind, setting, loss, seed = metrics.parts[-5:-1]
        rows = read_metrics(metrics)
        if rows and not (losses and loss not in losses):
            finished = (metrics.parent / "result.json").is_file()
            found.append(((kind, setting, loss, int(seed[len("seed"):])), rows, finished))
    for (kind, setting, loss, seed), rows, finished in sorted(found, key=lambda f: f[0]):
        last, peak = rows[-1], max(rows, key=lambda r: r["test_top1"])  # first epoch at the peak
        fits = last.get("mem_flipped_fit_noisy")
        lines.append(f"| {kind} | {setting} | {loss} | {seed} "
                     f"| {last['epoch']}{'' if finished else ' (unfinished)'} "
                     f"| {last['test_top1']:.2f} | {peak['test_top1']:.2f} ({peak['epoch']}) "
                     f"| {'-' if fits is None else f'{fits:.1f} %'} |")
    if not found:
        return []
    path = out.claim(f"{dataset}_curves.md")
    path.write_text("\n".join(lines) + "\n")
    return [path]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--runs", type=Path, default=Path("runs/paper"),
                   help="a sweep's output root (scripts/sweep.py --out)")
    p.add_argument("--dataset", required=True, help="dataset folder under --runs, e.g. mnist")
    p.add_argument("--kinds", default="sym,asym", help="noise kinds to tabulate (comma list)")
    p.add_argument("--protocol", choices=sorted(PROTOCOLS), default="last",
                   help="which epoch's test top-1 a run contributes")
    p.add_argument("--ddof", type=int, choices=(0, 1), default=0,
                   help="0: population std, as the authors' notebook (D23); 1: sample std")
    p.add_argument("--seeds", type=int, default=3, help="seeds expected per cell")
    p.add_argument("--out", type=Path,
                   help="output folder (unset: <runs>/tables, never a folder of the repository)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing files in --out that this script did not write")
    p.add_argument("--figures", action="store_true", help="also write PNG/PDF figures")
    p.add_argument("--official-runs", type=Path,
                   help="runs of the authors' code (scripts/official_apl.py --runs): adds the "
                        "three-column side-by-side table and figures (scripts/compare_official.py)")
    p.add_argument("--published", default="paper",
                   help=f"comma list of published sources ({', '.join(PUBLISHED_SOURCES)}); the "
                        f"first is diffed and flagged, the others are shown beside it")
    p.add_argument("--losses", help="comma list: only these losses' runs (default: every loss "
                                    "under --runs)")
    p.add_argument("--curve-metrics", default="test_top1,mem_flipped_fit_noisy",
                   help="metrics.jsonl columns plotted against epoch for the paper's loss groups "
                        "(mem_flipped_fit_noisy: %% of flipped samples fit to their noisy label)")
    return p


TITLE_NOTE = ("[published mean ± std, difference; ! = outside published mean ± 2 std, or ± 1 "
              "point where std < 0.5; reduced scale = fewer epochs than the paper or a training "
              "subset {epochs run/paper, training samples}: compared, not flagged]")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.losses = set(args.losses.split(",")) if args.losses else None
    measured_all = collect(args.runs, args.dataset, args.protocol, args.losses)
    if not measured_all:
        print(f"no finished runs under {args.runs / args.dataset}", file=sys.stderr)
        return 1
    sources = args.published.split(",")
    unknown = [s for s in sources if s not in PUBLISHED_SOURCES]
    if unknown:
        print(f"error: unknown --published source(s) {unknown}; choose from "
              f"{','.join(PUBLISHED_SOURCES)}", file=sys.stderr)
        return 2
    out = OutputFolder(args.out or args.runs / "tables", args.overwrite)
    try:
        for path in write_all(args, out, measured_all, sources):
            print(path)
    except TablesError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def write_all(args, out: OutputFolder, measured_all: dict, sources: list[str]) -> list[Path]:
    published = {s: load_published(args.dataset, s) for s in sources}
    written = []
    for kind in args.kinds.split(","):
        measured = measured_all.get(kind)
        if not measured:
            continue
        rates, rows = build_rows(measured, published[sources[0]].get(kind, {}), args.ddof,
                                 args.seeds)
        add_other_sources(rows, {s: published[s].get(kind, {}) for s in sources[1:]})
        name = f"{args.dataset}_{kind}" + ("" if args.protocol == "last" else f"_{args.protocol}")
        title = (f"{args.dataset} {kind}: {PROTOCOLS[args.protocol][1]}, mean ± std over seeds "
                 f"(ddof {args.ddof}); {TITLE_NOTE}; published: {', '.join(sources)}")
        written += write_tables(out, name, title, rates, rows)
        if args.figures:
            written += write_figures(args, out, kind, name, rates, rows)
    written += noise_estimate_table(args.runs, out, args.dataset, args.losses)
    written += curve_summary_table(args.runs, out, args.dataset, args.losses)
    if args.official_runs:
        from scripts.compare_official import write_all as write_side_by_side
        written += write_side_by_side(args.runs, args.official_runs, args.dataset, out,
                                      args.figures, args.losses)
    return written


def write_figures(args, out: OutputFolder, kind: str, name: str, rates, rows) -> list[Path]:
    title = f"{args.dataset} {kind}"
    written = figure_vs_rate(out, name, title + scale_label(rows, rates), rates, rows)
    for rate in rates:
        label = f"{title} {fmt_setting(rate)}" + scale_label(rows, [rate])
        for group in CURVE_GROUPS:
            group = tuple(loss for loss in group if not args.losses or loss in args.losses)
            for metric in args.curve_metrics.split(","):
                written += figure_curves(args.runs, out, args.dataset, kind, rate, group, metric,
                                         label)
    return written


def scale_label(rows, rates) -> str:
    """" (reduced scale: 6/120 ep, 8000 train)" when any plotted cell is reduced scale, so a
    figure carries the label as its table does."""
    scales = sorted({cells[r]["scale"] for _, cells in rows for r in rates
                     if cells[r]["n"] and cells[r]["reduced"]})
    return f" (reduced scale: {'; '.join(scales)})" if scales else ""


if __name__ == "__main__":
    sys.exit(main())
