"""Every loss of the paper and its official code, and later ones, by config name.

    from losses import build_loss, LOSSES          # installed: from activepassive.losses import
    criterion = build_loss("nce+rce", num_classes=10, alpha=1.0, beta=10.0)
    loss = criterion(logits, targets)                 # batch mean
    per_sample = build_loss("gce", 10, reduction="none")(logits, targets)
    NormalizedCrossEntropy(10), Combination(10, NormalizedCrossEntropy(10),
                                            ReverseCrossEntropy(10), alpha=1.0, beta=10.0)
    check_symmetry(per_sample_loss, num_classes=10)   # is its class-sum constant? (symmetry.py)

Logits: (N, K) or (N, K, d1, ...), any floating dtype, on any device, autocast or not (the loss
is computed in float32, float64 kept); targets: class indices; `reduction` and `ignore_index`
as in torch.nn.CrossEntropyLoss (inputs.py). The loss is an nn.Module.

The catalogue of every name (formula, parameters with defaults and allowed ranges, class-sum,
sources, the per-dataset settings in configs/) is docs/LOSSES.md, generated from the classes'
FORMULA, CLASS_SUM, SOURCE, PARAMS and RANGES and from PAIR_SOURCES below by
scripts/loss_catalogue.py. Notation there: p = softmax(z), p~ = clamp(p, 1e-7, 1), y = given
label, K = classes, s = `scale`; the class-sum is the sum over all K labels y of the per-sample
loss, and a constant class-sum makes a loss symmetric (the paper's Theorem 1).
Spec: ../shared/docs/paper.md §3 (formulas), §2 (defaults D1-D6), §13 (bugs B1, B2, B12, B13);
each restated in short in docs/NOTES.md. Defaults are the constants behind the published
numbers (RCE's A = ln 1e-4, MAE = 1 - p_y, detached focal factor); NMAE and NRCE default to the
paper's normaliser, the official code's buggy one is normalizer="reference".

Options of every loss and pair (losses/base.py `OPTIONS`: logit_clip, entropy_reg, l1) make
wrappers configs, not classes. Pairs: one `Combination` class builds the named APL, ablation and
follow-up pairs and any other "a+b" of per-sample losses; a parameter shared by both parts (e.g.
prob_clamp in gce+rce) is passed to both. Per-dataset values live in configs/.
"""

from __future__ import annotations

import difflib
import inspect

from .asymmetric import AsymmetricExponential, AsymmetricGCE, AsymmetricUnhinged
from .base import REDUCTIONS, Loss
from .basic import (
    PROB_CLAMP,
    RCE_LOG_CLAMP,
    CrossEntropy,
    FocalLoss,
    GeneralizedCrossEntropy,
    MeanAbsoluteError,
    ReverseCrossEntropy,
)
from .combination import Combination
from .negative import NormalizedNegativeCrossEntropy, NormalizedNegativeFocalLoss
from .newer import (
    LDRKL,
    AsymmetricMSE,
    DeterminantMutualInformation,
    EpsSoftmaxCrossEntropy,
    EpsSoftmaxFocalLoss,
)
from .nlnl import NLNL
from .normalized import (
    NormalizedCrossEntropy,
    NormalizedFocalLoss,
    NormalizedGeneralizedCrossEntropy,
    NormalizedMeanAbsoluteError,
    NormalizedReverseCrossEntropy,
)
from .symmetry import SymmetryReport, check_symmetry

# Single losses: config name -> class.  To add a loss, subclass Loss and register it here.
BASE_LOSSES: dict[str, type[Loss]] = {
    cls.NAME: cls
    for cls in (
        CrossEntropy,
        FocalLoss,
        MeanAbsoluteError,
        ReverseCrossEntropy,
        GeneralizedCrossEntropy,
        NLNL,
        NormalizedCrossEntropy,
        NormalizedFocalLoss,
        NormalizedGeneralizedCrossEntropy,
        NormalizedMeanAbsoluteError,
        NormalizedReverseCrossEntropy,
        AsymmetricGCE,
        AsymmetricUnhinged,
        AsymmetricExponential,  # ALFs (ICML 2021)
        NormalizedNegativeCrossEntropy,
        NormalizedNegativeFocalLoss,  # ANL (NeurIPS 2023)
        EpsSoftmaxCrossEntropy,
        EpsSoftmaxFocalLoss,
        AsymmetricMSE,
        LDRKL,  # ../shared/docs/newer-losses.md
        DeterminantMutualInformation,
    )
}  # the paper's baseline

# Other names for a loss: the official [HEAD] config stem "focal", and SCE = CE + RCE.
ALIASES = {
    "focal": "fl",
    "sce": "ce+rce",
    "anl-ce": "nce+nnce",
    "anl-fl": "nfl+nnfl",
    "jal-ce": "nce+amse",
}

PAPER_COMBINATIONS = (
    "nce+rce",
    "nce+mae",
    "nfl+rce",
    "nfl+mae",
    "ngce+rce",
    "ngce+mae",  # APL
    "gce+mae",
    "gce+rce",
    "gce+nce",
    "mae+rce",
    "nfl+nce",
    "ngce+nce",  # ablations
    "nce+agce",
    "nce+aul",
    "nce+ael",  # ALFs
    "ce-eps+mae",
    "fl-eps+mae",  # eps-softmax
)

# Where each named pair comes from (the catalogue's source column; its parts' sources are
# those of their classes). [SUB] is the authors' submission-version code (docs/NOTES.md).
_APL = "the paper's Active Passive Losses (Ma et al., ICML 2020); [SUB] loss.py "
PAIR_SOURCES = {
    **{
        name: _APL + cls
        for name, cls in (
            ("nce+rce", "NCEandRCE"),
            ("nce+mae", "NCEandMAE"),
            ("nfl+rce", "NFLandRCE"),
            ("nfl+mae", "NFLandMAE"),
            ("ngce+rce", "NGCEandRCE"),
            ("ngce+mae", "NGCEandMAE"),
        )
    },
    **{
        name: "the paper's ablations (Ma et al., ICML 2020); [SUB] loss.py " + cls
        for name, cls in (
            ("gce+mae", "GCEandMAE"),
            ("gce+rce", "GCEandRCE"),
            ("gce+nce", "GCEandNCE"),
            ("mae+rce", "MAEandRCE"),
            ("nfl+nce", "NFLandNCE"),
            ("ngce+nce", "NGCEandNCE"),
        )
    },
    "sce": "SCE (Wang et al., ICCV 2019); [SUB] loss.py SCELoss",
    **dict.fromkeys(
        ("nce+agce", "nce+aul", "nce+ael"),
        "Zhou et al., ICML 2021 (ALFs); code hitcszx/ALFs lnl/losses.py",
    ),
    **dict.fromkeys(
        ("anl-ce", "anl-fl"), "Ye et al., NeurIPS 2023 (ANL); code Virusdoll/Active-Negative-Loss"
    ),
    **dict.fromkeys(
        ("ce-eps+mae", "fl-eps+mae"),
        "Wang et al., NeurIPS 2024 (epsilon-softmax); code cswjl/eps-softmax",
    ),
    "jal-ce": "Wang et al., ICCV 2025 (JAL); code cswjl/joint-asymmetric-loss",
}

# Options that wrap any loss or pair (losses/base.py `Loss.set_options`), with their defaults.
OPTIONS = {"logit_clip": None, "entropy_reg": 0.0, "l1": 0.0}

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


def did_you_mean(given: str, candidates) -> str:
    match = difflib.get_close_matches(str(given), list(candidates), n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _check_name(name: str) -> tuple[str, ...]:
    if not isinstance(name, str):
        raise ValueError(f"loss name must be a string, got {name!r}")
    parts = _parts(name.strip().lower())
    valid = len(parts) in (1, 2) and all(p in BASE_LOSSES for p in parts)
    if not valid:
        raise ValueError(
            f"unknown loss {name!r}{did_you_mean(name, LOSSES)}. Valid names: "
            f"{', '.join(sorted(LOSSES))}; or any 'a+b' of the single losses "
            f"{', '.join(sorted(BASE_LOSSES))}"
        )
    batch_only = [p for p in parts if BASE_LOSSES[p].BATCH_ONLY]
    if len(parts) == 2 and batch_only:
        raise ValueError(
            f"{batch_only[0]} is one value per batch and cannot be part of an "
            f"'a+b' pair; use it alone"
        )
    return parts


def _build_single(
    cls: type[Loss], num_classes: int, reduction: str, params: dict, ignore_index: int | None = None
) -> Loss:
    accepted = set(inspect.signature(cls.__init__).parameters) - {
        "self",
        "num_classes",
        "reduction",
        "ignore_index",
    }
    return cls(
        num_classes,
        reduction=reduction,
        ignore_index=ignore_index,
        **{k: v for k, v in params.items() if k in accepted},
    )


def build_loss(
    name: str, num_classes: int, reduction: str = "mean", ignore_index: int | None = None, **params
) -> Loss:
    """Build the loss called `name` for `num_classes` classes.  See the module table.

    `reduction` ("mean", "sum", "none") and `ignore_index` (None: no target is ignored; an
    integer such as -100: targets equal to it are left out) work as in
    torch.nn.CrossEntropyLoss (losses/inputs.py). Raises ValueError for an unknown name or
    parameter (listing the valid ones) and for a parameter value outside its range.
    """
    parts = _check_name(name)
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    allowed = loss_params("+".join(parts))
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for loss {name!r}"
            f"{did_you_mean(unknown[0], allowed)}. "
            f"Valid parameters: {sorted(allowed) or 'none'}"
        )
    options = {k: params.pop(k) for k in OPTIONS if k in params}
    if len(parts) == 1:
        loss = _build_single(BASE_LOSSES[parts[0]], num_classes, reduction, params, ignore_index)
        return loss.set_options(**options)
    part_params = {k: v for k, v in params.items() if k not in Combination.PARAMS}
    first, second = (
        _build_single(BASE_LOSSES[p], num_classes, reduction, part_params) for p in parts
    )
    weights = {k: v for k, v in params.items() if k in Combination.PARAMS}
    return Combination(
        num_classes, first, second, reduction=reduction, ignore_index=ignore_index, **weights
    ).set_options(**options)


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


__all__ = [
    "build_loss",
    "LOSSES",
    "BASE_LOSSES",
    "ALIASES",
    "PAPER_COMBINATIONS",
    "OPTIONS",
    "Loss",
    "Combination",
    "loss_params",
    "loss_label",
    "train_label_params",
    "RCE_LOG_CLAMP",
    "PROB_CLAMP",
    "PAIR_SOURCES",
    "check_symmetry",
    "SymmetryReport",
    # the classes, for those who build losses directly (tests check this list is all)
    "CrossEntropy",
    "FocalLoss",
    "MeanAbsoluteError",
    "ReverseCrossEntropy",
    "GeneralizedCrossEntropy",
    "NLNL",
    "NormalizedCrossEntropy",
    "NormalizedFocalLoss",
    "NormalizedGeneralizedCrossEntropy",
    "NormalizedMeanAbsoluteError",
    "NormalizedReverseCrossEntropy",
    "AsymmetricGCE",
    "AsymmetricUnhinged",
    "AsymmetricExponential",
    "NormalizedNegativeCrossEntropy",
    "NormalizedNegativeFocalLoss",
    "EpsSoftmaxCrossEntropy",
    "EpsSoftmaxFocalLoss",
    "AsymmetricMSE",
    "LDRKL",
    "DeterminantMutualInformation",
]
