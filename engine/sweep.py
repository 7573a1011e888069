"""A sweep: a grid of train.py runs (a dataset's configs x noise settings x losses x --grid
points x seeds), planned with each run's resolved config and folder (engine/record.py), run
resumably on this machine's cores or packed onto devices, or written as a Slurm job array.
scripts/sweep.py is its command line; its docstring says what a user sees."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from .config import config_diff
from .grid import (
    DEFAULT_RATES,
    FOLLOWUP_DATASETS,
    FOLLOWUP_LOSSES,
    HUMAN_DATASETS,
    LOSSES,
    newer_losses,
)
from .record import (
    RecordError,
    coordinates,
    read_result,
    run_path,
    setting_text,
    variant_label,
)

ROOT = Path(__file__).resolve().parents[1]  # the repository: train.py and configs/


@dataclass
class Run:
    dataset: str
    kind: str
    setting: str  # the noise rate ("0.4"), or the label set of human noise ("worse")
    loss: str
    seed: int
    out: Path
    extra: list = field(default_factory=list)
    device: str | None = None  # set by the scheduler when the sweep has --devices
    cfg: dict | None = None  # the resolved config train.py will run (None: not checked)

    @property
    def config(self) -> Path:
        if self.kind == "human":
            return ROOT / "configs" / self.dataset / f"{self.loss}.yaml"
        return ROOT / "configs" / self.dataset / self.kind / f"{self.loss}.yaml"

    def command(self, python=sys.executable) -> list[str]:
        cmd = [
            python,
            str(ROOT / "train.py"),
            "--config",
            str(self.config),
            "--out",
            str(self.out),
            "--seed",
            str(self.seed),
            "--resume",
        ]
        if self.kind != "human":
            cmd += ["--noise-rate", self.setting]
        extra = list(self.extra)
        if self.kind == "human":  # extra ends with "--set ..."; the label set joins it
            extra.append(f"noise.label_set={self.setting}")
        if self.device:
            extra.append(f"train.device={self.device}")
        return cmd + extra

    @property
    def name(self) -> str:
        return "/".join(self.out.parts[-5:])


class SweepError(Exception):
    """A mistyped option or config: one line, exit 2."""


def floats(text: str, option: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()] if text else []
    except ValueError:
        raise SweepError(
            f"{option} {text!r}: give numbers separated by commas, e.g. {option} 0.2,0.4"
        ) from None


def integers(text: str, option: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = []
    if not values or any(v < 0 for v in values):
        raise SweepError(
            f"{option} {text!r}: give integers >= 0 separated by commas, e.g. {option} 0,123,515"
        )
    return values


def grid_points(grid: list[str]) -> list[list[str]]:
    """--grid KEY=V1,V2 (repeatable) -> every combination as a list of KEY=V settings."""
    axes = []
    for item in grid or []:
        key, _, values = item.partition("=")
        choices = [v.strip() for v in values.split(",") if v.strip()]
        if not key.strip() or not choices:
            raise SweepError(f"--grid {item!r}: give KEY=V1,V2,... e.g. --grid loss.beta=1,10,100")
        axes.append([f"{key.strip()}={v}" for v in choices])
    points = [[]]
    for axis in axes:
        points = [point + [setting] for point in points for setting in axis]
    return points


def plan(args, run: Run, sets: list[str]) -> Run:
    """The run with its resolved config and its own directory: the config file, the setting,
    the seed, the recipe and every --set/--grid value, named by what it changes against the
    config file (engine/record.py variant_label)."""
    from .experiment import load_config
    from .record import baseline_config

    overrides = {
        "train.seed": run.seed,
        "recipe": args.recipe,
        "train.epochs": args.epochs,
        "dataset.train_subset": args.train_subset,
    }
    if run.kind == "human":
        sets = sets + [f"noise.label_set={run.setting}"]
    else:
        overrides["noise.rate"] = float(run.setting)
    cfg = load_config(run.config, overrides=overrides, sets=sets)
    variant = variant_label(cfg, baseline_config(run.config, cfg, load_config))
    out = run_path(
        args.out,
        coordinates(cfg, run.loss, variant)._replace(
            dataset=run.dataset, kind=run.kind, setting=run.setting
        ),
    )
    return replace(run, out=out, cfg=cfg)


def build_runs(args) -> list[Run]:
    if args.dataset in HUMAN_DATASETS:
        available = sorted(p.stem for p in (ROOT / "configs" / args.dataset).glob("*.yaml"))
    else:
        available = (
            LOSSES
            + (FOLLOWUP_LOSSES if args.dataset in FOLLOWUP_DATASETS else [])
            + newer_losses(args.dataset)
        )
    losses = (
        args.losses.split(",")
        if args.losses
        else (available if args.dataset in HUMAN_DATASETS else LOSSES)
    )
    unknown = [loss for loss in losses if loss not in available]
    if unknown:
        raise SweepError(
            f"no config for loss(es) {unknown} on {args.dataset}; choose from {','.join(available)}"
        )
    rates = {
        "sym": floats(args.sym_rates, "--sym-rates")
        if args.sym_rates is not None
        else DEFAULT_RATES["sym"],
        "asym": floats(args.asym_rates, "--asym-rates")
        if args.asym_rates is not None
        else DEFAULT_RATES["asym"],
    }
    for kind, values in rates.items():
        bad = [r for r in values if not 0 <= r < 1]
        if bad:
            raise SweepError(f"--{kind}-rates {bad} outside [0, 1)")
    seeds = integers(args.seeds, "--seeds")
    kinds = [k for k in args.kinds.split(",") if k]
    if not kinds or any(k not in DEFAULT_RATES for k in kinds):
        raise SweepError(f"--kinds {args.kinds!r}: give sym, asym or sym,asym")
    extra = ["--data-root", args.data_root] if args.data_root else []
    if args.recipe:
        extra += ["--recipe", args.recipe]
    if args.epochs:
        extra += ["--epochs", str(args.epochs)]
    if args.train_subset:
        extra += ["--train-subset", str(args.train_subset)]
    sets = ["train.progress=false"] + list(args.set or [])
    if args.dataset in HUMAN_DATASETS:
        label_sets = args.label_sets.split(",") if args.label_sets else HUMAN_DATASETS[args.dataset]
        bad = [s for s in label_sets if s not in HUMAN_DATASETS[args.dataset]]
        if bad:
            raise SweepError(
                f"unknown label set(s) {bad}; choose from {HUMAN_DATASETS[args.dataset]}"
            )
        settings = {"human": label_sets}
    else:
        settings = {kind: [setting_text(r) for r in rates[kind]] for kind in kinds}
    runs = []
    for kind, values in settings.items():
        for setting in values:
            for loss in losses:
                for point in grid_points(args.grid):
                    for seed in seeds:
                        run = Run(
                            args.dataset,
                            kind,
                            setting,
                            loss,
                            seed,
                            Path(),
                            extra + ["--set", *sets, *point],
                        )
                        runs.append(plan(args, run, sets + point))
    return runs


def thread_sets(args, pool: DevicePool) -> list[str]:
    """Parallel runs share the cores: each gets cores // (runs at once) threads unless --set
    says (a GPU job needs its cores too: Python, kernel launches, the batch indices)."""
    if pool.size == 1 or any(s.startswith("train.threads=") for s in args.set or []):
        return []
    return [f"train.threads={max(1, (os.cpu_count() or 1) // pool.size)}"]


def thread_note(args, pool: DevicePool) -> str | None:
    """The sweep changes a setting behind the user's back only here: say so."""
    sets = thread_sets(args, pool)
    if not sets:
        return None
    return (
        f"note: {pool.describe()} on {os.cpu_count()} cores: every run gets --set "
        f"{sets[0]} (the thread count changes results in the last digits; each epoch's "
        f"count is in metrics.jsonl). Pass --set train.threads=N to choose"
    )


# ---- packing runs onto devices -----------------------------------------------------------

# --jobs-per-device auto on a GPU: a conservative table by model, (runs at once, GiB each).
# The paper's small CNNs at batch 128 leave most of a GPU idle (kernel launches, not FLOPs,
# bound their steps), so several processes overlap; ResNet-34 on CIFAR-100 fills more of it.
# The GiB include the CUDA context (~0.5 GiB) and the uint8 training set on the device.
AUTO_JOBS = {"cnn4": (4, 1.5), "cnn8": (3, 2.0), "resnet18": (2, 3.0), "resnet34": (2, 4.0)}
AUTO_JOBS_DEFAULT = (1, 8.0)


class DevicePool:
    """Slots for runs at once: `per_device` on each device. acquire() hands out devices in
    round-robin order, skipping full ones, and blocks while every device is full, so no device
    ever runs more than `per_device` runs. Device None: no train.device is set (--jobs)."""

    def __init__(self, devices: list, per_device: int, label: str | None = None):
        self.devices, self.per_device = list(devices), per_device
        self.busy = {d: 0 for d in self.devices}
        self.cursor = 0
        self.cond = threading.Condition()
        self.label = label

    @property
    def size(self) -> int:
        return len(self.devices) * self.per_device

    def describe(self) -> str:
        return self.label or f"{self.per_device} runs at once on each of {','.join(self.devices)}"

    def acquire(self):
        with self.cond:
            while True:
                for k in range(len(self.devices)):
                    device = self.devices[(self.cursor + k) % len(self.devices)]
                    if self.busy[device] < self.per_device:
                        self.busy[device] += 1
                        self.cursor = (self.cursor + k + 1) % len(self.devices)
                        return device
                self.cond.wait()

    def release(self, device) -> None:
        with self.cond:
            self.busy[device] -= 1
            self.cond.notify()


def parse_devices(text: str) -> list[str]:
    """'auto': every visible CUDA GPU, else the CPU; else a comma list of cpu / cuda:N."""
    if text == "auto":
        import torch

        return [f"cuda:{i}" for i in range(torch.cuda.device_count())] or ["cpu"]
    devices = [d.strip() for d in text.split(",") if d.strip()]
    bad = [d for d in devices if not re.fullmatch(r"cpu|cuda(:\d+)?", d)]
    if bad or not devices or len(set(devices)) != len(devices):
        raise SweepError(
            f"--devices {text!r}: give distinct cpu / cuda:N names or auto, "
            f"e.g. --devices cuda:0,cuda:1"
        )
    return devices


def auto_jobs_per_device(devices: list[str], model: str) -> int:
    """The rule of --jobs-per-device auto: the CPU runs one run at a time (a run already uses
    every core); a GPU runs AUTO_JOBS[model] at once, fewer if its free memory holds fewer,
    and never more runs in all than CPU cores (each run's Python process needs one)."""
    if not any(d.startswith("cuda") for d in devices):
        return 1
    import torch

    jobs, gib = AUTO_JOBS.get(model, AUTO_JOBS_DEFAULT)
    free = min(torch.cuda.mem_get_info(torch.device(d))[0] for d in devices) / 2**30
    cores = max(1, (os.cpu_count() or 1) // len(devices))
    return max(1, min(jobs, int(free // gib), cores))


def build_pool(args, runs: list[Run]) -> DevicePool:
    if not args.devices:
        if args.jobs_per_device:
            raise SweepError("--jobs-per-device needs --devices (e.g. --devices auto)")
        return DevicePool([None], args.jobs, label=f"--jobs {args.jobs}")
    if args.jobs != 1:
        raise SweepError(
            "--jobs counts runs on this machine without a device; with --devices "
            "use --jobs-per-device"
        )
    devices = parse_devices(args.devices)
    per_device = args.jobs_per_device or "1"
    if per_device == "auto":
        from .experiment import load_config

        per_device = auto_jobs_per_device(devices, load_config(runs[0].config)["model.name"])
    elif not per_device.isdigit() or int(per_device) < 1:
        raise SweepError(f"--jobs-per-device {per_device!r}: give a number >= 1 or auto")
    return DevicePool(devices, int(per_device))


def with_threads(runs: list[Run], sets: list[str]) -> list[Run]:
    # extra ends with the --set items (build_runs), so the thread setting joins them
    return [replace(r, extra=r.extra + sets) for r in runs] if sets else runs


SWEEP_STARTED = time.time()
INTERRUPTED_CODES = {130, 143, -2, -15}  # train.py stopped by SIGINT/SIGTERM (or killed by it)


def finished_status(run: Run) -> tuple[str, str]:
    """A finished run in this run's directory is this run only if it trained this config:
    the same question train.py asks before it skips or resumes."""
    if run.cfg is None:
        return "skipped", "already finished"
    try:
        finished = read_result(run.out)
    except RecordError as e:
        return "failed", str(e)
    diff = config_diff(finished["config"], run.cfg)
    if diff:
        return "refused", (
            f"holds a finished run of another config ({'; '.join(diff)}); move "
            f"it away or pass --out to another folder"
        )
    return "skipped", "already finished"


def execute(run: Run) -> tuple[str, str]:
    """Run one training to completion; returns (status, detail)."""
    if (run.out / "result.json").is_file():
        return finished_status(run)
    failed = run.out / "failed.json"
    run.out.mkdir(parents=True, exist_ok=True)
    claim = os.open(run.out / ".sweep.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return "skipped", "running in another sweep process"
        if (run.out / "result.json").is_file():  # finished while we waited for the claim
            return finished_status(run)
        if failed.is_file() and failed.stat().st_mtime >= SWEEP_STARTED:
            # failed in a concurrent sweep after this one started: retried by the next re-run
            return "skipped", "failed in another sweep process just now"
        start = time.time()
        with open(run.out / "train.log", "a") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(run.command())}\n")
            log.flush()
            code = subprocess.call(run.command(), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        if (run.out / "result.json").is_file():
            # finished, even if a Ctrl-C reached it after result.json was written
            failed.unlink(missing_ok=True)
            top1 = json.loads((run.out / "result.json").read_text())["last"]["test_top1"]
            late = f" (then exit {code})" if code else ""
            return "done", f"top-1 {top1:.2f} in {time.time() - start:.0f}s{late}"
        if code in INTERRUPTED_CODES:
            return "interrupted", f"stopped by a signal (exit {code}); a re-run resumes it"
        tail = (run.out / "train.log").read_text().strip().splitlines()[-3:]
        error = next(
            (line for line in reversed(tail) if line.startswith("error:")), tail[-1] if tail else ""
        )
        failed.write_text(
            json.dumps(
                {
                    "exit_code": code,
                    "error": error,
                    "command": shlex.join(run.command()),
                    "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                },
                indent=2,
            )
        )
        return "failed", f"exit {code}: {error}"
    finally:
        os.close(claim)


def write_slurm(runs: list[Run], path: Path, args) -> None:
    commands = path.with_suffix(".commands")
    commands.write_text("".join(shlex.join(r.command("python")) + "\n" for r in runs))
    path.write_text(f"""#!/bin/bash
# Slurm job array for {len(runs)} runs of scripts/sweep.py --dataset {args.dataset}.
# One array task per line of {commands.name}; each run resumes if its checkpoint exists.
#SBATCH --job-name=nln-{args.dataset}
#SBATCH --array=0-{len(runs) - 1}
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=4
#SBATCH --time=24:00:00
#SBATCH --output=slurm-%A_%a.out
set -euo pipefail
cd {shlex.quote(str(ROOT))}
cmd=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {shlex.quote(str(commands.resolve()))})
echo "$cmd"
eval "$cmd"
""")
    print(
        f"wrote {path} ({len(runs)} array tasks) and {commands}; submit with: "
        f"sbatch {shlex.quote(str(path))}"
    )


def run_sweep(args, argv) -> int:
    if args.jobs < 1:
        raise SweepError("--jobs must be >= 1")
    # every path the user typed means what it means where they typed it: the trainings run
    # from the repository root
    args.out = Path(args.out).resolve()
    args.data_root = args.data_root and str(Path(args.data_root).resolve())
    runs = build_runs(args)
    pool = build_pool(args, runs)
    runs = with_threads(runs, thread_sets(args, pool))
    note = thread_note(args, pool)
    if note:
        print(note)
    if args.slurm:
        write_slurm(runs, args.slurm.resolve(), args)
        return 0
    if args.dry_run:
        for r in runs:
            state = (
                "finished"
                if (r.out / "result.json").is_file()
                else "failed"
                if (r.out / "failed.json").is_file()
                else "interrupted"
                if (r.out / "checkpoints/last.pt").is_file()
                else "todo"
            )
            print(f"{state:12s} {r.name}")
        return 0
    print(f"{len(runs)} runs -> {args.out} ({pool.describe()})")
    results = {}
    finished, interrupted = run_all(runs, pool)
    for run, status, detail in finished:
        results.setdefault(status, []).append((run, detail))
    counts = {
        s: len(results.get(s, [])) for s in ("done", "failed", "refused", "skipped", "interrupted")
    }
    print(
        f"summary: {counts['done']} done, {counts['failed']} failed, {counts['skipped']} skipped"
        + "".join(f", {counts[s]} {s}" for s in ("refused", "interrupted") if counts[s])
    )
    for status in ("failed", "refused"):
        for run, detail in results.get(status, []):
            print(f"  {status}: {run.name}: {detail} (log: {run.out / 'train.log'})")
    print(
        f"resume or retry with the same command: {shlex.join([sys.argv[0], *(argv or sys.argv[1:])])}"
    )
    if interrupted:
        return 130
    return 1 if counts["failed"] or counts["refused"] else 0


def run_all(runs: list[Run], slots: DevicePool, execute=execute) -> tuple[list[tuple], bool]:
    """([(run, status, detail) per run started], interrupted), each run on a device from
    `slots`. On Ctrl-C (which
    the trainings receive too: they checkpoint and exit) no further run starts, and the
    running ones are waited for, so each is reported by what it left behind (result.json:
    done), not as a failure."""
    stop = threading.Event()

    def one(run):
        if stop.is_set():
            return None
        device = slots.acquire()
        try:
            run = replace(run, device=device)
            status, detail = execute(run)
        finally:
            slots.release(device)
        where = f" on {device}" if device else ""
        print(f"[{status}] {run.name}{where}: {detail}", flush=True)
        return run, status, detail

    pool = ThreadPoolExecutor(max_workers=slots.size)
    futures = [pool.submit(one, run) for run in runs]
    try:
        for future in futures:
            future.result()
    except KeyboardInterrupt:
        stop.set()
        print(
            "interrupted: waiting for the running trainings to write their checkpoints", flush=True
        )
    pool.shutdown(wait=True, cancel_futures=True)
    return (
        [f.result() for f in futures if not f.cancelled() and f.result() is not None],
        stop.is_set(),
    )
