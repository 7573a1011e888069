"""The paper-style tables: one row per loss (and variant), one column per noise rate, a cell
= mean ± std over seeds beside the published value; the pivot over any config key; each
run's curve; the noise estimates. Markdown, LaTeX and CSV."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict

from .cells import fmt_setting, mean_std, row_label, scale_text, setting_key
from .output import OutputFolder
from .published import outside

TITLE_NOTE = (
    "[published mean ± std, difference; ! = outside published mean ± 2 std, or ± 1 "
    "point where std < 0.5; reduced scale = fewer epochs than the paper or a training "
    "subset {epochs run/paper, training samples}: compared, not flagged]"
)
CSV_COLUMNS = [
    "loss",
    "rate",
    "n",
    "mean",
    "std",
    "published_mean",
    "published_std",
    "diff",
    "outside_published",
    "reduced_scale",
    "scale",
    "forced_resumes",
]


def base_loss(row: str) -> str:
    """The loss of a row ("nce+rce [beta=1] {…}" -> "nce+rce"): whose published value it gets."""
    return row.split(" ", 1)[0]


def build_rows(measured: dict, published: dict, ddof: int, seeds: int):
    """(rates, [(row, {rate: cell})]): measured rows in order, then published-only losses."""
    names = list(measured) + [loss for loss in published if loss not in measured]
    rates = sorted(
        {r for by_rate in measured.values() for r in by_rate}, key=lambda r: (isinstance(r, str), r)
    )
    rows = []
    for name in names:
        cells = {
            rate: build_cell(
                measured.get(name, {}).get(rate, []),
                published.get(base_loss(name), {}).get(rate),
                ddof,
                seeds,
            )
            for rate in rates
        }
        if any(c["n"] for c in cells.values()):
            rows.append((name, cells))
    return rates, rows


def build_cell(results: list, pub, ddof: int, seeds: int) -> dict:
    """One cell: measured mean/std over seeds beside the published value. Reduced-scale runs
    are compared only as such: their difference is shown, never flagged as a miss."""
    if not results:
        return {"n": 0, "published": pub}
    m, s = mean_std([r.top1 for r in results], ddof)
    reduced = any(r.reduced for r in results)
    return {
        "n": len(results),
        "mean": m,
        "std": s,
        "published": pub,
        "diff": None if pub is None else m - pub[0],
        "flag": pub is not None and not reduced and outside(m, pub),
        "short": len(results) < seeds,
        "reduced": reduced,
        "scale": scale_text(results),
        "forced": sum(r.forced for r in results),
    }


def add_other_sources(rows, others: dict) -> None:
    """Each cell gets "others": [(source, [mean, std])] from the sources after the first."""
    for name, cells in rows:
        for rate, cell in cells.items():
            cell["others"] = [
                (source, table[base_loss(name)][rate])
                for source, table in others.items()
                if rate in table.get(base_loss(name), {})
            ]


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


def write_tables(out: OutputFolder, name: str, title: str, rates, rows, notes=()) -> list:
    header = ["loss"] + [fmt_setting(r) for r in rates]
    md = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join([row] + [fmt_cell(c[r]) for r in rates]) + " |" for row, c in rows]
    md += [""] + [f"- note: {note}" for note in notes] if notes else []
    tex = [
        r"\begin{tabular}{l" + "c" * len(rates) + "}",
        r"\toprule",
        " & ".join(header) + r" \\",
        r"\midrule",
    ]
    tex += [
        " & ".join([row.upper()] + [fmt_cell(c[r], latex=True) for r in rates]) + r" \\"
        for row, c in rows
    ]
    tex += [r"\bottomrule", r"\end{tabular}"]
    buffer = io.StringIO()
    w = csv.writer(buffer)
    w.writerow(CSV_COLUMNS)
    w.writerows(csv_row(row, r, cells[r]) for row, cells in rows for r in rates if cells[r]["n"])
    return [
        out.write_text(f"{name}.md", "\n".join(md) + "\n"),
        out.write_text(f"{name}.tex", f"% {title}\n" + "\n".join(tex) + "\n"),
        out.write_text(f"{name}.csv", buffer.getvalue()),
    ]


def csv_row(row: str, rate, c: dict) -> list:
    p = c["published"] or [None, None]
    return [
        row,
        rate,
        c["n"],
        f"{c['mean']:.4f}",
        f"{c['std']:.4f}",
        p[0],
        p[1],
        None if c["diff"] is None else f"{c['diff']:.4f}",
        c["flag"],
        c["reduced"],
        c["scale"],
        c["forced"],
    ]


def pivot_table(records, key: str, ddof: int, out: OutputFolder, name: str, title: str) -> list:
    """One table per noise setting: a row per loss (variant parts naming `key` left out), a
    column per value of `key` (from each run's config), mean ± std over seeds."""
    leaf = key.rsplit(".", 1)[-1]
    cells = defaultdict(list)
    for record in records:
        row = row_label(record)
        if "[" in row:
            kept = [
                p
                for p in row[row.index("[") + 1 : -1].split(",")
                if p.split("=")[0] not in (key, leaf)
            ]
            row = record.loss + (f" [{','.join(kept)}]" if kept else "")
        setting = (record.where.kind, setting_key(record.where.setting))
        cells[(setting, row, record.config.get(key))].append(record.result["last"]["test_top1"])
    lines = [f"### {title}", ""]
    for setting in sorted({k[0] for k in cells}, key=str):
        values = sorted({k[2] for k in cells if k[0] == setting}, key=str)
        rows = sorted({k[1] for k in cells if k[0] == setting})
        lines += [
            f"**{setting[0]} {fmt_setting(setting[1])}**",
            "",
            f"| loss | {' | '.join(f'{key}={v}' for v in values)} |",
            "|---|" + "---|" * len(values),
        ]
        for row in rows:
            texts = []
            for value in values:
                runs = cells.get((setting, row, value), [])
                m, s = mean_std(runs, ddof) if runs else (None, None)
                texts.append(
                    "–"
                    if m is None
                    else f"{m:.2f}" + ("" if math.isnan(s) else f"±{s:.2f}") + f" (n={len(runs)})"
                )
            lines.append(f"| {row} | {' | '.join(texts)} |")
        lines.append("")
    return [out.write_text(f"{name}.md", "\n".join(lines))] if cells else []


def noise_estimate_table(records, out: OutputFolder, dataset: str) -> list:
    """Estimated against injected noise (result.json -> noise_estimate), one row per run."""
    lines = [
        f"### {dataset}: noise estimated from the final model (confident joint) vs injected",
        "",
        "in-sample: predictions on the training set the model fitted (memorised flips "
        "look clean, so the rate is under-estimated); held-out: on the noisy "
        "validation split",
        "",
        "| kind | setting | loss | seed | predictions on | injected rate | estimated rate | "
        "abs. error | transition MAE | transition max error |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    count = 0
    for record in records:
        estimate = record.result.get("noise_estimate")
        if not estimate:
            continue
        w = record.where
        sample = "held-out" if estimate.get("out_of_sample") else "in-sample"
        lines.append(
            f"| {w.kind} | {w.setting} | {w.loss} | {w.seed} | {sample} "
            f"| {estimate['injected_rate']:.4f} "
            f"| {estimate['estimated_rate']:.4f} | {estimate['rate_abs_error']:.4f} | "
            f"{estimate['transition_mean_abs_error']:.4f} | "
            f"{estimate['transition_max_abs_error']:.3f} |"
        )
        count += 1
    return (
        [out.write_text(f"{dataset}_noise_estimates.md", "\n".join(lines) + "\n")] if count else []
    )


def curve_summary_table(records, out: OutputFolder, dataset: str) -> list:
    """One row per run, finished or still running, from its metrics.jsonl: what a last-epoch cell
    hides (the peak, when it came, how much of the noise the last model fits)."""
    lines = [
        f"### {dataset}: each run's curve (metrics.jsonl)",
        "",
        "last = last epoch's test top-1 (unfinished: the epoch reached so far); peak = the "
        "best epoch, selected on the test set (optimistic); fits = % of the flipped "
        "training labels predicted as their noisy label at the last epoch",
        "",
        "| kind | setting | loss | seed | epochs | last | peak (epoch) | fits |",
        "|---|---|---|---|---|---|---|---|",
    ]
    found = sorted(
        (r for r in records if r.rows),
        key=lambda r: (r.where.kind, r.where.setting, r.where.loss, int(r.where.seed)),
    )
    for record in found:
        rows, w = record.rows, record.where
        last, peak = rows[-1], max(rows, key=lambda r: r["test_top1"])  # first epoch at the peak
        fits = last.get("mem_flipped_fit_noisy")
        state = "" if record.finished else f" ({record.status})"
        lines.append(
            f"| {w.kind} | {w.setting} | {w.loss} | {w.seed} "
            f"| {last['epoch']}{state} "
            f"| {last['test_top1']:.2f} | {peak['test_top1']:.2f} ({peak['epoch']}) "
            f"| {'-' if fits is None else f'{fits:.1f} %'} |"
        )
    return [out.write_text(f"{dataset}_curves.md", "\n".join(lines) + "\n")] if found else []


def curves_of(records, metric: str) -> list:
    """Each run's per-epoch values of a metrics.jsonl column."""
    return [[row.get(metric) for row in r.rows] for r in records]
