"""Asymmetric loss functions (Zhou, Liu, Jiang, Gao, Ji, "Asymmetric Loss Functions for Learning
with Noisy Labels", ICML 2021; code hitcszx/ALFs@61245e9 `lnl/losses.py`). Spec §15.1.

Each is a function of p_y alone, computed from the softmax with no clamp, scaled by s:
  AGCE  s [(a + 1)^q - (a + p_y)^q] / q        (ALFs Eq. for AGCE; class defaults a = 1, q = 2)
  AUL   s [(a - p_y)^q - (a - 1)^q] / q        (asymmetric unhinged loss; a = 1.5, q = 0.9)
  AEL   s exp(-p_y / a)                        (asymmetric exponential loss; a = 3)
All three decrease strictly in p_y (tested); asymmetry (their robustness condition) depends on
a and q, which is why the per-dataset settings in configs/ differ.
"""
from __future__ import annotations

import torch

from .base import Loss, check_finite_number, log_softmax, target_log_prob


class _PyLoss(Loss):
    def p_y(self, logits, targets):
        return target_log_prob(log_softmax(logits), targets).exp()


class AsymmetricGCE(_PyLoss):
    NAME = "agce"

    def __init__(self, num_classes, a=1.0, q=2.0, scale=1.0, reduction="mean"):
        super().__init__(num_classes, reduction)
        self.a = check_finite_number("a", a, minimum=0.0, minimum_inclusive=False)
        self.q = check_finite_number("q", q, minimum=0.0, minimum_inclusive=False)
        self.scale = check_finite_number("scale", scale, minimum=0.0)

    def per_sample(self, logits, targets):
        p = self.p_y(logits, targets)
        return self.scale * ((self.a + 1) ** self.q - (self.a + p) ** self.q) / self.q


class AsymmetricUnhinged(_PyLoss):
    NAME = "aul"

    def __init__(self, num_classes, a=1.5, q=0.9, scale=1.0, reduction="mean"):
        super().__init__(num_classes, reduction)
        self.a = check_finite_number("a", a, minimum=1.0, minimum_inclusive=False)
        self.q = check_finite_number("q", q, minimum=0.0, minimum_inclusive=False)
        self.scale = check_finite_number("scale", scale, minimum=0.0)

    def per_sample(self, logits, targets):
        p = self.p_y(logits, targets)
        return self.scale * ((self.a - p) ** self.q - (self.a - 1) ** self.q) / self.q


class ScaledByA(Loss):
    """A loss whose parameters are a > 0 and a scale: AEL, JAL's AMSE. Each subclass declares
    its default of `a` in its own signature (PARAMS is derived from it)."""

    def __init__(self, num_classes, a, scale=1.0, reduction="mean"):
        super().__init__(num_classes, reduction)
        self.a = check_finite_number("a", a, minimum=0.0, minimum_inclusive=False)
        self.scale = check_finite_number("scale", scale, minimum=0.0)


class AsymmetricExponential(ScaledByA, _PyLoss):
    NAME = "ael"

    def __init__(self, num_classes, a=3.0, scale=1.0, reduction="mean"):
        super().__init__(num_classes, a, scale, reduction)

    def per_sample(self, logits, targets):
        return self.scale * torch.exp(-self.p_y(logits, targets) / self.a)
