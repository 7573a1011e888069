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
"""
from __future__ import annotations

import csv
import fcntl
import io
import json
import os
from pathlib import Path

from .errors import OutputDirError
from .io import write_text_atomic

CHECKPOINT = Path("checkpoints") / "last.pt"


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
