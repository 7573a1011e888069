#!/usr/bin/env python
"""Training throughput of this project's data path against the official pipeline, per model.

    python scripts/benchmark.py --steps 30                  # CPU: a few minutes
    python scripts/benchmark.py --steps 200 --json          # one JSON object on stdout
    python scripts/benchmark.py --models mnist --data-root data

For MNIST's 4-layer CNN, CIFAR-10's 8-layer CNN and CIFAR-100's ResNet-34 it times the same
training step (engine/step.py: forward, fp32 loss, backward, clip 5.0, SGD) fed by
  reference: torchvision-style Dataset + per-sample PIL transforms + DataLoader, fp32, NCHW
             (what the official code runs; DataLoader workers from --workers),
  fast:      uint8 tensor on the device + batched augmentation, channels_last
             (+ bf16 autocast on CUDA, the setting a GPU user would run),
  fast_bf16: the fast path with bf16 autocast (also on the CPU, where it is optional),
  official:  the authors' own train() (../shared/reference/official-apl, through
             scripts/official_apl.py): their DataLoader, model, loss, SGD step and per-step
             metrics, on the same real data, batch and threads; timed from their loader's side,
             so exactly --steps of their steps are counted (MNIST and CIFAR-10 only: it needs
             the real files; skipped with the reason where they or the code are missing),
each in a fresh subprocess (so peak memory is that pipeline's own), after --warmup steps.
The same run measures this machine's fp32 GEMM peak (a 2048x2048 matmul, best of 5, with the
measurements' threads) and reports each pipeline's throughput as a fraction of it, from the
model's training FLOPs per image (conv/linear MACs counted by hooks on one batch, x2 for FLOPs,
x3 for forward + backward), so figures from CPUs with and without AVX-512 can be compared. On
a CPU without native bf16 (no avx512_bf16/amx_bf16) it says that bf16 autocast is emulated.
Real data is used when found under --data-root (MNIST, CIFAR-10); otherwise, and always for
CIFAR-100 (not available offline), random uint8 images of the right shape, which cost the
same to load and augment. Epoch time is the training-set size divided by the throughput.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository root holds the packages
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli import HelpFormatter  # noqa: E402
from perf.benchmark import (  # noqa: E402
    DEFAULTS,
    MODELS,
    PIPELINES,
    WorkerFailed,
    benchmark_model,
    machine,
    print_row,
    worker,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    p.add_argument("--models", help=f"comma list of {','.join(MODELS)}")
    p.add_argument(
        "--pipelines",
        help="comma list of the pipelines to time (the authors' step is separate: --no-official)",
    )
    p.add_argument("--steps", type=int, help="timed training steps per measurement")
    p.add_argument(
        "--repeats",
        type=int,
        help="rounds of all pipelines, interleaved; the median round is reported",
    )
    p.add_argument("--warmup", type=int, help="untimed steps before the timed ones")
    p.add_argument(
        "--data-root", help="real MNIST / CIFAR-10 here, else synthetic images of the same shape"
    )
    p.add_argument(
        "--workers",
        type=int,
        help="DataLoader workers of the reference pipeline (the official runs used 0 "
        "on this CPU: more was slower, ../shared/docs/hardware-and-baselines.md)",
    )
    p.add_argument("--device", help="auto (cuda if available), cpu, cuda:N")
    p.add_argument(
        "--threads",
        type=int,
        help="torch threads in every measurement (default: torch's own, the same for all)",
    )
    p.add_argument("--no-official", action="store_true", help="skip the authors' own training step")
    p.add_argument(
        "--worker-timeout", type=float, help="seconds one measurement may take (unset: no limit)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--worker", nargs=2, metavar=("MODEL", "PIPELINE"), help=argparse.SUPPRESS)
    p.set_defaults(**DEFAULTS)  # perf/benchmark.py holds them, for callers in code too
    return p


def check_args(args) -> str | None:
    """The first mistyped option, as one line naming it and its allowed values."""
    for name, low in (("steps", 1), ("repeats", 1), ("warmup", 0), ("workers", 0)):
        if getattr(args, name) < low:
            return f"--{name} {getattr(args, name)}: must be >= {low}"
    if args.threads is not None and args.threads < 1:
        return f"--threads {args.threads}: must be >= 1"
    for option, given, allowed in (
        ("--models", args.models, MODELS),
        ("--pipelines", args.pipelines, PIPELINES),
    ):
        bad = [x for x in given.split(",") if x not in allowed]
        if bad or not given:
            return f"{option} {given!r}: choose from {','.join(allowed)}"
    return None


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    problem = check_args(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    try:
        report = {"machine": machine(args), "models": {}}
        peak = report["machine"]["gemm_fp32"]
        if not args.json:
            print(
                f"fp32 GEMM peak: {peak['gflops']:.0f} GFLOP/s ({peak['size']}x{peak['size']} "
                f"matmul, best of {peak['best_of']}, {peak['device']}, {peak['threads']} "
                f"threads)"
            )
            for note in report["machine"]["notes"]:
                print(note)
        for model_key in args.models.split(","):
            report["models"][model_key] = benchmark_model(args, model_key, peak)
            if not args.json:
                print_row(model_key, report["models"][model_key])
    except WorkerFailed as e:
        raise SystemExit(str(e)) from None
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
