"""Base (unnormalised) losses: CE, FL, MAE, RCE, GCE.  Spec §3.2 (docs/NOTES.md).

Every constant below is the one in the submission-version code ([SUB] loss.py), because the
published numbers came from it; the paper's alternatives are parameters.
"""

from __future__ import annotations

import math

import torch

from .base import Loss, log_softmax, one_minus_prob, target_log_prob
from .params import LOG_CLAMP, NON_NEGATIVE, UNIT, Flag, Interval

# RCE clamps the one-hot target at 1e-4 before its log ([SUB]); A = ln(1e-4) = -9.2103.
# The paper text writes A = -4 (not confirmed against the PDF); pass A=-4 for that variant.
RCE_LOG_CLAMP = math.log(1e-4)
# RCE, GCE and NGCE clamp probabilities to [1e-7, 1] ([SUB]).
PROB_CLAMP = 1e-7


class CrossEntropy(Loss):
    """CE = -log p_y, via log-softmax.  `scale` multiplies it (1 = the paper's CE)."""

    NAME = "ce"
    RANGES = {"scale": NON_NEGATIVE}
    FORMULA = "-s log p_y"
    SOURCE = "the paper (Ma et al., ICML 2020); torch.nn.CrossEntropyLoss in [SUB]"

    def __init__(self, num_classes, scale=1.0, reduction="mean", ignore_index=None):
        super().__init__(num_classes, reduction, ignore_index)
        self.scale = self.checked("scale", scale)

    def per_sample(self, logits, targets):
        return -self.scale * target_log_prob(self.log_probs(logits), targets)


def focal_terms(log_probs: torch.Tensor, gamma: float, detach_modulator: bool) -> torch.Tensor:
    """-(1 - p_k)^gamma * log p_k for every class k.

    [SUB] computes the modulating factor from a detached p, so the gradient is
    (1 - p)^gamma * grad(CE) rather than the true focal gradient (spec D5). That is the
    default; `detach_modulator=False` gives the autograd-exact focal loss.
    """
    one_minus_p = one_minus_prob(log_probs)
    if detach_modulator:
        one_minus_p = one_minus_p.detach()
    else:
        # d/dp (1-p)^gamma is infinite at p = 1 for gamma < 1; keep it finite.
        one_minus_p = one_minus_p.clamp_min(1e-12)
    return -(one_minus_p**gamma) * log_probs


class FocalLoss(Loss):
    """FL = -(1 - p_y)^gamma log p_y.  gamma = 0.5 in every run behind the published tables (D19)."""

    NAME = "fl"
    RANGES = {"gamma": NON_NEGATIVE, "detach_modulator": Flag(), "scale": NON_NEGATIVE}
    FORMULA = "-s (1-p_y)^g log p_y, (1-p_y)^g detached (D5)"
    SOURCE = "focal loss (Lin et al., ICCV 2017) as in [SUB] loss.py FocalLoss"

    def __init__(
        self,
        num_classes,
        gamma=0.5,
        detach_modulator=True,
        scale=1.0,
        reduction="mean",
        ignore_index=None,
    ):
        super().__init__(num_classes, reduction, ignore_index)
        self.gamma = self.checked("gamma", gamma)
        self.detach_modulator = self.checked("detach_modulator", detach_modulator)
        self.scale = self.checked("scale", scale)

    def per_sample(self, logits, targets):
        log_p_y = target_log_prob(self.log_probs(logits), targets).unsqueeze(1)
        return self.scale * focal_terms(log_p_y, self.gamma, self.detach_modulator).squeeze(1)


class MeanAbsoluteError(Loss):
    """MAE = scale * (1 - p_y), the "reduced MAE" of [SUB] (D4).

    The true L1 distance sum_k |p_k - q_k| is 2(1 - p_y): pass scale=2 for it ([ALFs]'s
    standalone MAE). Inside APL, beta absorbs the factor.  Sum over all K labels: scale*(K-1).
    """

    NAME = "mae"
    RANGES = {"scale": NON_NEGATIVE}
    FORMULA = 's (1 - p_y), the "reduced MAE" (D4; s = 2 is the true L1 distance)'
    CLASS_SUM = "s (K-1)"
    SOURCE = "Ghosh et al., AAAI 2017; [SUB] loss.py MeanAbsoluteError"

    def __init__(self, num_classes, scale=1.0, reduction="mean", ignore_index=None):
        super().__init__(num_classes, reduction, ignore_index)
        self.scale = self.checked("scale", scale)

    def class_sum(self):
        return self.scale * (self.num_classes - 1)

    def per_sample(self, logits, targets):
        log_p_y = target_log_prob(log_softmax(logits), targets)
        return self.scale * one_minus_prob(log_p_y)


def rce_per_sample(
    logits: torch.Tensor, targets: torch.Tensor, A: float, prob_clamp: float
) -> torch.Tensor:
    """-sum_k clamp(p_k, prob_clamp, 1) * log clamp(q_k, e^A, 1) = -A * sum_{k != y} clamp(p_k).

    The clamped one-hot has log 0 at y and A elsewhere, so the closed form is exact.
    """
    probs = torch.softmax(logits, dim=1).clamp(min=prob_clamp, max=1.0)
    others = probs.sum(dim=1) - probs.gather(1, targets.view(-1, 1)).squeeze(1)
    return -A * others


class ReverseCrossEntropy(Loss):
    """RCE = -A * sum_{k != y} clamp(p_k, 1e-7, 1) ~= 9.2103 * (1 - p_y).

    A = ln(1e-4) is the code's clamp (D1); the paper writes A = -4. Sum over K labels:
    -A (K-1) sum_k clamp(p_k) = -A (K-1) whenever no probability is below the clamp.
    """

    NAME = "rce"
    RANGES = {"A": LOG_CLAMP, "prob_clamp": UNIT, "scale": NON_NEGATIVE}
    FORMULA = "-A s sum_{k!=y} clamp(p_k, 1e-7, 1) ~= 9.21 s (1 - p_y)"
    CLASS_SUM = "-A s (K-1); the clamp adds at most a relative (K-1) prob_clamp"
    SOURCE = "SCE (Wang et al., ICCV 2019); [SUB] loss.py ReverseCrossEntropy (A = ln 1e-4, D1)"

    def __init__(
        self,
        num_classes,
        A=RCE_LOG_CLAMP,
        prob_clamp=PROB_CLAMP,
        scale=1.0,
        reduction="mean",
        ignore_index=None,
    ):
        super().__init__(num_classes, reduction, ignore_index)
        self.A = self.checked("A", A)
        self.prob_clamp = self.checked("prob_clamp", prob_clamp)
        self.scale = self.checked("scale", scale)

    def class_sum(self):
        return -self.A * self.scale * (self.num_classes - 1)

    def per_sample(self, logits, targets):
        return self.scale * rce_per_sample(logits, targets, self.A, self.prob_clamp)


class GeneralizedCrossEntropy(Loss):
    """GCE = (1 - clamp(p_y, 1e-7, 1)^q) / q  (Zhang & Sabuncu 2018; [SUB] defaults q = 0.7)."""

    NAME = "gce"
    RANGES = {"q": Interval(0.0, 1.0, low_open=True), "prob_clamp": UNIT, "scale": NON_NEGATIVE}
    FORMULA = "s (1 - clamp(p_y, 1e-7, 1)^q) / q"
    CLASS_SUM = "not constant (q = 1: s (K-1), it is MAE)"
    SOURCE = "Zhang & Sabuncu, NeurIPS 2018; [SUB] loss.py GeneralizedCrossEntropy"

    def __init__(
        self,
        num_classes,
        q=0.7,
        prob_clamp=PROB_CLAMP,
        scale=1.0,
        reduction="mean",
        ignore_index=None,
    ):
        super().__init__(num_classes, reduction, ignore_index)
        self.q = self.checked("q", q)
        self.prob_clamp = self.checked("prob_clamp", prob_clamp)
        self.scale = self.checked("scale", scale)

    def per_sample(self, logits, targets):
        p_y = target_log_prob(log_softmax(logits), targets).exp().clamp(self.prob_clamp, 1.0)
        return self.scale * (1.0 - p_y**self.q) / self.q

    def class_sum(self):
        # q = 1 is 1 - p_y, i.e. MAE (up to the clamp)
        return self.scale * (self.num_classes - 1) if self.q == 1 else super().class_sum()
