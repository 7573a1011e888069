"""The one-command check of a GPU (scripts/gpu_check.py is its command line; its docstring says
what each part does): the cuda test tier, the timings of perf/benchmark.py, the file
pipeline both ways, and the projected wall time of the paper's tables, into one JSON."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from engine.grid import DEFAULT_RATES, DEFAULT_SEEDS, LOSSES
from engine.io import write_json_atomic

from . import benchmark

ROOT = Path(__file__).resolve().parents[1]

CUDA_TESTS = ["tests/test_cuda.py"]  # where the tier marked `cuda` lives
PROJECTED_DATASETS = ("mnist", "cifar10", "cifar100")
MIN_PART_S = 5  # a part with less time left than this is skipped, not started
# (on a GPU, in a dry run): steps, warm-up steps, tests budget s, timing budget s. The GPU
# budgets add up to 7.5 min with the start-up; the dry ones keep CI short.
SIZES = {False: (100, 10, 210, 240), True: (2, 1, 120, 300)}
LOADING_BUDGET_S = 60


def environment(device: str) -> dict:
    import torch

    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "host": platform.node(),
        "cpu_cores": os.cpu_count(),
        "device": device,
        "gpu": None,
    }
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        env["gpu"] = {
            "name": props.name,
            "memory_gib": props.total_memory / 2**30,
            "capability": f"{props.major}.{props.minor}",
            "multiprocessors": props.multi_processor_count,
            "bf16_supported": torch.cuda.is_bf16_supported(),
        }
    return env


# ---- part 1: the cuda test tier ---------------------------------------------------------------


def junit_counts(xml_path: Path) -> dict:
    """pass/fail/error/skip counts and each failure's first line, from pytest's junit XML."""
    suite = ET.parse(xml_path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    problems, skips = [], []
    for case in suite.iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        for tag, into in (("failure", problems), ("error", problems), ("skipped", skips)):
            found = case.find(tag)
            if found is not None:
                first = (found.get("message") or "").splitlines()[:1]
                into.append(f"{name}: {first[0] if first else tag}")
    return {
        **counts,
        "problems": problems,
        "skip_reasons": sorted(set(s.split(": ", 1)[1] for s in skips)),
    }


def run_tests(budget: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "cuda.xml"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-m",
            "cuda",
            "-p",
            "no:cacheprovider",
            f"--junitxml={xml}",
            *CUDA_TESTS,
        ]
        code, stdout, stderr = run_group(cmd, budget)
        if not xml.is_file():
            raise RuntimeError(
                f"pytest wrote no report (exit {code}): {stdout[-500:]}{stderr[-500:]}"
            )
        return {"exit_code": code, **junit_counts(xml), "summary": stdout.strip().splitlines()[-1:]}


def run_group(cmd: list[str], budget: float) -> tuple[int, str, str]:
    """Run cmd in its own process group; past the budget the whole group is killed, so the
    trainings and torchrun the tests started do not keep the GPU busy for the next part."""
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return proc.returncode, stdout, stderr


# ---- part 2: timings --------------------------------------------------------------------------


def benchmark_args(args, device: str, steps: int, warmup: int):
    return benchmark.settings(
        models=args.models,
        pipelines="reference,fast",
        steps=steps,
        warmup=warmup,
        data_root=args.data_root,
        workers=args.workers,
        device=device,
        json=True,
    )


def run_timing(bargs, budget: float) -> dict:
    """benchmark.py's GEMM peak and per-model measurements, each worker limited to the time
    left; a model that fails or runs out of time is recorded and the next one still runs."""
    deadline = time.monotonic() + budget
    bargs.worker_timeout = budget
    out = {"machine": benchmark.machine(bargs), "models": {}}
    for model_key in bargs.models.split(","):
        left = deadline - time.monotonic()
        if left < MIN_PART_S:
            out["models"][model_key] = {"status": "skipped", "error": "timing budget spent"}
            continue
        bargs.worker_timeout = left
        try:
            row = benchmark.benchmark_model(bargs, model_key, out["machine"]["gemm_fp32"])
            out["models"][model_key] = {"status": "ok", **row}
        except (benchmark.WorkerFailed, SystemExit) as e:
            out["models"][model_key] = {"status": "failed", "error": str(e)}
    return out


# ---- part 3: the file pipeline, PIL in workers against decoding on the device --------------

LOADING = {False: ("512", "8", "64"), True: ("32", "2", "8")}  # images, batches, batch size


def run_loading(device: str, workers: int, dry: bool, budget: float) -> dict:
    images, batches, batch = LOADING[dry]
    cmd = [
        sys.executable,
        str(ROOT / "scripts/benchmark_loading.py"),
        "--synthetic",
        images,
        "--batches",
        batches,
        "--batch",
        batch,
        "--workers",
        str(max(workers, 1)),
        "--device",
        device,
        "--json",
    ]
    code, stdout, stderr = run_group(cmd, budget)
    if code != 0:
        raise RuntimeError(f"benchmark_loading.py exit {code}: {stderr.strip()[-500:]}")
    return json.loads(stdout.strip().splitlines()[-1])


# ---- part 4: projected wall time of the paper's tables ----------------------------------------


def table_runs(dataset: str) -> dict:
    """{kind: [epochs of each run]} of the paper's table for `dataset`: the default grid of the
    sweep (engine/grid.py: its losses, rates and seeds), each run's epochs from its config."""
    from engine.experiment import load_config

    table = {}
    for kind, rates in DEFAULT_RATES.items():
        for loss in LOSSES:
            epochs = load_config(ROOT / "configs" / dataset / kind / f"{loss}.yaml")["train.epochs"]
            table.setdefault(kind, []).extend([epochs] * (len(rates) * len(DEFAULT_SEEDS)))
    return table


def epoch_times(timing: dict, dataset: str) -> dict:
    """Measured seconds per epoch of each pipeline (and the authors' code) for `dataset`."""
    row = timing.get("models", {}).get(dataset, {})
    times = dict(row.get("epoch_s", {}))
    if "official_epoch_s" in row:
        times["official"] = row["official_epoch_s"]
    return times


def projection(timing: dict) -> dict:
    """Per dataset and noise kind: runs, epochs and runs x epochs x epoch time per pipeline,
    one run after another (scripts/sweep.py --jobs-per-device runs several at once)."""
    out = {}
    for dataset in PROJECTED_DATASETS:
        times = epoch_times(timing, dataset)
        tables = {}
        for kind, epochs in table_runs(dataset).items():
            tables[kind] = {
                "runs": len(epochs),
                "epochs": sum(epochs),
                "projected_s": {p: sum(epochs) * t for p, t in times.items()},
            }
        total = sum(t["epochs"] for t in tables.values())
        tables["total"] = {
            "runs": sum(t["runs"] for t in tables.values()),
            "epochs": total,
            "projected_s": {p: total * t for p, t in times.items()},
        }
        if not times:
            tables["note"] = f"no epoch time measured for {dataset}"
        out[dataset] = {"epoch_s": times, "tables": tables}
    return out


# ---- driver ----------------------------------------------------------------------------------


def timed_part(report: dict, name: str, out: Path, fn, *fn_args) -> None:
    """Run one part; its result or its failure goes into the report, which is written."""
    start = time.monotonic()
    try:
        report[name] = {"status": "ok", **fn(*fn_args)}
    except subprocess.TimeoutExpired as e:
        report[name] = {"status": "timeout", "error": f"ran past its budget of {e.timeout:.0f} s"}
    except Exception as e:  # recorded, not fatal: the next part still runs
        report[name] = {"status": "failed", "error": f"{type(e).__name__}: {e}"}
    report[name]["seconds"] = time.monotonic() - start
    print(f"{name}: {report[name]['status']} ({report[name]['seconds']:.0f} s)", flush=True)
    write_json_atomic(out, report)


def run_check(args) -> int:
    """The three timed parts and the projection, into one JSON rewritten after each part;
    0 when every part is ok and no cuda test failed."""
    import torch

    dry = args.dry_run or not torch.cuda.is_available()
    steps, warmup, tests_budget, timing_budget = SIZES[dry]
    steps = args.steps or steps
    device = "cpu" if dry else "cuda:0"
    report = {
        "mode": "dry-run" if dry else "gpu",
        "why_dry": None if not dry else ("--dry-run" if args.dry_run else "no CUDA device"),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "steps": steps,
        "warmup": warmup,
        "environment": environment(device),
    }
    write_json_atomic(args.out, report)
    timed_part(report, "tests", args.out, run_tests, args.tests_budget or tests_budget)
    timed_part(
        report,
        "timing",
        args.out,
        run_timing,
        benchmark_args(args, device, steps, warmup),
        args.timing_budget or timing_budget,
    )
    timed_part(
        report, "loading", args.out, run_loading, device, args.workers, dry, LOADING_BUDGET_S
    )
    timed_part(report, "projection", args.out, projection, report["timing"])
    tests = report["tests"]
    failed = tests.get("failures", 0) + tests.get("errors", 0)
    print(f"wrote {args.out}" + (f"; {failed} cuda test(s) failed" if failed else ""))
    return (
        0
        if failed == 0
        and all(report[p]["status"] == "ok" for p in ("tests", "timing", "loading", "projection"))
        else 1
    )
