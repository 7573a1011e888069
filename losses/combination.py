"""Combinations: alpha * first + beta * second, of any two registered losses.  Spec §3.4.

One class serves every pair (APL's NCE+RCE, NCE+MAE, NFL+RCE, NFL+MAE, ..., the ablation pairs,
and SCE = alpha*CE + beta*RCE). Each part is built with scale 1; alpha and beta are the scales.
Since each part's class-sum is constant when it is symmetric, the pair's class-sum is
alpha * C_first + beta * C_second (Theorem: APL of two noise-tolerant losses is noise-tolerant).

Known difference from the official code (bug B13): [SUB]'s GCEandMAE and GCEandRCE ignore
alpha, and GCEandNCE ignores alpha and beta. Every published run passed alpha = beta = 1 for
those pairs, so honouring the weights reproduces them exactly, and lets ablations vary them.
"""

from __future__ import annotations

import torch

from .base import Loss, reduce
from .inputs import Rows
from .params import NON_NEGATIVE


class Combination(Loss):
    """alpha * first + beta * second, e.g. NCE+RCE from the classes:
    Combination(10, NormalizedCrossEntropy(10), ReverseCrossEntropy(10), alpha=1.0, beta=1.0).
    The parts' own reduction and ignore_index are not used: the pair's are."""

    RANGES = {"alpha": NON_NEGATIVE, "beta": NON_NEGATIVE}
    FORMULA = "alpha first + beta second"
    CLASS_SUM = "alpha C_first + beta C_second (constant when both parts' are)"
    SOURCE = "the paper's Active Passive Losses (Ma et al., ICML 2020), Eq. 5"

    def __init__(
        self,
        num_classes,
        first: Loss,
        second: Loss,
        alpha=1.0,
        beta=1.0,
        reduction="mean",
        ignore_index=None,
    ):
        super().__init__(num_classes, reduction, ignore_index)
        for part in (first, second):
            if not isinstance(part, Loss) or part.BATCH_ONLY:
                raise TypeError(
                    f"the parts of a Combination must be per-sample losses of this "
                    f"library (instances of Loss), got {part!r}"
                )
            if part.num_classes != num_classes:
                raise ValueError(
                    f"a part of the pair is built for {part.num_classes} classes, "
                    f"the pair for {num_classes}"
                )
        self.alpha = self.checked("alpha", alpha)
        self.beta = self.checked("beta", beta)
        self.first = first
        self.second = second
        self.NAME = f"{first.NAME}+{second.NAME}"
        names = [first.NAME, second.NAME]
        if names[0] == names[1]:
            names = [f"{names[0]}_1", f"{names[1]}_2"]
        self.part_names = tuple(names)

    @property
    def term_names(self) -> tuple:
        """The logged terms: the two parts, and the entropy term when it is on."""
        return self.part_names + (("entropy_reg",) if self.entropy_reg else ())

    def per_sample(self, logits, targets):
        return sum(self.weighted_terms(logits, targets).values())

    def weighted_terms(self, logits, targets) -> dict:
        """Per-sample alpha*first and beta*second, keyed by the parts' names."""
        return {
            self.part_names[0]: self.alpha * self.first.per_sample(logits, targets),
            self.part_names[1]: self.beta * self.second.per_sample(logits, targets),
        }

    def class_sum(self):
        # a part weighted by 0 contributes 0, whatever its own class-sum
        weighted = [
            (w, part.class_sum())
            for w, part in ((self.alpha, self.first), (self.beta, self.second))
            if w != 0
        ]
        if any(total is None for _, total in weighted):
            return None
        return sum(w * total for w, total in weighted) + 0.0

    def components(self, logits: torch.Tensor, targets: torch.Tensor):
        """(reduced total, {term name: reduced weighted term}) — for logging each term."""
        rows = Rows.of(logits, targets, self.num_classes, self.ignore_index)
        with torch.autocast(device_type=logits.device.type, enabled=False):
            logits = self.prepare(rows.logits)
            terms = self.weighted_terms(logits, rows.targets)
            extra = self.regulariser(logits)
        reduced = {
            name: rows.restore(reduce(value, self.reduction), self.reduction)
            for name, value in terms.items()
        }
        if extra is not None:
            reduced["entropy_reg"] = extra
        return self.with_penalty(sum(reduced.values())), reduced

    def extra_repr(self):
        return f"alpha={self.alpha}, beta={self.beta}" + self.options_repr()
