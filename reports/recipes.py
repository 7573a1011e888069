"""Which recipe explains a published cell: published | each code under each recipe | verdict,
one figure per cell with every curve, and a count over cells.

A recipe "explains" a cell when the runs under it land inside the published mean ± 2 std
(± 1 point where the published std is below 0.5: reports/published.py `outside`), for every
code that ran it. Columns come from the run roots (engine/record.py, one folder per recipe:
<loss> for the paper-era recipe, <loss>@<recipe> for another); a column with no run here may be
filled from an earlier side-by-side table (`earlier`: the CSV scripts/compare_official.py
writes), marked as such, without curves.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from engine.config import PAPER_RECIPE
from engine.record import setting_text
from engine.settle import at_level, read_settled

from .figures import new_axes, save_figure
from .output import OutputFolder
from .published import load_published, outside, tolerance
from .side_by_side import collect, summarise, top1

CODES = (("official", "authors' code"), ("ours", "this project"))
COLOURS = {"official": "tab:orange", "ours": "tab:blue"}
RECIPE_STYLES = ("--", "-", ":", "-.")


def segment(loss: str, recipe: str) -> str:
    return loss if recipe == PAPER_RECIPE else f"{loss}@{recipe}"


def read_earlier(path: Path | None) -> dict:
    """{(kind, setting, loss): {"official"/"ours": (mean, std, n)}} from an earlier table."""
    if path is None or not Path(path).is_file():
        return {}
    rows = {}
    for r in csv.DictReader(Path(path).read_text().splitlines()):
        key = (r["kind"], setting_text(r["setting"]), r["loss"])
        rows[key] = {
            code: (float(r[f"{code}_mean"]), float(r[f"{code}_std"]), int(r[f"{code}_n"]))
            for code, _ in CODES
            if r.get(f"{code}_mean")
        }
    return rows


def column(runs: list, earlier) -> dict | None:
    """A cell's column: the runs here, else the earlier table's value (no curves)."""
    if runs:
        short = [r for r in runs if not (r.finished and r.epochs_run >= r.schedule_epochs)]
        settled = [read_settled(r.folder) for r in short]
        summary = {**summarise(runs), "runs": runs, "earlier": False, "settled": settled}
        # a run stopped after settling at the constant predictor's level has its last value;
        # one stopped short for any other reason decides nothing
        summary["decided"] = summary["complete"] or bool(settled and all(settled))
        return summary
    if earlier is not None:
        mean, std, n = earlier
        return {
            "mean": mean,
            "std": std,
            "n": n,
            "complete": True,
            "decided": True,
            "runs": [],
            "earlier": True,
        }
    return None


def explains(columns: list, published) -> bool | None:
    """True when every code's decided runs (finished, or stopped after settling) under a recipe
    land inside the published band; None when no decided run (or nothing published) can tell."""
    done = [c for c in columns if c is not None and c["decided"]]
    if not done or published is None:
        return None
    return not any(outside(c["mean"], published) for c in done)


def answered(by_recipe: dict) -> dict:
    """The recipes whose runs can tell (explains() is not None), with their answer."""
    return {recipe: answer for recipe, answer in by_recipe.items() if answer is not None}


def verdict(by_recipe: dict, running: tuple = ()) -> str:
    """The cell's verdict; `running` names the recipes with a run still going (their finished
    seeds wait for it: a cell is judged on all of its seeds at once)."""
    said = answered(by_recipe)
    if not said:
        return "still running" if running else "not yet run"
    yes = [r for r, a in said.items() if a]
    no = [r for r, a in said.items() if not a]
    text = (
        f"{' and '.join(yes)} explain{'s' if len(yes) == 1 else ''}"
        if yes
        else "no recipe explains it"
    )
    if yes and no:
        text += f"; {' and '.join(no)} not"
    notes = [
        f"{r}: {'still running' if r in running else 'not run'}" for r in by_recipe if r not in said
    ] + [f"{r}: more runs still going" for r in running if r in said]
    return text + (f" ({', '.join(notes)})" if notes else "")


def still_running(columns: list) -> bool:
    """Some code has runs under this recipe that are neither finished nor stopped settled."""
    return any(c is not None and c["runs"] and not c["decided"] for c in columns)


def build_rows(roots: dict, dataset: str, cells: list, recipes: list, earlier: dict) -> list:
    published = load_published(dataset)
    found = {
        (code, r): collect(root, dataset, recipe=r) for code, root in roots.items() for r in recipes
    }
    rows = []
    for kind, setting, loss in cells:
        pub = published.get(kind, {}).get(loss, {}).get(float(setting))
        columns, answers, running = {}, {}, []
        for recipe in recipes:
            for code, _ in CODES:
                runs = found[(code, recipe)].get((kind, setting, segment(loss, recipe)), [])
                old = (
                    earlier.get((kind, setting, loss), {}).get(code)
                    if recipe == PAPER_RECIPE
                    else None
                )
                columns[(recipe, code)] = column(runs, old)
            answers[recipe] = explains([columns[(recipe, c)] for c, _ in CODES], pub)
            if still_running([columns[(recipe, c)] for c, _ in CODES]):
                running.append(recipe)
        rows.append(
            {
                "kind": kind,
                "setting": setting,
                "loss": loss,
                "published": pub,
                "columns": columns,
                "explains": answers,
                "verdict": verdict(answers, tuple(running)),
            }
        )
    return rows


def fmt(c: dict | None) -> str:
    if c is None:
        return "–"
    text = f"{c['mean']:.2f}" + ("" if math.isnan(c["std"]) else f"±{c['std']:.2f}")
    text += f" (n={c['n']})"
    if not c["complete"]:
        settled = c.get("settled") or []
        state = (
            f"stopped: settled at {settled[0]['level']:g} by epoch {max(m['epoch'] for m in settled)}"
            if settled and all(settled)
            else "running"
        )
        text += f" [epoch {c['epochs']}/{c['schedule']}, {state}]"
    return text + (" ‡" if c["earlier"] else "")


def write_table(rows: list, recipes: list, out: OutputFolder, name: str, title: str) -> list:
    heads = [f"{label}, {recipe}" for recipe in recipes for _, label in CODES]
    md = [
        f"### {title}",
        "",
        "| noise | loss | published | " + " | ".join(heads) + " | verdict |",
        "|---|---|---|" + "---|" * len(heads) + "---|",
    ]
    buffer = io.StringIO()
    w = csv.writer(buffer)
    w.writerow(
        ["kind", "setting", "loss", "published_mean", "published_std"]
        + [
            f"{code}_{recipe}_{x}"
            for recipe in recipes
            for code, _ in CODES
            for x in ("mean", "std", "n", "complete")
        ]
        + ["verdict"]
    )
    for r in rows:
        p = r["published"]
        pub = "–" if p is None else f"{p[0]:.2f}" + ("" if p[1] is None else f"±{p[1]:.2f}")
        cells = [r["columns"][(recipe, code)] for recipe in recipes for code, _ in CODES]
        md.append(
            f"| {r['kind']} {r['setting']} | {r['loss']} | {pub} | "
            + " | ".join(fmt(c) for c in cells)
            + f" | {r['verdict']} |"
        )
        w.writerow(
            [r["kind"], r["setting"], r["loss"], *(p or [None, None])]
            + [
                x
                for c in cells
                for x in (
                    (None,) * 4
                    if c is None
                    else (f"{c['mean']:.4f}", f"{c['std']:.4f}", c["n"], c["complete"])
                )
            ]
            + [r["verdict"]]
        )
    md += ["", "‡ measured in an earlier session (its side-by-side table); no run here, no curve."]
    md += ["", conclusion(rows, recipes)]
    return [
        out.write_text(f"{name}.md", "\n".join(md) + "\n"),
        out.write_text(f"{name}.csv", buffer.getvalue()),
    ]


def conclusion(rows: list, recipes: list) -> str:
    counts = {recipe: sum(1 for r in rows if r["explains"][recipe]) for recipe in recipes}
    decided = {recipe: sum(recipe in answered(r["explains"]) for r in rows) for recipe in recipes}
    parts = [
        f"{recipe} explains {counts[recipe]} of the {decided[recipe]} cells it was run on"
        for recipe in recipes
    ]
    # a cell that some recipe ran and none explains (one not run under a recipe may still be)
    neither = [
        f"{r['kind']} {r['setting']} {r['loss']}"
        for r in rows
        if (said := answered(r["explains"])) and not any(said.values())
    ]
    return (
        "**Count.** "
        + "; ".join(parts)
        + "."
        + (f" Explained by no recipe that ran it: {', '.join(neither)}." if neither else "")
    )


def figure(row: dict, recipes: list, out: OutputFolder, dataset: str) -> list:
    """Every run's test curve of one cell: colour = code, line style = recipe."""
    drawn = [
        (recipe, code, r)
        for recipe in recipes
        for code, _ in CODES
        for r in (row["columns"][(recipe, code)] or {}).get("runs", [])
    ]
    if not drawn:
        return []
    fig, ax = new_axes((5.6, 3.8))
    for recipe, code, run in drawn:
        curve = [x["test_top1"] for x in run.rows]
        ax.plot(
            range(1, len(curve) + 1),
            curve,
            color=COLOURS[code],
            ls=RECIPE_STYLES[recipes.index(recipe) % len(RECIPE_STYLES)],
            label=f"{dict(CODES)[code]}, {recipe}, seed {run.where.seed} ({top1(run):.2f})",
            alpha=0.9,
        )
    for recipe in recipes:
        old = row["columns"][(recipe, "official")]
        if old is not None and old["earlier"]:
            ax.axhline(
                old["mean"],
                color=COLOURS["official"],
                lw=0.8,
                ls=":",
                label=f"authors' code, {recipe}, earlier session ({old['mean']:.2f})",
            )
    if row["published"] is not None:
        m, s = row["published"]
        width = tolerance(row["published"])
        label = f"published {m:.2f}" + ("" if s is None else f"±{s:.2f}")
        if width is not None:  # shade the band the verdict uses, not ± 1 std
            ax.axhspan(m - width, m + width, color="grey", alpha=0.25)
            label += f" (shaded: ±{width:.2f}, the verdict's band)"
        ax.axhline(m, color="grey", lw=1, label=label)
    stem = f"{dataset}_{row['kind']}_{row['setting']}_{row['loss']}_recipes"
    return save_figure(
        fig,
        out,
        stem,
        "epoch",
        "test top-1 (%)",
        f"{dataset} {row['kind']} {row['setting']} {row['loss'].upper()}",
    )


def write_all(
    ours,
    official,
    dataset: str,
    cells: list,
    recipes: list,
    out: OutputFolder,
    earlier: Path | None = None,
    figures: bool = True,
    name: str | None = None,
) -> list:
    rows = build_rows(
        {"ours": ours, "official": official}, dataset, cells, recipes, read_earlier(earlier)
    )
    title = (
        f"{dataset}: which recipe explains each published cell (last-epoch test top-1, "
        f"mean ± std over seeds, ddof 0; recipes: {', '.join(recipes)})"
    )
    written = write_table(rows, recipes, out, name or f"{dataset}_recipes", title)
    if figures:
        for row in rows:
            written += figure(row, recipes, out, dataset)
    return written


def collapse_epoch(rows: list, level: float = 11.35) -> int | None:
    """The first epoch from which the test accuracy stays at `level` (the constant-predictor
    accuracy: 11.35 % on MNIST, every image called class 1) to the last epoch run."""
    epoch = None
    for row in rows:
        epoch = (epoch or row["epoch"]) if at_level(row["test_top1"], level) else None
    return epoch


def factor_table(records, out: OutputFolder, name: str, title: str) -> list:
    """One row per run of a factor study: what it changed (its variant), how far it ran, its
    last and peak accuracy, and the epoch it collapsed to 11.35 (if it did). A run stopped
    after settling at 11.35 is marked so (a collapse does not come back)."""
    lines = [
        f"### {title}",
        "",
        "| noise | loss | setting (variant) | weight decay | Nesterov | loss params | epochs run "
        "| last | peak (epoch) | collapsed to 11.35 from epoch |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(records, key=lambda r: (r.where.kind, r.where.setting, r.where.loss)):
        cfg, rows = r.config, r.rows
        peak = max(rows, key=lambda x: x["test_top1"])
        params = ", ".join(
            f"{k[5:]}={v:g}"
            for k, v in sorted(cfg.items())
            if k.startswith("loss.")
            and isinstance(v, int | float)  # --set loss.beta=100 records an int
            and not isinstance(v, bool)
            and k in ("loss.scale", "loss.alpha", "loss.beta")
        )
        collapsed = collapse_epoch(rows)
        state = (
            ""
            if r.finished
            else (" (stopped: settled)" if read_settled(r.folder) else f" ({r.status})")
        )
        lines.append(
            f"| {r.where.kind} {r.where.setting} | {r.loss} | {r.variant or 'paper'} | "
            f"{cfg.get('optim.weight_decay'):g} | {'yes' if cfg.get('optim.nesterov') else 'no'} "
            f"| {params or '–'} | {len(rows)}/{cfg.get('train.epochs')}{state} | "
            f"{rows[-1]['test_top1']:.2f} | {peak['test_top1']:.2f} ({peak['epoch']}) | "
            f"{collapsed or 'no'} |"
        )
    return [out.write_text(f"{name}.md", "\n".join(lines) + "\n")] if records else []
