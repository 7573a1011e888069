"""Every loss of the paper and its official code, by config name.

    from losses import build_loss, LOSSES
    criterion = build_loss("nce+rce", num_classes=10, alpha=1.0, beta=10.0)
    loss = criterion(logits, targets)                 # batch mean
    per_sample = build_loss("gce", 10, reduction="none")(logits, targets)

Spec: ../shared/docs/paper.md §3 (formulas), §2 (defaults D1-D6), §13 (bugs B1, B2, B12, B13);
each restated in short in docs/NOTES.md.
p = softmax(z), p~ = clamp(p, 1e-7, 1), y = given label, K = classes, s = `scale`.
"Class-sum" is sum over all K labels y of the per-sample loss: a constant makes a loss symmetric.

| name  | per-sample value                                  | parameters (default)                          | class-sum        | source |
|-------|---------------------------------------------------|-----------------------------------------------|------------------|--------|
| ce    | -s log p_y                                        | scale (1)                                     | not constant     | paper |
| fl    | -s (1-p_y)^g log p_y, (1-p)^g detached            | gamma (0.5, D19), detach_modulator (True, D5) | not constant     | official code |
| mae   | s (1 - p_y)  ("reduced MAE")                      | scale (1; 2 = true L1, D4)                    | s (K-1)          | official code |
| rce   | -A s sum_{k!=y} p~_k  ~= 9.21 s (1-p_y)           | A (ln 1e-4 = -9.2103, D1; paper -4), prob_clamp (1e-7) | ~ -A s (K-1) | official code |
| gce   | s (1 - p~_y^q) / q                                | q (0.7), prob_clamp (1e-7)                    | not constant     | official code |
| sce   | alpha CE + beta RCE                               | alpha (1), beta (1), A                        | not constant     | SCE paper, official code |
| nlnl  | sum_r -w_y log clamp(1 - p_ybar_r, 1e-5)          | ln_neg (1), class_counts (None: w = 1)        | -                | official code, NL phase only (D6, B12) |
| nce   | s log p_y / sum_k log p_k                         | scale (1)                                     | s                | paper = code |
| nfl   | s FL_y / sum_k FL_k, factors detached             | gamma (0.5), detach_modulator (True), scale   | s                | paper = code |
| ngce  | s (1 - p~_y^q) / (K - sum_k p~_k^q)               | q (0.7), prob_clamp, scale                    | s                | paper = code |
| nmae  | s (1 - p_y) / (K-1)                               | normalizer ("paper"; "reference" = /(2(K-1)), B2), scale | s (paper)  | corrected (paper) |
| nrce  | s RCE / (-A (K-1))                                | normalizer ("paper"; "reference" = RCE (K-1)/4, B1), A, scale | ~ s (paper) | corrected (paper) |
| agce  | s [(a+1)^q - (a+p_y)^q] / q                       | a (1), q (2), scale                           | not constant     | ALFs, ICML 2021 |
| aul   | s [(a-p_y)^q - (a-1)^q] / q                       | a (1.5), q (0.9), scale                       | not constant     | ALFs, ICML 2021 |
| ael   | s exp(-p_y / a)                                   | a (3), scale                                  | not constant     | ALFs, ICML 2021 |
| nnce  | s [1 - (A + ln p~_y) / sum_k (A + ln p~_k)], A = -ln 1e-7 | prob_clamp (1e-7), scale              | s (K-1)          | ANL, NeurIPS 2023 |
| nnfl  | s [1 - (A_FL - FL_y) / (K A_FL - sum_k FL_k)]     | gamma (0.5), prob_clamp (1e-7), scale         | s (K-1)          | ANL, NeurIPS 2023 |
| anl-ce| alpha NCE + beta NNCE (+ delta ||theta||_1 = optim.l1) | alpha, beta                              | alpha + beta (K-1) | ANL |
| anl-fl| alpha NFL + beta NNFL (+ optim.l1)                | alpha, beta, gamma                            | alpha + beta (K-1) | ANL |
| ce-eps| -s log p'_y, p' = (p + m onehot(argmax)) / (1+m)  | m (1e5), prob_clamp (1e-8), scale             | not constant     | eps-softmax, NeurIPS 2024 |
| fl-eps| -s (1-p'_y)^g log p'_y, factor detached           | m (1e5), gamma (0.1), prob_clamp, scale       | not constant     | eps-softmax |
| amse  | s ||a e_y - p||^2 / K                             | a (10), scale                                 | a^2 - 2a/K + ||p||^2 | JAL, ICCV 2025 |
| jal-ce| alpha NCE + beta AMSE                             | alpha, beta, a                                | not constant     | JAL |
| ldr-kl| s lam ln mean_k exp((s_k - s_y + margin[k!=y])/lam), s = softplus(z)/mean | margin (0.1), lam (10), scale | not constant | LDR, ICML 2023 |
| dmi   | -ln(abs det(U^T P) + 1e-3), one value per batch   | det_eps (1e-3)                                | -                | DMI, NeurIPS 2019 (spec §3.6) |
| a+b   | alpha a + beta b, any two of the above            | alpha (1), beta (1), and the parts' params     | alpha C_a + beta C_b | paper (APL) |

Options of every loss and pair (losses/base.py), so that wrappers are configs, not classes:
logit_clip (None; delta: LogitClip, ICML 2023: z <- z min(1, delta/||z||) before the loss) and
entropy_reg (0; lambda: + lambda (ln K - H(mean batch prediction)), ANL-CE-ER, arXiv 2412.02373).

Named combinations (all built by the one `Combination` class): the APL losses nce+rce, nce+mae,
nfl+rce, nfl+mae, ngce+rce, ngce+mae; the ablation pairs gce+mae, gce+rce, gce+nce, mae+rce,
nfl+nce, ngce+nce. Follow-ups: nce+agce, nce+aul, nce+ael (ALFs), anl-ce and anl-fl (ANL); ce-eps+mae, fl-eps+mae
(eps-softmax) and jal-ce (JAL). Any other "a+b" of registered losses works too, except with
dmi, which has no per-sample values.
A parameter shared by both parts of a pair (e.g. prob_clamp in gce+rce) is passed to both.
Per-dataset values for the published numbers (alpha, beta, q, gamma) live in configs/.
"""
from __future__ import annotations

import inspect

from .base import Loss, REDUCTIONS
from .basic import (CrossEntropy, FocalLoss, GeneralizedCrossEntropy, MeanAbsoluteError,
                    ReverseCrossEntropy, RCE_LOG_CLAMP, PROB_CLAMP)
from .asymmetric import AsymmetricExponential, AsymmetricGCE, AsymmetricUnhinged
from .combination import Combination
from .negative import NormalizedNegativeCrossEntropy, NormalizedNegativeFocalLoss
from .newer import (AsymmetricMSE, DeterminantMutualInformation, EpsSoftmaxCrossEntropy,
                    EpsSoftmaxFocalLoss, LDRKL)
from .nlnl import NLNL
from .normalized import (NormalizedCrossEntropy, NormalizedFocalLoss,
                         NormalizedGeneralizedCrossEntropy, NormalizedMeanAbsoluteError,
                         NormalizedReverseCrossEntropy)

# Single losses: config name -> class.  To add a loss, subclass Loss and register it here.
BASE_LOSSES: dict[str, type[Loss]] = {cls.NAME: cls for cls in (
    CrossEntropy, FocalLoss, MeanAbsoluteError, ReverseCrossEntropy, GeneralizedCrossEntropy,
    NLNL, NormalizedCrossEntropy, NormalizedFocalLoss, NormalizedGeneralizedCrossEntropy,
    NormalizedMeanAbsoluteError, NormalizedReverseCrossEntropy,
    AsymmetricGCE, AsymmetricUnhinged, AsymmetricExponential,            # ALFs (ICML 2021)
    NormalizedNegativeCrossEntropy, NormalizedNegativeFocalLoss,         # ANL (NeurIPS 2023)
    EpsSoftmaxCrossEntropy, EpsSoftmaxFocalLoss, AsymmetricMSE, LDRKL,   # newer-losses.md
    DeterminantMutualInformation)}                                       # the paper's baseline

# Other names for a loss: the official [HEAD] config stem "focal", and SCE = CE + RCE.
ALIASES = {"focal": "fl", "sce": "ce+rce", "anl-ce": "nce+nnce", "anl-fl": "nfl+nnfl",
           "jal-ce": "nce+amse"}

PAPER_COMBINATIONS = (
    "nce+rce", "nce+mae", "nfl+rce", "nfl+mae", "ngce+rce", "ngce+mae",   # APL
    "gce+mae", "gce+rce", "gce+nce", "mae+rce", "nfl+nce", "ngce+nce",    # ablations
    "nce+agce", "nce+aul", "nce+ael",                                     # ALFs
    "ce-eps+mae", "fl-eps+mae",                                           # eps-softmax
)

# Options that wrap any loss or pair (losses/base.py `Loss.set_options`), with their defaults.
OPTIONS = {"logit_clip": None, "entropy_reg": 0.0}

# Every name build_loss accepts without composing a new pair, with its parameter defaults.
LOSSES: dict[str, dict] = {}


def _parts(name: str) -> tuple[str, ...]:
    name = ALIASES.get(name, name)
    return tuple(name.split("+"))


def loss_params(name: str) -> dict:
    """Parameter defaults accepted by `name` (a single loss or a pair), options included."""
    parts = _parts(name)
    if len(parts) == 1:
        return {**BASE_LOSSES[parts[0]].PARAMS, **OPTIONS}
    params = dict(Combination.PARAMS)
    for part in parts:
        params.update({k: v for k, v in BASE_LOSSES[part].PARAMS.items() if k != "scale"})
    return {**params, **OPTIONS}


for _name in list(BASE_LOSSES) + list(ALIASES) + list(PAPER_COMBINATIONS):
    LOSSES[_name] = loss_params(_name)


def _check_name(name: str) -> tuple[str, ...]:
    if not isinstance(name, str):
        raise ValueError(f"loss name must be a string, got {name!r}")
    parts = _parts(name.strip().lower())
    valid = len(parts) in (1, 2) and all(p in BASE_LOSSES for p in parts)
    if not valid:
        raise ValueError(f"unknown loss {name!r}. Valid names: {', '.join(sorted(LOSSES))}; "
                         f"or any 'a+b' of the single losses {', '.join(sorted(BASE_LOSSES))}")
    batch_only = [p for p in parts if BASE_LOSSES[p].BATCH_ONLY]
    if len(parts) == 2 and batch_only:
        raise ValueError(f"{batch_only[0]} is one value per batch and cannot be part of an "
                         f"'a+b' pair; use it alone")
    return parts


def _build_single(cls: type[Loss], num_classes: int, reduction: str, params: dict) -> Loss:
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "num_classes",
                                                                  "reduction"}
    return cls(num_classes, reduction=reduction, **{k: v for k, v in params.items()
                                                     if k in accepted})


def build_loss(name: str, num_classes: int, reduction: str = "mean", **params) -> Loss:
    """Build the loss called `name` for `num_classes` classes.  See the module table.

    Raises ValueError for an unknown name or parameter (listing the valid ones) and for a
    parameter value outside its range.
    """
    parts = _check_name(name)
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    allowed = loss_params("+".join(parts))
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for loss {name!r}. "
                         f"Valid parameters: {sorted(allowed) or 'none'}")
    options = {k: params.pop(k) for k in OPTIONS if k in params}
    if len(parts) == 1:
        loss = _build_single(BASE_LOSSES[parts[0]], num_classes, reduction, params)
        return loss.set_options(**options)
    part_params = {k: v for k, v in params.items() if k not in Combination.PARAMS}
    first, second = (_build_single(BASE_LOSSES[p], num_classes, reduction, part_params)
                     for p in parts)
    weights = {k: v for k, v in params.items() if k in Combination.PARAMS}
    return Combination(num_classes, first, second, reduction=reduction,
                       **weights).set_options(**options)


def train_label_params(name: str, labels, num_classes: int) -> dict:
    """Parameters that the loss `name` (or a part of the pair) derives from the noisy training
    labels, e.g. NLNL's class_counts; explicit config values take precedence over them."""
    params = {}
    for part in _check_name(name):
        params.update(BASE_LOSSES[part].params_from_train_labels(labels, num_classes))
    return params


def loss_label(name: str, params: dict) -> str:
    """The name of a loss with its options, as config files and run directories spell it:
    ce with logit_clip -> "ce+logitclip", anl-ce with entropy_reg -> "anl-ce+er"."""
    suffix = {"logit_clip": "+logitclip", "entropy_reg": "+er"}
    return name + "".join(s for key, s in suffix.items() if params.get(key))


__all__ = ["build_loss", "LOSSES", "BASE_LOSSES", "ALIASES", "PAPER_COMBINATIONS", "OPTIONS", "Loss",
           "Combination", "loss_params", "loss_label", "train_label_params", "RCE_LOG_CLAMP", "PROB_CLAMP"]
