"""Robust losses published after APL, under its protocol (../shared/docs/newer-losses.md).

p = softmax(z), y = given label, K = classes, e_y = one-hot of y.

  ce-eps   -log p'_y,  p' = clamp((p + m onehot(argmax z)) / (1 + m), 1e-8)
           epsilon-softmax (Wang et al., NeurIPS 2024; cswjl/eps-softmax `ECELoss`)
  fl-eps   -(1 - p'_y)^gamma log p'_y, factor detached, gamma 0.1 (`EFocalLoss` default)
  amse     (1/K) ||a e_y - p||^2 = (a^2 - 2 a p_y + ||p||^2) / K
           JAL's asymmetric MSE (Wang et al., ICCV 2025, cswjl/joint-asymmetric-loss)
  ldr-kl   lam * ln( (1/K) sum_k exp((s_k - s_y + margin [k != y]) / lam) ),
           s = softplus(z) / mean_k softplus(z_k)
           LDR-KL (Zhu, Ying, Yang, ICML 2023), as re-implemented in cswjl/eps-softmax
           `LDRLoss_V1`, the version behind its Table 2
  dmi      -ln( |det(U^T P)| + 1e-3 ), U the B x K one-hot labels, P the B x K softmax
           (Xu et al., NeurIPS 2019; spec ../shared/docs/paper.md §3.6): one value per batch

The pairs ce-eps+mae, fl-eps+mae and jal-ce = nce+amse are `Combination`s. CE+LogitClip and ANL
with entropy regularisation are options of any loss (losses/base.py). DMI's CE warm-up is a
training phase, configured by loss.warmup_epochs (engine/config.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .asymmetric import ScaledByA
from .base import Loss, target_log_prob
from .basic import CrossEntropy, FocalLoss
from .params import NON_NEGATIVE, POSITIVE, PROBABILITY_FLOOR

EPS_SOFTMAX_CLAMP = 1e-8  # cswjl/eps-softmax clamps p' at 1e-8 before the log
DMI_DET_EPS = 1e-3  # [SUB] DMILoss adds 0.001 inside the log


def eps_softmax_log_probs(logits: torch.Tensor, m: float, floor: float) -> torch.Tensor:
    """log p', p' = (p + m onehot(argmax p)) / (1 + m) clamped at `floor`; m = 0 gives log p.

    The one-hot is a constant (argmax has no gradient), so the gradient flows through p only.
    """
    probs = torch.softmax(logits, dim=1)
    hot = F.one_hot(logits.argmax(dim=1), logits.shape[1]).to(probs.dtype)
    return torch.log(((probs + m * hot) / (1.0 + m)).clamp_min(floor))


class _EpsSoftmax:
    """Replaces softmax by epsilon-softmax in a loss that reads `log_probs` (CE, FL)."""

    EPS_RANGES = {"m": NON_NEGATIVE, "prob_clamp": PROBABILITY_FLOOR}
    SOURCE = "Wang et al., NeurIPS 2024 (epsilon-softmax); code cswjl/eps-softmax"

    def init_eps(self, m, prob_clamp) -> None:
        self.m = self.checked("m", m)
        self.prob_clamp = self.checked("prob_clamp", prob_clamp)

    def log_probs(self, logits):
        return eps_softmax_log_probs(logits, self.m, self.prob_clamp)


class EpsSoftmaxCrossEntropy(_EpsSoftmax, CrossEntropy):
    """CE-epsilon = -log p'_y (module table). Default m = 1e5: ε-softmax's CIFAR-10 symmetric
    setting (cswjl/eps-softmax config.py); m = 0 is CE with p clamped at 1e-8."""

    NAME = "ce-eps"
    RANGES = {**CrossEntropy.RANGES, **_EpsSoftmax.EPS_RANGES}
    FORMULA = "-s log p'_y, p' = clamp((p + m onehot(argmax p)) / (1+m), prob_clamp)"

    def __init__(
        self,
        num_classes,
        m=1e5,
        prob_clamp=EPS_SOFTMAX_CLAMP,
        scale=1.0,
        reduction="mean",
        ignore_index=None,
    ):
        super().__init__(num_classes, scale=scale, reduction=reduction, ignore_index=ignore_index)
        self.init_eps(m, prob_clamp)


class EpsSoftmaxFocalLoss(_EpsSoftmax, FocalLoss):
    """FL-epsilon = -(1 - p'_y)^gamma log p'_y (module table). gamma = 0.1: `EFocalLoss`'s default,
    which `EFLandMAE` keeps (config.py passes no gamma)."""

    NAME = "fl-eps"
    RANGES = {**FocalLoss.RANGES, **_EpsSoftmax.EPS_RANGES}
    FORMULA = "-s (1-p'_y)^g log p'_y, factor detached, p' as in ce-eps"

    def __init__(
        self,
        num_classes,
        m=1e5,
        gamma=0.1,
        detach_modulator=True,
        prob_clamp=EPS_SOFTMAX_CLAMP,
        scale=1.0,
        reduction="mean",
        ignore_index=None,
    ):
        super().__init__(
            num_classes,
            gamma=gamma,
            detach_modulator=detach_modulator,
            scale=scale,
            reduction=reduction,
            ignore_index=ignore_index,
        )
        self.init_eps(m, prob_clamp)


class AsymmetricMSE(ScaledByA):
    """AMSE = (1/K) ||a e_y - p||^2 (JAL). Summed over the K labels it is a^2 - 2a/K + ||p||^2:
    not constant (AMSE is not symmetric), it varies only through ||p||^2 in [1/K, 1]. JAL's
    robustness argument is asymmetry instead: the weighted risk sum_k w_k AMSE(p, k) is
    ||p - a w||^2 / K plus a constant, minimised on the simplex at e_y once a (w_y - w_k) >= 1."""

    NAME = "amse"
    FORMULA = "s ||a e_y - p||^2 / K"
    CLASS_SUM = "not constant: s (a^2 - 2a/K + ||p||^2)"
    SOURCE = "Wang et al., ICCV 2025 (JAL); code cswjl/joint-asymmetric-loss"

    def __init__(self, num_classes, a=10.0, scale=1.0, reduction="mean", ignore_index=None):
        super().__init__(num_classes, a, scale, reduction, ignore_index)

    def per_sample(self, logits, targets):
        target = self.a * F.one_hot(targets, self.num_classes).to(logits.dtype)
        squared = (target - torch.softmax(logits, dim=1)).square().sum(dim=1)
        return self.scale * squared / self.num_classes


class LDRKL(Loss):
    """LDR-KL (module table). lam -> infinity gives the mean margin-shifted difference, lam -> 0
    its maximum (a multi-class hinge). Defaults: margin 0.1, lam 10 (CIFAR-10, ../shared/docs/newer-losses.md)."""

    NAME = "ldr-kl"
    RANGES = {"margin": NON_NEGATIVE, "lam": POSITIVE, "scale": NON_NEGATIVE}
    FORMULA = (
        "s lam ln mean_k exp((c_k - c_y + margin [k!=y]) / lam), "
        "c = softplus(z) / mean_k softplus(z_k)"
    )
    SOURCE = (
        "Zhu, Ying & Yang, ICML 2023 (LDR-KL), as re-implemented in cswjl/eps-softmax LDRLoss_V1"
    )

    def __init__(
        self, num_classes, margin=0.1, lam=10.0, scale=1.0, reduction="mean", ignore_index=None
    ):
        super().__init__(num_classes, reduction, ignore_index)
        self.margin = self.checked("margin", margin)
        self.lam = self.checked("lam", lam)
        self.scale = self.checked("scale", scale)

    def per_sample(self, logits, targets):
        scores = F.softplus(logits)
        # floored: a row of very negative logits has softplus 0 everywhere (0/0 in the reference)
        scores = scores / scores.mean(dim=1, keepdim=True).clamp_min(1e-12)
        others = 1.0 - F.one_hot(targets, self.num_classes).to(scores.dtype)
        diffs = scores - target_log_prob(scores, targets).unsqueeze(1) + self.margin * others
        mean_exp = torch.logsumexp(diffs / self.lam, dim=1) - math.log(self.num_classes)
        return self.scale * self.lam * mean_exp


class DeterminantMutualInformation(Loss):
    """L_DMI = -ln(|det(U^T P)| + det_eps) over the batch (module table). [SUB] runs it after a
    full CE schedule, at lr 1e-6 with a fresh SGD: loss.warmup_epochs / optim.lr_after_warmup."""

    NAME = "dmi"
    BATCH_ONLY = True
    RANGES = {"det_eps": NON_NEGATIVE}
    FORMULA = "-ln(|det(U^T P)| + det_eps) over the batch (U one-hot labels, P softmax)"
    CLASS_SUM = "not defined: one value per batch"
    SOURCE = "Xu et al., NeurIPS 2019 (L_DMI); [SUB] loss.py DMILoss"

    def __init__(self, num_classes, det_eps=DMI_DET_EPS, reduction="mean", ignore_index=None):
        super().__init__(num_classes, reduction, ignore_index)
        if reduction != "mean":
            raise ValueError(f"dmi is one value per batch: use reduction='mean', got {reduction!r}")
        self.det_eps = self.checked("det_eps", det_eps)

    def per_sample(self, logits, targets):
        raise ValueError(
            "dmi is one value per batch and has no per-sample values; call the loss itself"
        )

    def batch_value(self, logits, targets):
        labels = F.one_hot(targets, self.num_classes).to(logits.dtype)
        joint = labels.t() @ torch.softmax(logits, dim=1)  # K x K: sum of p over each label
        return -torch.log(torch.linalg.det(joint).abs() + self.det_eps)
