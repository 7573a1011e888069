"""NLNL, negative-learning phase only (Kim et al. 2019 as run by [SUB]).  Spec §3.5, D6, B12.

For each sample, ln_neg complementary labels ybar != y are drawn uniformly and the loss is
    sum_r  -w_y * log clamp(1 - p_ybar_r, 1e-5, 1),     averaged over the batch,
with class weights w_c = max_c' n_c' / n_c from the noisy training-label counts.
The reference code also adds a "positive" CE over targets that are all ignored; on current
PyTorch that term is NaN (mean over zero elements) and NaN * 0 = NaN, so, as the authors'
runs effectively did, only the negative term is computed.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import Loss, log_softmax
from .params import PROBABILITY_FLOOR, ClassCounts, Interval


class NLNL(Loss):
    NAME = "nlnl"
    RANGES = {
        "ln_neg": Interval(low=1, integer=True),
        "class_counts": ClassCounts(),
        "prob_clamp": PROBABILITY_FLOOR,
    }
    FORMULA = "sum_r -w_y log clamp(1 - p_ybar_r, prob_clamp), ln_neg random ybar_r != y"
    CLASS_SUM = "not defined: random complementary labels, drawn at every call"
    SOURCE = "Kim et al., ICCV 2019 (NLNL), negative-learning phase as run by [SUB] (D6, B12)"

    def __init__(
        self,
        num_classes,
        ln_neg=1,
        class_counts=None,
        prob_clamp=1e-5,
        reduction="mean",
        ignore_index=None,
    ):
        super().__init__(num_classes, reduction, ignore_index)
        self.ln_neg = self.checked("ln_neg", ln_neg)
        self.prob_clamp = self.checked("prob_clamp", prob_clamp)
        self.class_counts = self.RANGES["class_counts"].check(
            "class_counts", class_counts, num_classes
        )
        if class_counts is None:
            weights = torch.ones(num_classes)
        else:
            counts = torch.tensor(self.class_counts, dtype=torch.float64)
            weights = (counts.max() / counts).float()
        self.register_buffer("class_weights", weights, persistent=False)

    @classmethod
    def params_from_train_labels(cls, labels, num_classes):
        # [SUB] weights each class by max count / its count over the noisy training labels
        counts = np.bincount(np.asarray(labels), minlength=num_classes).clip(min=1)
        return {"class_counts": counts.tolist()}

    def per_sample(self, logits, targets):
        batch = targets.shape[0]
        # (y + u) mod K with u uniform on 1..K-1: uniform over the labels other than y.
        shift = torch.randint(1, self.num_classes, (batch, self.ln_neg), device=targets.device)
        complementary = (targets.view(-1, 1) + shift) % self.num_classes
        probs = log_softmax(logits).exp().gather(1, complementary)
        negative = -torch.log((1.0 - probs).clamp(self.prob_clamp, 1.0)).sum(dim=1)
        return self.class_weights.to(logits.dtype)[targets] * negative
