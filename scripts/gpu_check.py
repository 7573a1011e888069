#!/usr/bin/env python
"""First contact with a GPU: one command that checks every CUDA path and times the paper's
models, in under 8 minutes, into one JSON.

    python scripts/gpu_check.py --data-root data            # on one CUDA GPU: ~6-7 min
    python scripts/gpu_check.py --dry-run --models mnist     # the same logic on the CPU

Three parts, each with its own time budget; a part that fails or runs out of time is recorded
in the JSON (status, error) and the next one still runs:
  tests:       the pytest tier marked `cuda` (tests/test_cuda.py: a training step per loss
               family under fp32/bf16/fp16 autocast, resume bit-exactness, nvJPEG decoding
               against PIL, a 1-process NCCL DDP run) in a subprocess; pass/fail/skip counts
               and the failures' messages;
  timing:      scripts/benchmark.py's measurements on this device: the fast pipeline, the
               reference pipeline (dataset.pipeline=reference) and the authors' own training
               step (scripts/official_apl.py) for MNIST and CIFAR-10 (CIFAR-100: synthetic
               images, ours only), plus the device's fp32 GEMM peak;
  loading:     scripts/benchmark_loading.py on this device: mini-WebVision's file pipeline with
               PIL in DataLoader workers against datasets/device_decode.py (torchvision's
               decode_jpeg, nvJPEG on a GPU, with the augmentation batched on the device), on
               synthetic JPEGs of WebVision's shape: which `dataset.decode` to use here;
  projection:  the wall time of each paper table on this device, one run after another: the
               sum over the table's runs (scripts/sweep.py's default grid: losses x rates x
               seeds) of each run's epochs (its config: 50 / 120 / 200, NLNL longer) x the
               measured epoch time of each pipeline.
The JSON (--out) also holds the GPU's name and memory and the torch / CUDA / cuDNN versions; it
is rewritten after every part, so an interrupted check leaves what it measured.
Without a CUDA device (or with --dry-run) it runs on the CPU with tiny step counts: the cuda
tests skip, the timings are the CPU's, and the JSON says "mode": "dry-run".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repository root holds the packages
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli import HelpFormatter  # noqa: E402
from perf.gpu_check import PROJECTED_DATASETS, run_check  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    p.add_argument("--out", type=Path, default=Path("gpu_check.json"), help="the JSON to write")
    p.add_argument(
        "--data-root",
        default="data",
        help="real MNIST / CIFAR-10 (the authors' code needs them); else synthetic",
    )
    p.add_argument(
        "--models", default=",".join(PROJECTED_DATASETS), help="models to time (benchmark.py keys)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="DataLoader workers of the reference pipeline and the authors' code",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="run on the CPU with tiny step counts (automatic without CUDA)",
    )
    p.add_argument(
        "--steps",
        type=int,
        help="timed steps per measurement (unset: 100 on a GPU, 2 in a dry run)",
    )
    p.add_argument(
        "--tests-budget",
        type=float,
        help="seconds for the cuda tests (unset: 210 on a GPU, 120 in a dry run)",
    )
    p.add_argument(
        "--timing-budget",
        type=float,
        help="seconds for the timings (unset: 240 on a GPU, 300 in a dry run)",
    )
    return p


def check_out(path: Path) -> str | None:
    """--out is replaced only where it is an earlier report of this command."""
    if not path.exists():
        return None
    try:
        ours = "environment" in json.loads(path.read_text())
    except (ValueError, OSError, TypeError):
        ours = False
    return (
        None
        if ours
        else (f"{path} exists and is not a report of gpu_check.py; pass --out to write elsewhere")
    )


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    problem = check_out(args.out)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return run_check(args)


if __name__ == "__main__":
    sys.exit(main())
