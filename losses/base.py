"""The shared machinery of every loss: parameter declaration, validation, reduction, precision.

A loss subclasses `Loss`, declares its parameters and their defaults in `PARAMS`, and
implements `per_sample(logits, targets)`, which returns one value per sample. `forward`
applies the reduction. Numerics are done in float32 at least, outside autocast, because
several losses (NCE's denominator, GCE's p**q, RCE's clamps) lose their meaning in bf16/fp16.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

REDUCTIONS = ("mean", "sum", "none")


def check_finite_number(name: str, value, *, minimum: float | None = None,
                        minimum_inclusive: bool = True, maximum: float | None = None) -> float:
    """Return `value` as a float, or raise ValueError naming the parameter and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"loss parameter {name!r} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"loss parameter {name!r} must be finite, got {value}")
    if minimum is not None and (value < minimum or (value == minimum and not minimum_inclusive)):
        bound = ">=" if minimum_inclusive else ">"
        raise ValueError(f"loss parameter {name!r} must be {bound} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"loss parameter {name!r} must be <= {maximum}, got {value}")
    return value


def reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def as_float(logits: torch.Tensor) -> torch.Tensor:
    """Half-precision logits are promoted to float32; float32/float64 stay as they are
    (float64 keeps `gradcheck` meaningful)."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        return logits.float()
    return logits


def one_minus_prob(log_probs: torch.Tensor) -> torch.Tensor:
    """1 - p computed as -expm1(log p): exact near p = 1, where 1 - exp(log p) cancels."""
    return -torch.expm1(log_probs)


class Loss(nn.Module):
    """Base class. Subclasses set NAME, PARAMS (name -> default) and implement per_sample."""

    NAME = "loss"
    PARAMS: dict = {}

    def __init__(self, num_classes: int, reduction: str = "mean"):
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.num_classes = num_classes
        self.reduction = reduction

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        # Losses always run outside autocast: autocast would otherwise re-cast
        # intermediate ops of a bf16/fp16 step and break the clamps' meaning.
        with torch.autocast(device_type=logits.device.type, enabled=False):
            values = self.per_sample(as_float(logits), targets)
        return reduce(values, self.reduction)

    def extra_repr(self) -> str:
        params = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.PARAMS)
        return f"num_classes={self.num_classes}" + (f", {params}" if params else "")


def target_log_prob(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return log_probs.gather(1, targets.view(-1, 1)).squeeze(1)


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    return F.log_softmax(logits, dim=1)
