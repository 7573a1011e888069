"""A run directory in use: who owns it (the lock), whether a command may start, resume or
reuse it, and what rank 0 writes into it while it trains. The layout, the names and the
readers are engine/record.py."""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

from .checkpoint import CHECKPOINT, capture_rng, save_checkpoint
from .config import config_diff, to_yaml
from .errors import OutputDirError
from .io import numpy_save_atomic, write_json_atomic, write_text_atomic
from .record import read_result, write_metrics


class RunLock:
    """An exclusive, non-blocking flock on <out>/.lock; released when the process dies."""

    def __init__(self, out: Path):
        self.path = Path(out) / ".lock"
        self.fd = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise OutputDirError(
                f"run directory {self.path.parent} is in use by another process "
                f"(pid {holder}); wait for it or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def lost(self) -> bool:
        """The lock file was unlinked under us: the run directory was deleted (or emptied)."""
        return self.fd is not None and os.fstat(self.fd).st_nlink == 0

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


def check_writable(path: Path) -> None:
    """Fail early, before anything is written, if `path` cannot be created or written.
    A real probe file is used: os.access says yes to root even on a read-only mount."""
    probe = Path(path)
    while not probe.exists():
        probe = probe.parent
    problem = None
    if not probe.is_dir():
        problem = f"{probe} is not a directory"
    else:
        try:
            with tempfile.TemporaryFile(dir=probe):
                pass
        except OSError as e:
            problem = f"cannot write in {probe} ({e.strerror})"
    if problem:
        raise OutputDirError(
            f"output directory {path} is not writable: {problem}; "
            f"pick another --out or fix its permissions"
        )


# ---- a run directory in use -----------------------------------------------------------------


def inspect_run_dir(out: Path, cfg: dict, resume: bool, force: bool):
    """(finished result or None, has a checkpoint); errors if the directory holds a run that
    this command must not touch. Reads only: nothing is written yet."""
    check_writable(out)
    finished = read_result(out)
    has_checkpoint = (out / CHECKPOINT).is_file()
    if finished is not None:  # another config first: --resume would not help
        diff = config_diff(finished.get("config", {}), cfg)
        if diff and not force:
            raise OutputDirError(
                f"{out} holds a different finished run; differences: "
                f"{'; '.join(diff)}. Choose another --out (or leave --out "
                f"unset: a run that changes its config gets a folder of its own)"
            )
    if finished is not None or has_checkpoint:
        if not resume:
            what = (
                "a finished run (result.json)"
                if finished and finished["status"] == "finished"
                else "a run stopped early (result.json)"
                if finished
                else "an unfinished run (checkpoint)"
            )
            raise OutputDirError(
                f"{out} already holds {what}; pass --resume to continue it, or choose another --out"
            )
    elif resume:
        # sweeps pass --resume to every run, so a fresh start is right; but say so
        print(f"note: {out} holds nothing to resume (no checkpoint); starting a fresh run")
    return finished, has_checkpoint


class RunDirectory:
    """What rank 0 writes into a run directory while it trains: it owns the lock, writes the
    files of the start (config.yaml, noise.json, the labels), a checkpoint per epoch (and on a
    stop), metrics.jsonl/summary.csv and TensorBoard per epoch, and result.json at the end.
    Every method is called on every process; only rank 0 writes."""

    def __init__(self, out: Path, dist):
        self.out, self.dist = Path(out), dist
        self.lock = self.tb = None

    def open(
        self, cfg: dict, resumes: list, noise_summary: dict, noisy_labels, val_idx, history: list
    ) -> None:
        self.dist.on_main(
            self._open, cfg, resumes, noise_summary, noisy_labels, val_idx, history
        )  # a failure there (the run is locked) stops every rank

    def _open(self, cfg, resumes, noise_summary, noisy_labels, val_idx, history) -> None:
        self.lock = RunLock(self.out).acquire()
        remove_stale_temp_files(self.out)
        write_text_atomic(self.out / "config.yaml", config_header(resumes) + to_yaml(cfg))
        write_json_atomic(self.out / "noise.json", noise_summary)
        numpy_save_atomic(self.out / "noisy_labels.npy", noisy_labels)
        if val_idx is not None:
            numpy_save_atomic(self.out / "noisy_val_indices.npy", val_idx)
        self.tb = fresh_tensorboard(self.out / "tb", history)

    def save(self, payload) -> None:
        """payload(rng_ranks) -> the checkpoint; every rank's RNG state is gathered into it."""
        rng_ranks = self.dist.gather_object(capture_rng()) if self.dist.enabled else None
        if self.dist.is_main:
            self.check_present()
            save_checkpoint(self.out / CHECKPOINT, payload(rng_ranks))

    def check_present(self) -> None:
        """Writing into a deleted run directory would recreate it with a few files and no
        record of the start: stop instead."""
        if self.lock is not None and self.lock.lost():
            raise OutputDirError(
                f"run directory {self.out} was deleted while the run trained; "
                f"the run stops (start it again, with another --out if the "
                f"deletion was meant)"
            )

    def log_epoch(self, history: list) -> None:
        if self.dist.is_main:
            write_metrics(self.out, history)
            tensorboard_row(self.tb, history[-1])
            self.tb.flush()

    def finish(self, result: dict) -> None:
        self.tb.close()
        write_json_atomic(self.out / "result.json", result)
        self.release()

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()


def config_header(resumes: list) -> str:
    """config.yaml holds the config in force now; a run resumed with changes says so on top."""
    if not resumes:
        return ""
    lines = [
        f"# resumed at epoch {r['epoch']} step {r['step']}"
        f"{' with --force-resume' if r['forced'] else ''}: {'; '.join(r['changes'])}"
        for r in resumes
    ]
    return (
        "\n".join(lines + ["# (also in result.json 'resumes'; threads per epoch in metrics.jsonl)"])
        + "\n"
    )


def fresh_tensorboard(folder: Path, history: list):
    """A TensorBoard writer over a clean folder, replaying the epochs already done: a killed
    run's event file would otherwise stay beside the resumed one, with its stale epochs."""
    from torch.utils.tensorboard import SummaryWriter

    for stale in folder.glob("events.out.tfevents.*"):
        stale.unlink()
    tb = SummaryWriter(str(folder))
    for row in history:
        tensorboard_row(tb, row)
    return tb


def tensorboard_row(tb, row: dict) -> None:
    for key, value in row.items():
        # numbers only: the row also names the device its epoch ran on
        if key != "epoch" and isinstance(value, (int, float)):
            tb.add_scalar(key, value, row["epoch"])
