"""Base (unnormalised) losses: CE, FL, MAE, RCE, GCE.  Spec §3.2 (docs/NOTES.md).

Every constant below is the one in the submission-version code ([SUB] loss.py), because the
published numbers came from it; the paper's alternatives are parameters.
"""
from __future__ import annotations

import math

import torch

from .base import Loss, check_finite_number, log_softmax, one_minus_prob, target_log_prob

# RCE clamps the one-hot target at 1e-4 before its log ([SUB]); A = ln(1e-4) = -9.2103.
# The paper text writes A = -4 (not confirmed against the PDF); pass A=-4 for that variant.
RCE_LOG_CLAMP = math.log(1e-4)
# RCE, GCE and NGCE clamp probabilities to [1e-7, 1] ([SUB]).
PROB_CLAMP = 1e-7


class CrossEntropy(Loss):
    """CE = -log p_y, via log-softmax.  `scale` multiplies it (1 = the paper's CE)."""

    NAME = "ce"

    def __init__(self, num_classes, scale=1.0, reduction="mean"):
        super().__init__(num_classes, reduction)
        self.scale = check_finite_number("scale", scale, minimum=0.0)

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
    return -(one_minus_p ** gamma) * log_probs


class FocalLoss(Loss):
    """FL = -(1 - p_y)^gamma log p_y.  gamma = 0.5 in every run behind the published tables (D19)."""

    NAME = "fl"

    def __init__(self, num_classes, gamma=0.5, detach_modulator=True, scale=1.0, reduction="mean"):
        super().__init__(num_classes, reduction)
        self.gamma = check_finite_number("gamma", gamma, minimum=0.0)
        self.detach_modulator = bool(detach_modulator)
        self.scale = check_finite_number("scale", scale, minimum=0.0)

    def per_sample(self, logits, targets):
        log_p_y = target_log_prob(self.log_probs(logits), targets).unsqueeze(1)
        return self.scale * focal_terms(log_p_y, self.gamma, self.detach_modulator).squeeze(1)


class MeanAbsoluteError(Loss):
    """MAE = scale * (1 - p_y), the "reduced MAE" of [SUB] (D4).

    The true L1 distance sum_k |p_k - q_k| is 2(1 - p_y): pass scale=2 for it ([ALFs]'s
    standalone MAE). Inside APL, beta absorbs the factor.  Sum over all K labels: scale*(K-1).
    """

    NAME = "mae"

    def __init__(self, num_classes, scale=1.0, reduction="mean"):
        super().__init__(num_classes, reduction)
        self.scale = check_finite_number("scale", scale, minimum=0.0)

    def per_sample(self, logits, targets):
        log_p_y = target_log_prob(log_softmax(logits), targets)
        return self.scale * one_minus_prob(log_p_y)


def rce_per_sample(logits: torch.Tensor, targets: torch.Tensor, A: float,
                   prob_clamp: float) -> torch.Tensor:
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

    def __init__(self, num_classes, A=RCE_LOG_CLAMP, prob_clamp=PROB_CLAMP, scale=1.0,
                 reduction="mean"):
        super().__init__(num_classes, reduction)
        self.A = check_finite_number("A", A)
        if self.A >= 0:
            raise ValueError(f"loss parameter 'A' (the log of the clamped zero label) must be "
                             f"negative, e.g. {RCE_LOG_CLAMP:.4f} (code) or -4 (paper); got {A}")
        self.prob_clamp = check_finite_number("prob_clamp", prob_clamp, minimum=0.0, maximum=1.0)
        self.scale = check_finite_number("scale", scale, minimum=0.0)

    def per_sample(self, logits, targets):
        return self.scale * rce_per_sample(logits, targets, self.A, self.prob_clamp)


class GeneralizedCrossEntropy(Loss):
    """GCE = (1 - clamp(p_y, 1e-7, 1)^q) / q  (Zhang & Sabuncu 2018; [SUB] defaults q = 0.7)."""

    NAME = "gce"

    def __init__(self, num_classes, q=0.7, prob_clamp=PROB_CLAMP, scale=1.0, reduction="mean"):
        super().__init__(num_classes, reduction)
        self.q = check_finite_number("q", q, minimum=0.0, minimum_inclusive=False, maximum=1.0)
        self.prob_clamp = check_finite_number("prob_clamp", prob_clamp, minimum=0.0, maximum=1.0)
        self.scale = check_finite_number("scale", scale, minimum=0.0)

    def per_sample(self, logits, targets):
        p_y = target_log_prob(log_softmax(logits), targets).exp().clamp(self.prob_clamp, 1.0)
        return self.scale * (1.0 - p_y ** self.q) / self.q
