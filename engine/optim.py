"""The optimiser and its learning-rate schedule, and the training phases (a warm-up loss, then
the loss; DMI's fresh optimiser after the warm-up)."""

from __future__ import annotations

import torch


def build_optimizer(
    model: torch.nn.Module, cfg: dict, lr: float | None = None
) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        model.parameters(),
        lr=cfg["optim.lr"] if lr is None else lr,
        momentum=cfg["optim.momentum"],
        weight_decay=cfg["optim.weight_decay"],
        nesterov=cfg["optim.nesterov"],
    )


def build_scheduler(optimizer, cfg: dict, epochs: int | None = None):
    """Stepped once per epoch (spec §8.1): cosine to eta_min over `epochs` (default the run),
    or x gamma per step."""
    name = cfg["schedule.name"]
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=epochs or cfg["train.epochs"], eta_min=cfg["schedule.eta_min"]
        )
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=cfg["schedule.step_size"], gamma=cfg["schedule.gamma"]
        )
    return constant_schedule(optimizer)


def constant_schedule(optimizer):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


# ---- training phases: loss.warmup_epochs of loss.warmup_loss, then loss.name -----------------


def loss_phase(cfg: dict, epoch: int) -> int:
    """0 during the warm-up, 1 after it (always 1 without a warm-up)."""
    return int(epoch >= cfg["loss.warmup_epochs"])


def optim_phase(cfg: dict, epoch: int) -> int:
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
    span = cfg["loss.warmup_epochs"] if optim_phase(cfg, cfg["train.epochs"]) else None
    return optimizer, build_scheduler(optimizer, cfg, epochs=span)
