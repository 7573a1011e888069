"""Stopping a run that has settled at the constant predictor's accuracy (engine/settle.py):
which runs count as settled (hand-made curves), that the process training into the folder gets
SIGTERM and the folder its mark, and that finished or still-moving runs are left alone."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from engine.settle import read_settled, settled_epoch, stop_settled

REPO = Path(__file__).resolve().parents[1]


def rows(*accuracies):
    return [{"epoch": i + 1, "test_top1": a} for i, a in enumerate(accuracies)]


def test_settled_only_when_the_last_epochs_all_sit_at_the_level():
    assert settled_epoch(rows(90.0, 11.35, 11.35, 11.35), 11.35, 3) == 4
    assert settled_epoch(rows(90.0, 11.35, 11.35, 11.351), 11.35, 3) == 4  # percent rounding
    assert settled_epoch(rows(11.35, 11.35, 40.0, 11.35), 11.35, 3) is None  # came back once
    assert settled_epoch(rows(11.35, 11.35), 11.35, 3) is None  # too few epochs yet
    assert settled_epoch(rows(11.36, 11.36, 11.36), 11.35, 3) is None  # another level


def write_run(folder: Path, accuracies, finished=False) -> Path:
    folder.mkdir(parents=True)
    text = "".join(json.dumps(r) + "\n" for r in rows(*accuracies))
    (folder / "metrics.jsonl").write_text(text)
    if finished:
        (folder / "result.json").write_text("{}")
    return folder


# A stand-in for a training: exits 7 on SIGTERM, as train.py checkpoints and exits on it.
SLEEPER = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
    "print('ready', flush=True)\n"
    "time.sleep(120)\n"
    "sys.exit(0)\n"
)


def start_training_into(folder: Path, cwd: Path | None = None) -> subprocess.Popen:
    """A process with `--out folder` on its command line (relative to cwd when given)."""
    out = folder.relative_to(cwd) if cwd else folder
    proc = subprocess.Popen(
        [sys.executable, "-c", SLEEPER, "--out", str(out)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_a_settled_run_is_stopped_and_marked_the_others_left_alone(tmp_path):
    settled = write_run(tmp_path / "mnist/sym/0.4/nce@release/seed0", [92.0, 11.35, 11.35])
    moving = write_run(tmp_path / "mnist/sym/0.4/nce/seed0", [92.0, 95.0, 96.0])
    done = write_run(tmp_path / "mnist/sym/0.8/nce/seed0", [11.35, 11.35, 11.35], finished=True)
    # a folder whose name extends the settled one's must not be stopped with it
    neighbour = write_run(tmp_path / "mnist/sym/0.4/nce@release/seed01", [92.0, 93.0, 94.0])
    procs = {f: start_training_into(f) for f in (moving, neighbour)}
    procs[settled] = start_training_into(settled, cwd=tmp_path)  # --out relative to its cwd
    try:
        assert stop_settled(tmp_path, 11.35, 2) == [(settled, 3)]
        assert procs[settled].wait(timeout=30) == 7
        time.sleep(0.5)
        assert procs[moving].poll() is None and procs[neighbour].poll() is None
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
    mark = read_settled(settled)
    assert mark["epoch"] == 3 and mark["level"] == 11.35 and mark["epochs_at_level"] == 2
    assert mark["pids"] == [procs[settled].pid]
    assert read_settled(moving) is None and read_settled(done) is None
    # marked once: a second look finds nothing left to stop
    assert stop_settled(tmp_path, 11.35, 2) == []


def test_the_command_refuses_a_missing_root(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts/stop_settled.py"), str(tmp_path / "nope"), "--once"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "is not a directory" in done.stderr
