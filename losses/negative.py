"""Normalised negative losses of Active Negative Loss (Ye, Li, Ye, Wang, Xu, Chang, Wang,
"Active Negative Loss Functions for Learning with Noisy Labels", NeurIPS 2023; code
Virusdoll/Active-Negative-Loss@0c50009). Spec §15.2.

  NNCE = 1 - (A + ln p~_y) / sum_k (A + ln p~_k),  p~ = clamp(p, m, 1), A = -ln m, m = 1e-7
  NNFL = 1 - (A_FL - FL_y) / (K A_FL - sum_k FL_k),
         FL_k = -(1 - p^_k)^g max(ln p_k, ln m) (factor detached), A_FL = -(1 - m)^g ln m
Each term of the sums lies in [0, A], so the losses lie in [0, 1] and sum to K - 1 over the K
labels (tested). ANL-CE = alpha NCE + beta NNCE (+ delta ||theta||_1 via the l1 option, with weight
decay 0); ANL-FL = alpha NFL + beta NNFL.
"""

from __future__ import annotations

import math

from .base import Loss, log_softmax, one_minus_prob
from .params import NON_NEGATIVE, PROBABILITY_FLOOR

NEGATIVE_CLAMP = 1e-7
ANL_SOURCE = "Ye et al., NeurIPS 2023 (ANL); code Virusdoll/Active-Negative-Loss"


class NormalizedNegative(Loss):
    """Sums to s (K-1) over the K labels (module docstring)."""

    CLASS_SUM = "s (K-1)"
    SOURCE = ANL_SOURCE

    def class_sum(self):
        return self.scale * (self.num_classes - 1)


class NormalizedNegativeCrossEntropy(NormalizedNegative):
    NAME = "nnce"
    RANGES = {"prob_clamp": PROBABILITY_FLOOR, "scale": NON_NEGATIVE}
    FORMULA = "s [1 - (A + ln p~_y) / sum_k (A + ln p~_k)], A = -ln prob_clamp"

    def __init__(
        self, num_classes, prob_clamp=NEGATIVE_CLAMP, scale=1.0, reduction="mean", ignore_index=None
    ):
        super().__init__(num_classes, reduction, ignore_index)
        self.prob_clamp = self.checked("prob_clamp", prob_clamp)
        self.scale = self.checked("scale", scale)

    def per_sample(self, logits, targets):
        A = -math.log(self.prob_clamp)
        shifted = A + log_softmax(logits).clamp(min=math.log(self.prob_clamp))
        ratio = shifted.gather(1, targets.view(-1, 1)).squeeze(1) / shifted.sum(dim=1)
        return self.scale * (1.0 - ratio)


class NormalizedNegativeFocalLoss(NormalizedNegative):
    NAME = "nnfl"
    RANGES = {"gamma": NON_NEGATIVE, "prob_clamp": PROBABILITY_FLOOR, "scale": NON_NEGATIVE}
    FORMULA = "s [1 - (A_FL - FL_y) / (K A_FL - sum_k FL_k)]"

    def __init__(
        self,
        num_classes,
        gamma=0.5,
        prob_clamp=NEGATIVE_CLAMP,
        scale=1.0,
        reduction="mean",
        ignore_index=None,
    ):
        super().__init__(num_classes, reduction, ignore_index)
        self.gamma = self.checked("gamma", gamma)
        self.prob_clamp = self.checked("prob_clamp", prob_clamp)
        self.scale = self.checked("scale", scale)

    def per_sample(self, logits, targets):
        log_m = math.log(self.prob_clamp)
        log_probs = log_softmax(logits)
        factor = one_minus_prob(log_probs).detach() ** self.gamma
        fl = -factor * log_probs.clamp(min=log_m)
        a_fl = -((1 - self.prob_clamp) ** self.gamma) * log_m
        fl_y = fl.gather(1, targets.view(-1, 1)).squeeze(1)
        return self.scale * (1.0 - (a_fl - fl_y) / (self.num_classes * a_fl - fl.sum(dim=1)))
