"""The shared machinery of every loss: parameter declaration, validation, reduction, precision.

A loss subclasses `Loss`, declares its parameters and their defaults once, in `__init__`'s
signature (`PARAMS` is derived from it), and implements `per_sample(logits, targets)`, which
returns one value per sample. `forward` applies the reduction. Numerics are done in float32 at
least, outside autocast, because several losses (NCE's denominator, GCE's p**q, RCE's clamps)
lose their meaning in bf16/fp16.

Three options wrap any loss (set by `build_loss`, so they are config keys, not classes):
  logit_clip = delta    LogitClip (Wei et al., ICML 2023): z <- z * min(1, delta / ||z||_2)
                        before the loss, so `ce` + `logit_clip` is CE+LogitClip;
  entropy_reg = lambda  + lambda (ln K - H(mean_i p_i)), the batch-level entropy term of
                        ANL with entropy regularisation (Ye et al., arXiv 2412.02373 v2);
  l1 = delta            + delta sum|theta| over every parameter of the model the loss trains
                        (ANL's explicit L1 penalty, BN and biases included, spec §15.2): the
                        trainer hands the parameters over with `penalise(model.parameters())`.
A loss with BATCH_ONLY (DMI) has no per-sample values: it overrides `batch_value`.

What a call accepts (shapes, dtypes, `ignore_index`) is losses/inputs.py; the allowed values of
each parameter are declared in the class's RANGES (losses/params.py). For the catalogue
(docs/LOSSES.md) a class also states its FORMULA, CLASS_SUM and SOURCE, and `class_sum()` gives
the documented sum over all K labels as a number (None: not constant), which the symmetry
checker's tests hold every loss to (losses/symmetry.py).
"""

from __future__ import annotations

import inspect
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .inputs import Rows, check_ignore_index
from .params import Interval

REDUCTIONS = ("mean", "sum", "none")


def check_finite_number(
    name: str,
    value,
    *,
    minimum: float | None = None,
    minimum_inclusive: bool = True,
    maximum: float | None = None,
) -> float:
    """Return `value` as a float, or raise ValueError naming the parameter and the allowed range."""
    return Interval(minimum, maximum, low_open=not minimum_inclusive).check(name, value)


def reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def as_float(logits: torch.Tensor) -> torch.Tensor:
    """Half-precision logits are promoted to float32; float32/float64 stay as they are
    (float64 keeps `gradcheck` meaningful)."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        return logits.float()
    return logits


def clip_logit_norm(logits: torch.Tensor, delta: float) -> torch.Tensor:
    """z * min(1, delta / ||z||): logits inside the L2 ball of radius delta are returned exactly
    (the factor is delta / delta = 1), those outside are scaled onto its surface."""
    norm = torch.linalg.vector_norm(logits, dim=1, keepdim=True)
    return logits * (delta / norm.clamp_min(delta))


def marginal_entropy_gap(logits: torch.Tensor, floor: float = 1e-7) -> torch.Tensor:
    """ln K - H(q), q = the batch's mean prediction (probabilities clamped to [floor, 1 - floor]
    before and after averaging, as ANL-CE-ER's code does): 0 when the batch predicts every class
    equally often, ln K when it predicts one class only."""
    probs = torch.softmax(logits, dim=1).clamp(floor, 1 - floor)
    mean = (probs.sum(dim=0) / probs.sum()).clamp(floor, 1 - floor)
    return math.log(logits.shape[1]) + (mean * mean.log()).sum()


def one_minus_prob(log_probs: torch.Tensor) -> torch.Tensor:
    """1 - p computed as -expm1(log p): exact near p = 1, where 1 - exp(log p) cancels."""
    return -torch.expm1(log_probs)


class Loss(nn.Module):
    """Base class. Subclasses set NAME, give their parameters defaults in `__init__` and
    implement per_sample; PARAMS (name -> default) is derived from that signature."""

    NAME = "loss"
    PARAMS: dict = {}
    BATCH_ONLY = False  # True: one value per batch (DMI); it cannot be part of a pair
    RANGES: dict = {}  # parameter -> its allowed values (losses/params.py)
    FORMULA = ""  # the per-sample value, in the notation of losses/__init__.py
    CLASS_SUM = "not constant"
    SOURCE = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.PARAMS = declared_params(cls)

    def __init__(self, num_classes: int, reduction: str = "mean", ignore_index: int | None = None):
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.num_classes = num_classes
        self.reduction = reduction
        self.ignore_index = check_ignore_index(ignore_index)
        self.logit_clip = None
        self.entropy_reg = 0.0
        self.l1 = 0.0
        self.penalised: list = []

    def checked(self, name: str, value):
        """`value` if RANGES[name] allows it, else a ValueError naming the range."""
        return self.RANGES[name].check(name, value)

    def class_sum(self) -> float | None:
        """The documented sum over all K labels of the per-sample loss (CLASS_SUM) for these
        parameters; None when it is not constant (the default, unless the loss is scaled by 0)."""
        return 0.0 if getattr(self, "scale", None) == 0 else None

    def set_options(self, logit_clip=None, entropy_reg=0.0, l1=0.0) -> Loss:
        """The options of OPTIONS that wrap any loss (module docstring)."""
        self.l1 = check_finite_number("l1", l1, minimum=0.0)
        if self.l1 and self.reduction != "mean":
            raise ValueError(
                "loss parameter 'l1' is a penalty on the model, added once per "
                "batch: use reduction='mean', or l1=0"
            )
        if logit_clip is not None:
            self.logit_clip = check_finite_number(
                "logit_clip", logit_clip, minimum=0.0, minimum_inclusive=False
            )
        self.entropy_reg = check_finite_number("entropy_reg", entropy_reg, minimum=0.0)
        if self.entropy_reg and self.reduction != "mean":
            raise ValueError(
                "loss parameter 'entropy_reg' is a batch-level term: use "
                "reduction='mean', or entropy_reg=0"
            )
        return self

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def log_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """log p for every class (CE and FL read it; epsilon-softmax overrides it)."""
        return F.log_softmax(logits, dim=1)

    def prepare(self, logits: torch.Tensor) -> torch.Tensor:
        """Float32 at least, then LogitClip when configured."""
        logits = as_float(logits)
        return logits if self.logit_clip is None else clip_logit_norm(logits, self.logit_clip)

    def batch_value(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The reduced loss of prepared logits; batch-level losses override this."""
        return reduce(self.per_sample(logits, targets), self.reduction)

    def regulariser(self, logits: torch.Tensor) -> torch.Tensor | None:
        """The batch-level extra term of prepared logits, or None."""
        return self.entropy_reg * marginal_entropy_gap(logits) if self.entropy_reg else None

    def penalise(self, parameters) -> Loss:
        """The parameters the `l1` option penalises (those of the model being trained)."""
        self.penalised = list(parameters)
        return self

    def with_penalty(self, value: torch.Tensor) -> torch.Tensor:
        """`value` + l1 * sum|theta|: part of the objective (and of the logged total), added
        after the loss and its batch terms."""
        if not self.l1:
            return value
        if not self.penalised:
            raise ValueError(
                "loss parameter 'l1' penalises the model's parameters: call "
                "loss.penalise(model.parameters()) first"
            )
        return value + self.l1 * sum(p.abs().sum() for p in self.penalised)

    # The named terms a training log shows beside the total (a pair's two weighted parts);
    # a single loss has none.
    term_names: tuple = ()

    def components(self, logits: torch.Tensor, targets: torch.Tensor):
        """(reduced total, {term name: reduced term}): every loss answers it, so a caller
        never asks which kind of loss it holds."""
        return self(logits, targets), {}

    @classmethod
    def params_from_train_labels(cls, labels, num_classes: int) -> dict:
        """Parameters this loss derives from the noisy training labels (NLNL's class counts);
        the trainer passes them unless the config sets them."""
        return {}

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        rows = Rows.of(logits, targets, self.num_classes, self.ignore_index)
        # Losses always run outside autocast: autocast would otherwise re-cast
        # intermediate ops of a bf16/fp16 step and break the clamps' meaning.
        with torch.autocast(device_type=logits.device.type, enabled=False):
            logits = self.prepare(rows.logits)
            value = self.batch_value(logits, rows.targets)
            extra = self.regulariser(logits)
            value = value if extra is None else value + extra
        return self.with_penalty(rows.restore(value, self.reduction))

    def extra_repr(self) -> str:
        params = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.PARAMS)
        return (
            f"num_classes={self.num_classes}"
            + (f", {params}" if params else "")
            + self.options_repr()
        )

    def options_repr(self) -> str:
        ignored = "" if self.ignore_index is None else f", ignore_index={self.ignore_index}"
        return (
            "".join(
                f", {k}={v!r}"
                for k, v in (
                    ("logit_clip", self.logit_clip),
                    ("entropy_reg", self.entropy_reg),
                    ("l1", self.l1),
                )
                if v
            )
            + ignored
        )


def declared_params(cls: type) -> dict:
    """The loss parameters of `cls`: the keyword arguments of its __init__ that have a default,
    in order, except `reduction` and `ignore_index` (arguments of build_loss, not config
    parameters). Declared once, in the signature, so PARAMS and the defaults cannot disagree."""
    signature = inspect.signature(cls.__init__)
    return {
        name: p.default
        for name, p in signature.parameters.items()
        if p.default is not inspect.Parameter.empty and name not in ("reduction", "ignore_index")
    }


def target_log_prob(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return log_probs.gather(1, targets.view(-1, 1)).squeeze(1)


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    return F.log_softmax(logits, dim=1)
