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
import tempfile
from pathlib import Path
from typing import NamedTuple

from .checkpoint import capture_rng, load_checkpoint, save_checkpoint
from .config import config_diff, to_yaml
from .errors import CheckpointError, OutputDirError
from .io import numpy_save_atomic, write_json_atomic, write_text_atomic

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
    from .config import loss_kwargs
    from .experiment import loss_label  # the one door to the domain packages
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


def read_metrics(path: Path) -> list[dict]:
    """The per-epoch rows of a metrics.jsonl (write_metrics), in order."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def read_result(out: Path) -> dict | None:
    path = Path(out) / "result.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, OSError):
        raise OutputDirError(f"{path} exists but is unreadable; delete it to re-run") from None


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
        raise OutputDirError(f"output directory {path} is not writable: {problem}; "
                             f"pick another --out or fix its permissions")


# ---- a run directory in use -----------------------------------------------------------------

def inspect_run_dir(out: Path, cfg: dict, resume: bool, force: bool):
    """(finished result or None, has a checkpoint); errors if the directory holds a run that
    this command must not touch. Reads only: nothing is written yet."""
    check_writable(out)
    finished = read_result(out)
    has_checkpoint = (out / CHECKPOINT).is_file()
    if finished is not None or has_checkpoint:
        if not resume:
            what = "a finished run (result.json)" if finished else "an unfinished run (checkpoint)"
            raise OutputDirError(f"{out} already holds {what}; pass --resume to continue it, "
                                 f"or choose another --out")
        if finished is not None:
            diff = config_diff(finished.get("config", {}), cfg)
            if diff and not force:
                raise OutputDirError(f"{out} holds a different finished run; differences: "
                                     f"{'; '.join(diff)}. Choose another --out")
    elif resume:
        # sweeps pass --resume to every run, so a fresh start is right; but say so
        print(f"note: {out} holds nothing to resume (no checkpoint); starting a fresh run")
    return finished, has_checkpoint


# Keys that differ between commands without changing the run: not worth a record.
COSMETIC = {"out", "train.progress"}


def read_checkpoint(path: Path, cfg: dict, labels_sha256: str, force: bool, device) -> dict:
    """The checkpoint, checked against this command, with this resume's record appended to
    ckpt["resumes"]: what changed (also harmless keys such as train.threads) at which
    epoch/step, and whether --force-resume let a change that matters through."""
    ckpt = load_checkpoint(path, map_location=device)
    labels = ([] if ckpt["noisy_labels_sha256"] == labels_sha256 else
              ["the noisy training labels differ (noise seed, rate, kind or data)"])
    problems = config_diff(ckpt["config"], cfg) + labels
    if problems and not force:
        raise CheckpointError(f"refusing to resume {path.parent.parent}: {'; '.join(problems)}. "
                              f"Undo the change, or pass --force-resume")
    changes = config_diff(ckpt["config"], cfg, ignore=COSMETIC) + labels
    ckpt["resumes"] = list(ckpt.get("resumes", []))
    if changes:
        ckpt["resumes"].append({"epoch": ckpt["epoch"], "step": ckpt.get("step", 0),
                                "changes": changes, "forced": bool(problems)})
    return ckpt


class RunDirectory:
    """What rank 0 writes into a run directory while it trains: it owns the lock, writes the
    files of the start (config.yaml, noise.json, the labels), a checkpoint per epoch (and on a
    stop), metrics.jsonl/summary.csv and TensorBoard per epoch, and result.json at the end.
    Every method is called on every process; only rank 0 writes."""

    def __init__(self, out: Path, dist):
        self.out, self.dist = Path(out), dist
        self.lock = self.tb = None

    def open(self, cfg: dict, resumes: list, noise_summary: dict, noisy_labels, val_idx,
             history: list) -> None:
        self.dist.on_main(self._open, cfg, resumes, noise_summary, noisy_labels, val_idx,
                          history)  # a failure there (the run is locked) stops every rank

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
            save_checkpoint(self.out / CHECKPOINT, payload(rng_ranks))

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
    lines = [f"# resumed at epoch {r['epoch']} step {r['step']}"
             f"{' with --force-resume' if r['forced'] else ''}: {'; '.join(r['changes'])}"
             for r in resumes]
    return "\n".join(lines + ["# (also in result.json 'resumes'; threads per epoch in "
                               "metrics.jsonl)"]) + "\n"


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
