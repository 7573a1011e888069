"""The paper's hyper-parameter selection (spec §4.1): "We test the combinations between α ∈
{0.1, 1.0, 10.0} and β ∈ {0.1, 1.0, 10.0, 100.0}, then select the optimal combination according
to the validation accuracy on a randomly sampled validation set (20% training data)." The
validation split keeps its noisy labels (the only labels a user has), so the pair is chosen on
the last-epoch accuracy on the held-out *noisy* split, and the chosen pair's clean test
accuracy is reported: the test set never chooses."""

from __future__ import annotations

from collections import defaultdict

from .cells import fmt_setting, mean_std, setting_key
from .output import OutputFolder


def candidates(records, keys: list[str]) -> dict:
    """{(kind, setting, loss): {values of `keys`: [(val_noisy, test) per seed]}} over the runs
    that held out a noisy split (the last epoch of each)."""
    found: dict = defaultdict(lambda: defaultdict(list))
    for record in records:
        last = record.rows[-1] if record.rows else {}
        if record.result is None or "val_noisy_top1" not in last:
            continue
        values = tuple(record.config.get(k) for k in keys)
        cell = (record.where.kind, setting_key(record.where.setting), record.loss)
        found[cell][values].append((last["val_noisy_top1"], record.result["last"]["test_top1"]))
    return found


def choose(pairs: dict) -> tuple:
    """The values with the highest mean noisy-validation accuracy (ties: the first in order)."""
    return max(sorted(pairs, key=str), key=lambda v: mean_std([a for a, _ in pairs[v]], 0)[0])


def selection_table(
    records, keys: list[str], config_values, out: OutputFolder, name: str, title: str
) -> list:
    """Per setting: the chosen values, their noisy-validation and test accuracy, the values the
    paper's configs use (`config_values(kind, loss)`) and theirs, and every candidate."""
    found = candidates(records, keys)
    lines = [
        f"### {title}",
        "",
        f"| noise | loss | chosen {', '.join(keys)} | its noisy val | its test | "
        f"paper config's | its noisy val | its test | chosen = config? |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    detail = ["", "Every candidate (mean over seeds; noisy val / test):", ""]
    for (kind, setting, loss), pairs in sorted(found.items(), key=str):
        best = choose(pairs)
        paper = config_values(kind, loss)
        lines.append(
            f"| {kind} {fmt_setting(setting)} | {loss} | {values_text(best)} | "
            + " | ".join(accuracy(pairs.get(best)))
            + f" | {values_text(paper)} | "
            + " | ".join(accuracy(pairs.get(paper)))
            + f" | {'yes' if best == paper else 'no'} |"
        )
        detail.append(
            f"- {kind} {fmt_setting(setting)} {loss}: "
            + "; ".join(
                f"{values_text(v)}: {' / '.join(accuracy(pairs[v]))}"
                for v in sorted(pairs, key=str)
            )
        )
    return [out.write_text(f"{name}.md", "\n".join(lines + detail) + "\n")] if found else []


def values_text(values) -> str:
    return "(" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values) + ")"


def accuracy(runs) -> list[str]:
    if not runs:
        return ["not run", "–"]
    texts = []
    for column in (0, 1):
        m, s = mean_std([r[column] for r in runs], 0)
        texts.append(f"{m:.2f}" + ("" if s != s else f"±{s:.2f}") + f" (n={len(runs)})")
    return texts
