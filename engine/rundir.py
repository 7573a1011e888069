"""A run directory: what it holds, who owns it, and its per-epoch logs.

    <out>/config.yaml          resolved config
    <out>/noise.json           noise summary (requested and realised rates, transition, hash)
    <out>/noisy_labels.npy     the training labels used
    <out>/metrics.jsonl        one JSON row per epoch (rewritten atomically from the history)
    <out>/summary.csv          the same rows as CSV
    <out>/tb/                  TensorBoard events
    <out>/checkpoints/last.pt  written atomically every epoch
    <out>/result.json          written once, at the end: the run is finished
    <out>/.lock                held (flock) while a process trains this run

Where it is: `run_path` names every run directory, <root>/<dataset>/<kind>/<setting>/<loss>/
seed<S> (train.py's default under runs/, scripts/sweep.py, scripts/official_apl.py), and
`run_coordinates` gives those parts for a config, which scripts/tables.py reads back from
result.json["config"].
"""
from __future__ import annotations

import csv
import fcntl
import io
import json
import os
from pathlib import Path
from typing import NamedTuple

from .errors import OutputDirError
from .io import write_text_atomic

CHECKPOINT = Path("checkpoints") / "last.pt"
SHORT_KINDS = {"symmetric": "sym", "asymmetric": "asym"}  # noise.kind -> its directory name


class RunCoordinates(NamedTuple):
    dataset: str
    kind: str       # sym, asym, human, or another noise.kind as it is
    setting: str    # the noise rate ("0.4"), or the label set of human noise ("worse")
    loss: str       # the config stem: the loss name with its options (losses.loss_label)
    seed: str


def run_path(root, dataset: str, kind: str, setting: str, loss: str, seed) -> Path:
    """The one layout of run directories; seed "*" makes a glob pattern over seeds."""
    return Path(root) / dataset / kind / setting / loss / f"seed{seed}"


def run_coordinates(cfg: dict) -> RunCoordinates:
    """The parts of a config's run directory. KeyError for a config that lacks a key (a
    result.json from an older version: the caller falls back to the path)."""
    from losses import loss_label
    from .config import loss_kwargs
    kind = SHORT_KINDS.get(cfg["noise.kind"], cfg["noise.kind"])
    human = kind == "human"
    # CIFAR-10 with its human labels is CIFAR-10N (Wei et al. 2022): a folder of its own, as
    # configs/cifar10n/ and the sweep have it
    dataset = cfg["dataset.name"] + ("n" if human else "")
    setting = cfg["noise.label_set"] if human else f"{cfg['noise.rate']:g}"
    return RunCoordinates(dataset, kind, setting,
                          loss_label(cfg["loss.name"], loss_kwargs(cfg)), str(cfg["train.seed"]))


def run_dir(root, cfg: dict) -> Path:
    return run_path(root, *run_coordinates(cfg))


def finished_runs(runs: Path, dataset: str):
    """(result.json path, its content, its RunCoordinates) of every finished run of a dataset."""
    pattern = run_path("", dataset, "*", "*", "*", "*") / "result.json"
    for path in sorted(Path(runs).glob(str(pattern))):
        result = json.loads(path.read_text())
        yield path, result, result_coordinates(path, result)


def result_coordinates(result_path: Path, result: dict) -> RunCoordinates:
    """A finished run's parts from its own config; from its path (.../seed<S>/result.json)
    for a result.json written before configs were saved in it, or with a partial config."""
    try:
        return run_coordinates(result["config"])
    except KeyError:
        dataset, kind, setting, loss, seed = result_path.parts[-6:-1]
        return RunCoordinates(dataset, kind, setting, loss, seed[len("seed"):])


class RunLock:
    """An exclusive, non-blocking flock on <out>/.lock; released when the process dies."""

    def __init__(self, out: Path):
        self.path = Path(out) / ".lock"
        self.fd = None

    def acquire(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise OutputDirError(f"run directory {self.path.parent} is in use by another process "
                                 f"(pid {holder}); wait for it or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def remove_stale_temp_files(out: Path) -> None:
    """Temp files of atomic writes that a killed process left behind (we hold the lock)."""
    for pattern in (".*.tmp", "checkpoints/.*.tmp"):
        for path in Path(out).glob(pattern):
            path.unlink(missing_ok=True)


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


def read_result(out: Path) -> dict | None:
    path = Path(out) / "result.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, OSError):
        raise OutputDirError(f"{path} exists but is unreadable; delete it to re-run") from None
