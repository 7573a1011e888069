"""Is a loss symmetric in the paper's sense? A numerical check for any loss, this library's or not.

A loss L is symmetric when its class-sum S(z) = sum_{k=1}^{K} L(z, k) is the same constant C for
every logit vector z (the paper's Eq. 2 and Theorem 1: then it is noise-tolerant under
symmetric noise of rate < (K-1)/K). `check_symmetry` evaluates S on three kinds of logits:

  random       Gaussian rows at several scales (soft to confident predictions);
  extreme      the uniform prediction, near one-hot rows up to margin 1e3, ties, rows of 1e4
               scale: where probability clamps and saturations bite;
  adversarial  rows moved by gradient ascent and descent on S itself (Adam), which finds the
               directions in which a non-constant S grows or shrinks fastest;

and reports the spread of S, with the verdict "symmetric" when max S - min S is within
atol + rtol * max|S|. The loss is any callable `loss(logits, targets) -> per-sample values`
(shape (N,)); e.g. `build_loss(name, K, reduction="none")`, or your own:

    report = check_symmetry(lambda z, y: 1 - z.softmax(1).gather(1, y[:, None])[:, 0], 10)
    report.symmetric, report.constant    # True, 9.0 (this is MAE)
    print(report)

A random loss (two identical calls differ, e.g. NLNL's complementary labels) has no
deterministic class-sum: its verdict is "undetermined" and `symmetric` is None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class SymmetryReport:
    num_classes: int
    symmetric: bool | None  # None: undetermined (a random loss)
    verdict: str
    constant: float  # the mean class-sum over every row evaluated
    minimum: float
    maximum: float
    rtol: float
    atol: float
    by_source: dict = field(default_factory=dict)  # source -> (min, max) of the class-sum
    argmin: torch.Tensor | None = None  # the logit row of the smallest class-sum
    argmax: torch.Tensor | None = None  # ... and of the largest
    rows: int = 0  # logit rows evaluated

    @property
    def spread(self) -> float:
        return self.maximum - self.minimum

    @property
    def relative_spread(self) -> float:
        scale = max(abs(self.minimum), abs(self.maximum))
        return self.spread / scale if scale > 0 else self.spread

    def __str__(self) -> str:
        lines = [
            f"{self.verdict}",
            f"  class-sum over {self.rows} logit rows, K = {self.num_classes}: "
            f"mean {self.constant:.10g}, min {self.minimum:.10g}, max {self.maximum:.10g}, "
            f"spread {self.spread:.3g} (relative {self.relative_spread:.3g}; "
            f"tolerance atol {self.atol:g} + rtol {self.rtol:g} * max|S|)",
        ]
        lines += [
            f"  {source:<12} min {low:.10g}  max {high:.10g}"
            for source, (low, high) in self.by_source.items()
        ]
        return "\n".join(lines)


def class_sums(loss: LossFn, logits: torch.Tensor) -> torch.Tensor:
    """S(z) = sum_k loss(z, k) for each row z of `logits` (n, K), in one call of n*K samples."""
    n, num_classes = logits.shape
    repeated = logits.repeat_interleave(num_classes, dim=0)
    labels = torch.arange(num_classes, device=logits.device).repeat(n)
    values = loss(repeated, labels)
    if not isinstance(values, torch.Tensor) or values.shape != (n * num_classes,):
        shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        raise ValueError(
            f"the loss returned {shape} for {n * num_classes} samples: "
            "check_symmetry needs one value per sample, shape (N,) (for this "
            "library's losses: reduction='none'; a loss with one value per batch, "
            "such as DMI, has no class-sum)"
        )
    return values.reshape(n, num_classes).sum(dim=1)


def random_logits(num_classes: int, rows: int, generator, dtype, device) -> torch.Tensor:
    """Gaussian rows at scales 0.1 (near uniform) to 16 (confident), `rows` in all."""
    scales = torch.tensor([0.1, 1.0, 4.0, 16.0], dtype=dtype)
    chosen = scales[torch.arange(rows) % len(scales)].unsqueeze(1)
    z = torch.randn(rows, num_classes, generator=generator, dtype=dtype) * chosen
    return z.to(device)


def extreme_logits(num_classes: int, generator, dtype, device) -> torch.Tensor:
    """Where clamps and saturation bite: uniform, near one-hot, ties, all-but-one very low."""
    K = num_classes
    rows = [torch.zeros(K, dtype=dtype)]
    for margin in (5.0, 20.0, 50.0, 200.0, 1e3):
        for hot in (0, K - 1):
            row = torch.zeros(K, dtype=dtype)
            row[hot] = margin
            rows.append(row)
    tie = torch.zeros(K, dtype=dtype)
    tie[: max(2, K // 2)] = 30.0
    rows += [tie, -tie, torch.full((K,), -1e3, dtype=dtype).index_fill(0, torch.tensor([0]), 0.0)]
    rows += list(1e4 * torch.randn(4, K, generator=generator, dtype=dtype))
    return torch.stack(rows).to(device)


def adversarial_search(loss: LossFn, start: torch.Tensor, steps: int, lr: float):
    """The logit rows visited, and their class-sums, while Adam moves `start` up, then down,
    the gradient of S. A direction stops early where the gradient is not finite (a saturated
    or non-smooth loss); a callable without gradients is evaluated at `start` only."""
    visited, sums_seen = [], []
    for sign in (1.0, -1.0):
        z = start.clone().requires_grad_(True)
        optimiser = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            sums = class_sums(loss, z)
            visited.append(z.detach().clone())
            sums_seen.append(sums.detach())
            if not sums.requires_grad:
                return torch.cat(visited), torch.cat(sums_seen)
            optimiser.zero_grad()
            (-sign * sums.sum()).backward()
            if not torch.isfinite(z.grad).all():
                break
            optimiser.step()
    return torch.cat(visited), torch.cat(sums_seen)


def check_symmetry(
    loss: LossFn,
    num_classes: int,
    *,
    rows: int = 64,
    adversarial_rows: int = 8,
    steps: int = 50,
    lr: float = 0.5,
    rtol: float = 1e-4,
    atol: float = 1e-6,
    dtype: torch.dtype = torch.float64,
    device="cpu",
    seed: int = 0,
) -> SymmetryReport:
    """Measure whether sum_k loss(z, k) is constant in the logits z (module docstring).

    `loss(logits (N, K), targets (N,)) -> (N,)` is called with `dtype` logits (float64 by
    default, so that rounding does not blur the verdict) on `device`. Deterministic for a seed.
    """
    check_arguments(num_classes, rows, adversarial_rows, steps, rtol, atol)
    generator = torch.Generator().manual_seed(seed)
    logits = {
        "random": random_logits(num_classes, rows, generator, dtype, device),
        "extreme": extreme_logits(num_classes, generator, dtype, device),
    }
    with torch.no_grad():
        first, again = (class_sums(loss, logits["random"]) for _ in range(2))
        if not torch.allclose(first, again, rtol=0, atol=0, equal_nan=True):
            return undetermined(num_classes, rtol, atol)
        evaluated = {name: (z, class_sums(loss, z)) for name, z in logits.items()}
    if steps:
        starts = 3.0 * torch.randn(adversarial_rows, num_classes, generator=generator, dtype=dtype)
        evaluated["adversarial"] = adversarial_search(loss, starts.to(device), steps, lr)
    return summarise(num_classes, evaluated, rtol, atol)


def check_arguments(num_classes, rows, adversarial_rows, steps, rtol, atol) -> None:
    for name, value, low in (
        ("num_classes", num_classes, 2),
        ("rows", rows, 1),
        ("adversarial_rows", adversarial_rows, 1),
        ("steps", steps, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{name} must be a number >= 0, got {value!r}")


def undetermined(num_classes: int, rtol: float, atol: float) -> SymmetryReport:
    nan = float("nan")
    return SymmetryReport(
        num_classes,
        None,
        "undetermined: the loss is random (two identical "
        "calls gave different values), so it has no fixed class-sum",
        nan,
        nan,
        nan,
        rtol,
        atol,
    )


def summarise(num_classes: int, evaluated: dict, rtol: float, atol: float) -> SymmetryReport:
    """`evaluated`: source -> (logit rows, their class-sums)."""
    rows = torch.cat([z for z, _ in evaluated.values()]).cpu()
    everything = torch.cat([sums for _, sums in evaluated.values()]).double().cpu()
    by_source = {
        name: (sums.min().item(), sums.max().item()) for name, (_, sums) in evaluated.items()
    }
    report = SymmetryReport(
        num_classes,
        False,
        "",
        everything.mean().item(),
        everything.min().item(),
        everything.max().item(),
        rtol,
        atol,
        by_source,
        rows[everything.argmin()],
        rows[everything.argmax()],
        rows=everything.numel(),
    )
    finite = torch.isfinite(everything)
    if not finite.all():
        report.verdict = (
            f"not symmetric: the class-sum is not finite for "
            f"{int((~finite).sum())} of {everything.numel()} logit rows"
        )
        return report
    scale = max(abs(report.minimum), abs(report.maximum))
    report.symmetric = report.spread <= atol + rtol * scale
    report.verdict = (
        f"symmetric: the class-sum is constant, {report.constant:.6g}"
        if report.symmetric
        else f"not symmetric: the class-sum varies from {report.minimum:.6g} to "
        f"{report.maximum:.6g}"
    )
    return report
