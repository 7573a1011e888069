"""The run record: where a run lives, what it leaves behind, and the one way to read it back.
Torch-free, so that naming a folder or reading a table never loads torch.

    <root>/<dataset>/<kind>/<setting>/<loss>[@<variant>]/seed<S>/
        config.yaml  noise.json  noisy_labels.npy  metrics.jsonl  summary.csv  tb/
        checkpoints/last.pt  result.json  .lock

<loss> is the loss with its options (losses.loss_label); <variant> names what the run changed
against the setting's config file (`release`, `beta=1`, `epochs=6`, ...; empty for the config
as it is), so runs of two recipes or two grid points never share a folder. result.json has one
schema, written by train.py and by the authors'-code harness alike (`result_document`), and
`read_run` / `walk_runs` read every run, finished or not, the same way.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import yaml

from .config import PAPER_RECIPE, RESUME_MAY_DIFFER, SCHEMA, flatten, with_defaults
from .errors import UserError
from .io import write_text_atomic

SHORT_KINDS = {"symmetric": "sym", "asymmetric": "asym"}  # noise.kind -> its directory name
# Keys that place a run inside its cell (the setting and the seed): not part of the variant.
COORDINATE_KEYS = {"noise.rate", "noise.label_set", "train.seed"}
# Keys that say nothing about what was trained: never part of a run's identity.
NOT_IDENTITY = set(RESUME_MAY_DIFFER) | {"train.progress"}
RESULT_SCHEMA = 2
THIS_CODE = "this project"


class RecordError(UserError):
    """A run record that cannot be read: names the file and what to do."""


class RunCoordinates(NamedTuple):
    dataset: str
    kind: str  # sym, asym, human, or another noise.kind as it is
    setting: str  # the noise rate ("0.4"), or the label set of human noise ("worse")
    loss: str  # the loss with its options (losses.loss_label), plus "@<variant>" if any
    seed: str


# ---- naming -----------------------------------------------------------------------------------


def setting_text(rate) -> str:
    """The one spelling of a noise rate in paths and tables: 0.0 -> "0", 0.40 -> "0.4"."""
    return f"{float(rate):g}"


def coordinates(cfg: dict, loss_label: str, variant: str = "") -> RunCoordinates:
    """The parts of a config's run directory; `loss_label` from losses.loss_label (through
    engine.experiment), `variant` from variant_label."""
    kind = SHORT_KINDS.get(cfg["noise.kind"], cfg["noise.kind"])
    human = kind == "human"
    # CIFAR-10 with its human labels is CIFAR-10N (Wei et al. 2022): a folder of its own, as
    # configs/cifar10n/ and the sweep have it
    dataset = cfg["dataset.name"] + ("n" if human else "")
    setting = cfg["noise.label_set"] if human else setting_text(cfg["noise.rate"])
    loss = loss_label + (f"@{variant}" if variant else "")
    return RunCoordinates(dataset, kind, setting, loss, str(cfg["train.seed"]))


def run_path(root, where: RunCoordinates) -> Path:
    """The one layout of run directories; seed "*" (or any part "*") makes a glob pattern."""
    return (
        Path(root) / where.dataset / where.kind / where.setting / where.loss / f"seed{where.seed}"
    )


def variant_label(cfg: dict, baseline: dict) -> str:
    """What `cfg` changed against `baseline` (its config file with only the setting, the seed
    and the recipe applied), readably: the recipe's name unless it is the paper's, then
    key=value for every other identity key that differs (the last part of the key where that
    is unambiguous). "" for the paper recipe with nothing changed."""
    recipe = cfg.get("recipe", PAPER_RECIPE)
    parts = [] if recipe == PAPER_RECIPE else [recipe]
    keys = sorted(
        k for k in identity_keys(cfg, baseline) - {"recipe"} if cfg.get(k) != baseline.get(k)
    )
    leaves = [k.rsplit(".", 1)[-1] for k in set(cfg) | set(baseline)]
    for key in keys:
        leaf = key.rsplit(".", 1)[-1]
        name = leaf if leaves.count(leaf) == 1 else key
        parts.append(f"{name}={value_text(cfg.get(key))}")
    return ",".join(parts)


def baseline_config(path, cfg: dict, resolve) -> dict:
    """The config file `path` with only `cfg`'s setting, seed and recipe applied: what
    variant_label compares `cfg` with. `resolve` is the loader that made `cfg`
    (engine.config.resolve_config, or engine.experiment.load_config, which also fills in the
    dataset's model)."""
    keys = COORDINATE_KEYS | {"recipe"}
    return resolve(path, overrides={k: cfg[k] for k in keys if k in cfg})


def value_text(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return (
        "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    )


# ---- identity ---------------------------------------------------------------------------------


def identity_keys(*configs: dict) -> set:
    keys = set().union(*configs) if configs else set(SCHEMA)
    return keys - NOT_IDENTITY - COORDINATE_KEYS


def identity(cfg: dict) -> dict:
    """What a run trained, whatever its seed and setting: two runs of one table cell must agree
    on every key of it (defaults filled in for keys added to the schema after a run)."""
    full = with_defaults(cfg)
    return {k: full[k] for k in sorted(identity_keys(full))}


def identity_diff(a: dict, b: dict) -> list[str]:
    """ "key: a -> b" for each identity key on which two configs differ."""
    a, b = identity(a), identity(b)
    return [
        f"{k}: {a.get(k)!r} -> {b.get(k)!r}"
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]


# ---- result.json ------------------------------------------------------------------------------


def result_document(
    *,
    code: str,
    status: str,
    where: RunCoordinates,
    history: list[dict],
    schedule_epochs: int,
    cfg: dict,
    noise: dict,
    wall_seconds: float,
    provenance: dict,
    eval_names=("test",),
    resumes: list | None = None,
    n_val: int | None = None,
    extra: dict | None = None,
) -> dict:
    """result.json, the same schema for every code that writes one: the last epoch of every
    evaluation set (the paper's number), the epoch best on the test set (optimistic), the
    epoch best on a held-out noisy split when there is one, and what really ran."""
    last, resumes = history[-1], resumes or []
    best = max(history, key=lambda r: r["test_top1"])
    best_val = max(history, key=lambda r: r["val_noisy_top1"]) if n_val else None
    return {
        "schema": RESULT_SCHEMA,
        "code": code,
        "status": status,
        "run": where._asdict(),
        "recipe": cfg.get("recipe", PAPER_RECIPE),
        "epochs_run": last["epoch"],
        "schedule_epochs": schedule_epochs,
        "last": {
            "epoch": last["epoch"],
            **{
                f"{name}_{m}": last.get(f"{name}_{m}")
                for name in eval_names
                for m in ("top1", "top5")
            },
        },
        "best_on_test": {
            "epoch": best["epoch"],
            "test_top1": best["test_top1"],
            "selected_on": "test set",
        },
        "best_on_noisy_val": None
        if best_val is None
        else {
            "epoch": best_val["epoch"],
            "test_top1": best_val["test_top1"],
            "val_noisy_top1": best_val["val_noisy_top1"],
            "selected_on": f"noisy validation split ({n_val} samples)",
        },
        "noise": noise,
        "resumes": resumes,
        "forced_resume": any(r.get("forced") for r in resumes),
        "wall_seconds": wall_seconds,
        "provenance": provenance,
        "config": cfg,
        **(extra or {}),
    }


RESULT_FIELDS = {
    "schema": int,
    "code": str,
    "status": str,
    "run": dict,
    "recipe": str,
    "epochs_run": int,
    "schedule_epochs": int,
    "last": dict,
    "best_on_test": dict,
    "noise": dict,
    "resumes": list,
    "forced_resume": bool,
    "wall_seconds": (int, float),
    "provenance": dict,
    "config": dict,
}


def validate_result(result: dict) -> list[str]:
    """The problems of a result.json against the schema (empty: valid)."""
    problems = [
        f"{key} missing"
        if key not in result
        else f"{key} is {type(result[key]).__name__}, not {getattr(kind, '__name__', kind)}"
        for key, kind in RESULT_FIELDS.items()
        if key not in result or not isinstance(result[key], kind)
    ]
    if not problems:
        if set(result["run"]) != set(RunCoordinates._fields):
            problems.append(f"run has {sorted(result['run'])}, not {list(RunCoordinates._fields)}")
        if result["status"] not in ("finished", "stopped_early"):
            problems.append(f"status {result['status']!r} is not finished or stopped_early")
        if not isinstance(result["last"].get("test_top1"), (int, float)):
            problems.append("last.test_top1 is not a number")
    return problems


def upgraded(result: dict, folder: Path) -> dict:
    """A result.json of an earlier version (no `schema`: this project's or the harness's)
    in today's schema, so readers need no fallbacks of their own."""
    if result.get("schema") == RESULT_SCHEMA:
        return result
    cfg = result.get("config") or {}
    epochs = result.get("epochs_run", result.get("last", {}).get("epoch"))
    return {
        **result,
        "schema": RESULT_SCHEMA,
        "code": result.get("code", THIS_CODE),
        "status": result.get("status", "finished"),
        "run": path_coordinates(folder)._asdict(),
        "recipe": cfg.get("recipe", PAPER_RECIPE),
        "epochs_run": epochs,
        "schedule_epochs": result.get("schedule_epochs", cfg.get("train.epochs", epochs)),
        "resumes": result.get("resumes", []),
        "forced_resume": bool(result.get("forced_resume")),
        "provenance": result.get("provenance", {}),
        "config": cfg,
    }


# ---- metrics.jsonl ----------------------------------------------------------------------------


def write_metrics(out: Path, history: list[dict]) -> None:
    write_text_atomic(out / "metrics.jsonl", "".join(json.dumps(row) + "\n" for row in history))
    columns = []
    for row in history:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    write_text_atomic(out / "summary.csv", buffer.getvalue())


def read_metrics(path: Path) -> list[dict]:
    """The per-epoch rows of a metrics.jsonl (write_metrics), in order."""
    try:
        return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise RecordError(
            f"{path} line {e.lineno} is not JSON (a torn write?); delete the run "
            f"folder or re-run it with --resume"
        ) from None


# ---- reading a run back -----------------------------------------------------------------------


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise RecordError(
            f"{path} is not valid JSON (line {e.lineno}: {e.msg}); it is truncated "
            f"or was edited: delete it and re-run the run with --resume"
        ) from None
    except OSError as e:
        raise RecordError(f"cannot read {path}: {e.strerror}") from None


def read_result(out: Path) -> dict | None:
    """result.json of a run folder in today's schema, or None where the run has none."""
    path = Path(out) / "result.json"
    return upgraded(read_json(path), Path(out)) if path.is_file() else None


def path_coordinates(folder: Path) -> RunCoordinates:
    """A run's parts from its folder (.../<dataset>/<kind>/<setting>/<loss>/seed<S>)."""
    dataset, kind, setting, loss, seed = Path(folder).parts[-5:]
    return RunCoordinates(dataset, kind, setting, loss, seed.removeprefix("seed"))


@dataclass
class RunRecord:
    """One run folder, finished or not: its coordinates, config, result (None while it runs or
    when it was cut short) and per-epoch rows."""

    folder: Path
    where: RunCoordinates
    config: dict
    result: dict | None
    rows: list[dict] = field(repr=False)

    @property
    def status(self) -> str:
        return self.result["status"] if self.result else "unfinished"

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def epochs_run(self) -> int:
        return self.result["epochs_run"] if self.result else len(self.rows)

    @property
    def schedule_epochs(self) -> int:
        if self.result:
            return self.result["schedule_epochs"]
        return max(self.config.get("train.epochs", 0), len(self.rows) + 1)  # not finished

    @property
    def recipe(self) -> str:
        return self.config.get("recipe", PAPER_RECIPE)

    @property
    def loss(self) -> str:
        """The loss with its options, without the variant."""
        return self.where.loss.split("@", 1)[0]

    @property
    def variant(self) -> str:
        return self.where.loss.partition("@")[2]


def read_config(folder: Path) -> dict:
    path = Path(folder) / "config.yaml"
    if not path.is_file():
        return {}
    try:
        return flatten(yaml.safe_load(path.read_text()) or {})
    except yaml.YAMLError:
        raise RecordError(
            f"{path} is not valid YAML; restore it from the run's result.json or checkpoint"
        ) from None


def read_run(folder: Path) -> RunRecord | None:
    """The record of one run folder; None where nothing was trained yet (no epoch, no result)."""
    folder = Path(folder)
    result = read_result(folder)
    rows = read_metrics(folder / "metrics.jsonl") if (folder / "metrics.jsonl").is_file() else []
    if result is None and not rows:
        return None
    if result is not None and result["epochs_run"] is None:  # an early result.json: count rows
        result["epochs_run"] = len(rows) or None  # (None: not known)
        result["schedule_epochs"] = result["schedule_epochs"] or result["epochs_run"]
    config = result["config"] if result and result["config"] else read_config(folder)
    where = RunCoordinates(**result["run"]) if result else path_coordinates(folder)
    return RunRecord(folder, where, config, result, rows)


def walk_runs(root, dataset: str = "*") -> Iterator[RunRecord]:
    """Every run under a runs root (of one dataset), in path order: the one walker."""
    pattern = run_path("", RunCoordinates(dataset, "*", "*", "*", "*"))
    folders = {
        p.parent
        for name in ("result.json", "metrics.jsonl")
        for p in Path(root).glob(f"{pattern}/{name}")
    }
    for folder in sorted(folders):
        record = read_run(folder)
        if record is not None:
            yield record
