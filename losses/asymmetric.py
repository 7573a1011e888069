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

from .base import Loss, log_softmax, target_log_prob
from .params import NON_NEGATIVE, POSITIVE, Interval

ALFS_SOURCE = "Zhou et al., ICML 2021 (ALFs); code hitcszx/ALFs lnl/losses.py"


class _PyLoss(Loss):
    def p_y(self, logits, targets):
        return target_log_prob(log_softmax(logits), targets).exp()


class _MaeAtQ1(_PyLoss):
    """AGCE and AUL are s (1 - p_y), i.e. MAE, at q = 1, and not symmetric otherwise."""

    CLASS_SUM = "not constant (q = 1: s (K-1), it is MAE)"

    def class_sum(self):
        return self.scale * (self.num_classes - 1) if self.q == 1 else super().class_sum()


class AsymmetricGCE(_MaeAtQ1):
    NAME = "agce"
    RANGES = {"a": POSITIVE, "q": POSITIVE, "scale": NON_NEGATIVE}
    FORMULA = "s [(a+1)^q - (a+p_y)^q] / q"
    SOURCE = ALFS_SOURCE

    def __init__(self, num_classes, a=1.0, q=2.0, scale=1.0, reduction="mean", ignore_index=None):
        super().__init__(num_classes, reduction, ignore_index)
        self.a = self.checked("a", a)
        self.q = self.checked("q", q)
        self.scale = self.checked("scale", scale)

    def per_sample(self, logits, targets):
        p = self.p_y(logits, targets)
        return self.scale * ((self.a + 1) ** self.q - (self.a + p) ** self.q) / self.q


class AsymmetricUnhinged(_MaeAtQ1):
    NAME = "aul"
    RANGES = {"a": Interval(low=1.0, low_open=True), "q": POSITIVE, "scale": NON_NEGATIVE}
    FORMULA = "s [(a-p_y)^q - (a-1)^q] / q"
    SOURCE = ALFS_SOURCE

    def __init__(self, num_classes, a=1.5, q=0.9, scale=1.0, reduction="mean", ignore_index=None):
        super().__init__(num_classes, reduction, ignore_index)
        self.a = self.checked("a", a)
        self.q = self.checked("q", q)
        self.scale = self.checked("scale", scale)

    def per_sample(self, logits, targets):
        p = self.p_y(logits, targets)
        return self.scale * ((self.a - p) ** self.q - (self.a - 1) ** self.q) / self.q


class ScaledByA(Loss):
    """A loss whose parameters are a > 0 and a scale: AEL, JAL's AMSE. Each subclass declares
    its default of `a` in its own signature (PARAMS is derived from it)."""

    RANGES = {"a": POSITIVE, "scale": NON_NEGATIVE}

    def __init__(self, num_classes, a, scale=1.0, reduction="mean", ignore_index=None):
        super().__init__(num_classes, reduction, ignore_index)
        self.a = self.checked("a", a)
        self.scale = self.checked("scale", scale)


class AsymmetricExponential(ScaledByA, _PyLoss):
    NAME = "ael"
    FORMULA = "s exp(-p_y / a)"
    SOURCE = ALFS_SOURCE

    def __init__(self, num_classes, a=3.0, scale=1.0, reduction="mean", ignore_index=None):
        super().__init__(num_classes, a, scale, reduction, ignore_index)

    def per_sample(self, logits, targets):
        return self.scale * torch.exp(-self.p_y(logits, targets) / self.a)
