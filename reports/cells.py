"""Runs into table cells: one cell per (noise kind, setting, row), the runs of one config over
seeds. Runs of different configs never share a cell: a cell whose runs differ is split, each
part labelled by what differs, and a note says so."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import numpy as np

from engine.config import PAPER_RECIPE, load_tree
from engine.record import RunRecord, identity, identity_diff, setting_text

from .output import ReportError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PROTOCOLS = {
    "last": ("last", "last-epoch test top-1 (the paper's protocol)"),
    "best_test": (
        "best_on_test",
        "best-epoch test top-1, SELECTED ON THE TEST SET (optimistic; not the paper's protocol)",
    ),
    "best_noisy_val": (
        "best_on_noisy_val",
        "test top-1 at the epoch selected on a held-out noisy validation split",
    ),
}


class RunResult(NamedTuple):
    top1: float
    epochs: int | None  # epochs actually trained (None: not recorded)
    paper_epochs: int | None  # the epochs of the setting's config file (the paper's recipe)
    subset: int | None  # dataset.train_subset
    forced: bool  # resumed with --force-resume (result.json 'resumes')

    @property
    def reduced(self) -> bool:
        fewer = None not in (self.epochs, self.paper_epochs) and self.epochs < self.paper_epochs
        return fewer or self.subset is not None


def setting_key(text: str):
    """A noise rate ("0.4" -> 0.4) or a named label set of human noise ("worse")."""
    try:
        return float(text)
    except ValueError:
        return text


def fmt_setting(setting) -> str:
    return setting if isinstance(setting, str) else setting_text(setting)


# Variant parts a cell shows as its scale mark ({6/50 ep, 2000 train}) instead of in its row.
SCALE_PARTS = ("epochs", "train_subset")


def row_label(record: RunRecord) -> str:
    """The loss with its options and its variant, less the recipe (a table shows one) and the
    scale (the cell shows it)."""
    parts = [
        p
        for p in record.variant.split(",")
        if p and p != record.recipe and p.split("=")[0] not in SCALE_PARTS
    ]
    return record.loss + (f" [{','.join(parts)}]" if parts else "")


def config_epochs(dataset: str, kind: str, loss: str) -> int | None:
    """train.epochs of the setting's config file (configs/<dataset>/<kind>/<loss>.yaml, or
    configs/<dataset>/<loss>.yaml for human noise); None where there is none."""
    for path in (CONFIGS / dataset / kind / f"{loss}.yaml", CONFIGS / dataset / f"{loss}.yaml"):
        if path.is_file():
            return load_tree(path).get("train", {}).get("epochs")
    return None


def default_recipe(dataset: str) -> str:
    """The recipe a dataset's configs run when none is named: `recipe:` in
    configs/base/<dataset>.yaml (MNIST: release), else the paper's."""
    path = CONFIGS / "base" / f"{dataset}.yaml"
    return (load_tree(path) if path.is_file() else {}).get("recipe", PAPER_RECIPE)


def table_recipe(records, dataset: str, asked: str | None) -> str:
    """The recipe a table shows: the one asked for; else the dataset configs' default when it
    has runs (or nothing has); else the only recipe the finished runs have. Runs of several
    recipes, none of them the default, need --recipe: a table never mixes them."""
    if asked:
        return asked
    present = {r.recipe for r in records if r.result is not None}
    default = default_recipe(dataset)
    if default in present or not present:
        return default
    if len(present) == 1:
        return present.pop()
    raise ReportError(
        f"the {dataset} runs are of recipes {', '.join(sorted(present))}, none of them the "
        f"configs' default ({default}); pick one with --recipe"
    )


def run_result(record: RunRecord, top1: float) -> RunResult:
    where, cfg = record.where, record.config
    return RunResult(
        top1,
        record.epochs_run,
        config_epochs(where.dataset, where.kind, record.loss),
        cfg.get("dataset.train_subset"),
        bool(record.result.get("forced_resume")),
    )


def choose(records, recipe: str = PAPER_RECIPE, losses=None, notes: list | None = None):
    """The runs a table shows: with a result (finished or stopped early), of one recipe, of
    `losses` only when given. Runs of other recipes are counted in `notes`."""
    chosen, other = [], defaultdict(int)
    for record in records:
        if record.result is None or (losses and record.loss not in losses):
            continue
        if record.recipe != recipe:
            other[record.recipe] += 1
            continue
        chosen.append(record)
    if notes is not None:
        notes += [
            f"{n} run(s) of recipe {name!r} left out (--recipe {name})"
            for name, n in sorted(other.items())
        ]
    return chosen


def split_by_config(records: list[RunRecord]) -> list[tuple[str, list[RunRecord]]]:
    """[(label suffix, runs)]: one part per distinct config (ignoring seed and setting); the
    suffix names the keys on which a part differs from the first ("" when all agree)."""
    parts: dict = {}
    for record in records:
        key = repr(sorted(identity(record.config).items()))
        parts.setdefault(key, []).append(record)
    groups = list(parts.values())
    if len(groups) == 1:
        return [("", groups[0])]
    first = groups[0][0].config
    labelled = []
    for group in groups:
        diff = identity_diff(first, group[0].config)
        named = [f"{d.split(':', 1)[0]}={d.rsplit(' -> ', 1)[1]}" for d in diff]
        labelled.append((" {" + "; ".join(named) + "}" if named else "", group))
    return labelled


def collect(records, protocol: str = "last", notes: list | None = None) -> dict:
    """{kind: {row: {setting: [RunResult per seed]}}}; a cell of runs with different configs is
    split into rows "<row> {key=value}" and reported in `notes`."""
    key = PROTOCOLS[protocol][0]
    grouped = defaultdict(list)
    for record in records:
        if record.result.get(key) is not None:  # e.g. no noisy validation split in this run
            grouped[
                (record.where.kind, row_label(record), setting_key(record.where.setting))
            ].append(record)
    table: dict = defaultdict(lambda: defaultdict(dict))
    for (kind, row, setting), group in sorted(grouped.items(), key=lambda kv: str(kv[0])):
        parts = split_by_config(group)
        if len(parts) > 1 and notes is not None:
            notes.append(
                f"{kind} {fmt_setting(setting)} {row}: runs of {len(parts)} different "
                f"configs, split into rows:" + ",".join(s for s, _ in parts if s)
            )
        for suffix, runs in parts:
            table[kind][row + suffix][setting] = [
                run_result(r, r.result[key]["test_top1"]) for r in runs
            ]
    return table


def mean_std(values, ddof: int):
    values = np.asarray(values, dtype=float)
    # one seed has no spread to report (ddof 0 would print a misleading 0.00)
    std = float(values.std(ddof=ddof)) if len(values) >= 2 else float("nan")
    return float(values.mean()), std


def scale_text(results: list[RunResult]) -> str:
    """ "6/50 ep, 2000 train" for reduced-scale runs ("" at full scale); several values
    when the seeds of a cell differ."""
    if not any(r.reduced for r in results):
        return ""
    epochs = sorted(
        {
            f"{r.epochs}/{r.paper_epochs}" if r.paper_epochs else f"{r.epochs}"
            for r in results
            if r.epochs is not None
        }
    )
    subsets = sorted({r.subset for r in results if r.subset is not None})
    parts = ([f"{','.join(epochs)} ep"] if epochs else []) + (
        [f"{','.join(map(str, subsets))} train"] if subsets else []
    )
    return ", ".join(parts)
