"""The process a run executes in: its device, threads, kernels, global seeds, autocast and
memory format."""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

from . import seeds
from .errors import ConfigError


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"train.device {name!r} is not a device (use auto, cpu, cuda, cuda:N)"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "train.device is cuda but no CUDA GPU is visible; use train.device=auto or cpu"
        )
    return device


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of one epoch's order and augmentation: a pure function of (seed, epoch),
    so a run resumed at an epoch boundary replays exactly what an uninterrupted run would."""
    return torch.Generator().manual_seed(seeds.epoch_seed(seed, epoch))


def seed_everything(seed: int) -> None:
    """Python, NumPy and torch (CPU and CUDA) global generators ([SUB] seeds NumPy and torch)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def configure_threads(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)


def configure_kernels(device: torch.device, deterministic: bool) -> None:
    """cuDNN benchmark picks the fastest kernels for the fixed input shapes, but its choice may
    differ between processes, so a resumed run could diverge in the last bits; deterministic
    mode trades that speed for bit-exact reruns (tests/test_cuda.py checks resume with it)."""
    if deterministic:
        # cuBLAS reads this when it first starts; before any CUDA work of this process
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not deterministic


def autocast(device: torch.device, amp: str):
    if amp == "none":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def use_channels_last(setting: str, device: torch.device) -> bool:
    # channels_last is faster on both: cuDNN's tensor-core kernels want NHWC, and on the 2-core
    # AVX-512 CPU it cut an fp32 training step of cnn4 from 55.7 to 40.9 ms and of cnn8 from
    # 740 to 551 ms (batch 128; max-pool and BatchNorm are much faster in NHWC there).
    return setting in ("on", "auto")
