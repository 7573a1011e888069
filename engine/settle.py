"""Stopping runs whose curve has settled at a constant predictor's accuracy.

A network that predicts one class for every image scores that class's share of the test set
(11.35 % on MNIST: 1,135 of the 10,000 test images are a 1) and, once there, does not come
back: its gradients are tiny and weight decay keeps pulling the weights to zero. A run whose
last `epochs` epochs all sit at that level is stopped with SIGTERM and marked with
`settled.json`, which the reports show as "stopped: settled at epoch N". train.py checkpoints
and exits on SIGTERM; the authors'-code harness dies and resumes from its last epoch's
checkpoint. (Not SIGINT: a process a shell starts in the background ignores it.) Torch-free:
it reads metrics.jsonl only.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from .io import write_json_atomic
from .record import read_metrics

SETTLED_FILE = "settled.json"
TOLERANCE = 0.005  # accuracies are written in percent with full precision


def at_level(top1: float, level: float) -> bool:
    """A test accuracy (percent) equal to `level` up to the precision it is written with."""
    return abs(top1 - level) < TOLERANCE


def settled_epoch(rows: list[dict], level: float, epochs: int) -> int | None:
    """The last epoch, when the last `epochs` rows all sit at `level`; else None."""
    if epochs < 1 or len(rows) < epochs:
        return None
    if all(at_level(r["test_top1"], level) for r in rows[-epochs:]):
        return rows[-1]["epoch"]
    return None


def read_settled(folder: Path) -> dict | None:
    path = Path(folder) / SETTLED_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def unfinished_runs(root: Path):
    """Run folders under root with metrics but no result.json and no settled mark yet."""
    for metrics in sorted(Path(root).glob("**/metrics.jsonl")):
        folder = metrics.parent
        if not (folder / "result.json").exists() and read_settled(folder) is None:
            yield folder


def running_pids(folder: Path) -> list[int]:
    """The processes training into `folder`: their command line's --out, taken from their own
    working directory, is that folder (Linux /proc; a relative or absolute --out alike)."""
    target, pids = Path(folder).resolve(), []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            args = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:  # gone, or not ours to read
            continue
        outs = [b for a, b in zip(args, args[1:], strict=False) if a == "--out"]
        outs += [a[len("--out=") :] for a in args if a.startswith("--out=")]
        if int(proc.name) != os.getpid() and any((cwd / o).resolve() == target for o in outs):
            pids.append(int(proc.name))
    return sorted(pids)


def stop_settled(root: Path, level: float, epochs: int) -> list[tuple[Path, int]]:
    """Stop and mark every unfinished run under root that has settled; returns (folder, epoch)."""
    stopped = []
    for folder in unfinished_runs(root):
        epoch = settled_epoch(read_metrics(folder / "metrics.jsonl"), level, epochs)
        if epoch is None:
            continue
        pids = running_pids(folder)
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        mark = {"epoch": epoch, "level": level, "epochs_at_level": epochs, "pids": pids}
        mark["stopped"] = time.strftime("%Y-%m-%d %H:%M:%S")
        write_json_atomic(folder / SETTLED_FILE, mark)
        stopped.append((folder, epoch))
    return stopped
