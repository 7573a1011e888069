"""Small builders shared by train.py, evaluate.py and scripts/: device, seeding, optimiser,
schedule, autocast, the train subset, and the run-directory name."""
from __future__ import annotations

import contextlib
import os
import random
import tempfile
from pathlib import Path

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
        raise ConfigError(f"train.device {name!r} is not a device (use auto, cpu, cuda, cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device is cuda but no CUDA GPU is visible; use train.device=auto or cpu")
    return device


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


def subset_indices(n: int, size: int | None) -> np.ndarray | None:
    if size is None:
        return None
    if size > n:
        raise ConfigError(f"dataset.train_subset is {size} but the training set has only {n} samples")
    return np.sort(np.random.RandomState(seeds.SUBSET_SEED).permutation(n)[:size])


def noisy_val_split(n: int, fraction: float, seed: int):
    """(train indices, validation indices): a fixed random split of the noisy training set,
    a function of (n, fraction, noise seed) only. Validation samples keep their noisy labels
    and are excluded from training (the paper's selection protocol, spec §4.1, used 20 %)."""
    if fraction <= 0:
        return np.arange(n), None
    order = np.random.RandomState(seeds.val_split_seed(seed)).permutation(n)
    size = int(round(fraction * n))
    if size < 1 or size >= n:
        raise ConfigError(f"dataset.noisy_val_fraction {fraction} leaves no validation or no "
                          f"training samples out of {n}")
    return np.sort(order[size:]), np.sort(order[:size])


def dataset_options(cfg: dict, test_root: str | None = None) -> dict:
    """load_dataset's options for datasets read as files (webvision_mini). `.get` with the
    defaults: a checkpoint's config written before these keys existed lacks them."""
    return {"test_root": test_root or cfg.get("dataset.test_root"),
            "image_size": cfg.get("dataset.image_size"),
            "decode": cfg.get("dataset.decode", "cpu")}


def noise_inputs(cfg: dict, train_images, subset) -> dict:
    """Extra inputs of the noise kinds that need more than the labels."""
    kind = cfg["noise.kind"]
    if kind == "human":
        from noise.human import DEFAULT_FILES
        default = Path(cfg["dataset.root"]) / "cifar-n" / DEFAULT_FILES.get(cfg["dataset.name"], "")
        return {"label_file": cfg["noise.label_file"] or str(default),
                "label_set": cfg["noise.label_set"], "sample_indices": subset}
    if kind == "instance":
        if not isinstance(train_images, torch.Tensor):
            raise ConfigError(f"noise.kind=instance needs the images in memory; "
                              f"{cfg['dataset.name']} is read as files")
        features = train_images.reshape(len(train_images), -1).float().numpy() / 255.0
        return {"features": features, "norm_std": cfg["noise.norm_std"]}
    return {}


def build_optimizer(model: torch.nn.Module, cfg: dict, lr: float | None = None
                    ) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=cfg["optim.lr"] if lr is None else lr,
                           momentum=cfg["optim.momentum"], weight_decay=cfg["optim.weight_decay"],
                           nesterov=cfg["optim.nesterov"])


def build_scheduler(optimizer, cfg: dict, epochs: int | None = None):
    """Stepped once per epoch (spec §8.1): cosine to eta_min over `epochs` (default the run),
    or x gamma per step."""
    name = cfg["schedule.name"]
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=epochs or cfg["train.epochs"], eta_min=cfg["schedule.eta_min"])
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg["schedule.step_size"],
                                               gamma=cfg["schedule.gamma"])
    return constant_schedule(optimizer)


def constant_schedule(optimizer):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


# ---- training phases: loss.warmup_epochs of loss.warmup_loss, then loss.name -----------------

def loss_phase(cfg: dict, epoch: int) -> int:
    """0 during the warm-up, 1 after it (always 1 without a warm-up)."""
    return int(epoch >= cfg["loss.warmup_epochs"])


def optimiser_phase(cfg: dict, epoch: int) -> int:
    """1 once a fresh optimiser replaces the first (after the warm-up, with
    optim.lr_after_warmup set); else 0: one optimiser for the whole run."""
    fresh = cfg["loss.warmup_epochs"] > 0 and cfg["optim.lr_after_warmup"] is not None
    return int(fresh and loss_phase(cfg, epoch) == 1)


def build_phase_optimiser(model: torch.nn.Module, cfg: dict, phase: int):
    """(optimizer, scheduler) of an optimiser phase. With a fresh optimiser after the warm-up,
    the configured schedule spans the warm-up ([SUB]'s CE stage of DMI) and the second stage
    runs at the constant optim.lr_after_warmup."""
    if phase == 1:
        optimizer = build_optimizer(model, cfg, lr=cfg["optim.lr_after_warmup"])
        return optimizer, constant_schedule(optimizer)
    optimizer = build_optimizer(model, cfg)
    span = cfg["loss.warmup_epochs"] if optimiser_phase(cfg, cfg["train.epochs"]) else None
    return optimizer, build_scheduler(optimizer, cfg, epochs=span)


def check_writable(path: Path) -> None:
    """Fail early, before anything is written, if `path` cannot be created or written.
    A real probe file is used: os.access says yes to root even on a read-only mount."""
    from .errors import OutputDirError
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
