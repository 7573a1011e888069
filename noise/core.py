"""Shared machinery for label-noise injection.

Contents:

* :class:`NoisyLabels` -- the result object returned by ``make_noisy_labels``.
* :func:`labels_hash` -- a platform-independent fingerprint of a label array.
* input validation helpers (``as_label_array``, ``validate_*``,
  ``reject_unexpected_kwargs``) -- every problem is a ``ValueError`` whose
  message says what *is* allowed.
* the two flipping primitives that every kind is built from:
  :func:`per_sample_flip` (the official ``multiclass_noisify``) and
  :func:`exact_count_flip` (exact per-pair counts drawn from the original labels),
  plus :func:`transition_from_pairs` and :func:`realised_transition`.

Randomness: only ``np.random.RandomState`` is used, always a private instance
created from an explicit seed.  Its streams are frozen by NumPy's compatibility
policy (NEP 19), so the same seed gives the same labels on every machine and
NumPy version, and the global NumPy / torch generators are never touched.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Variants every kind accepts.  "reference" = what the official code produced
#: (used for the published numbers); "exact" = exact per-class flip counts.
VARIANTS = ("reference", "exact")

# RandomState accepts seeds in [0, 2**32 - 1].
_MAX_SEED = 2**32 - 1


# ---------------------------------------------------------------------------
# Hashing
# ---------------------------------------------------------------------------
def labels_hash(labels: Any) -> str:
    """sha256 hex digest of ``labels`` as little-endian int64 bytes.

    The dtype and byte order are fixed explicitly so that the digest of the same
    label sequence is identical on every platform and for every input type
    (list, int32 array, torch tensor, ...).  Used to check that a checkpoint was
    trained on the expected noisy labels.
    """
    if hasattr(labels, "detach"):  # torch.Tensor, without importing torch
        labels = labels.detach().cpu().numpy()
    arr = np.ascontiguousarray(np.asarray(labels), dtype="<i8").reshape(-1)
    return hashlib.sha256(arr.tobytes()).hexdigest()


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------
def validate_num_classes(num_classes: Any) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise ValueError(f"num_classes must be an integer >= 2; got {num_classes!r}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2; got {num_classes}")
    return int(num_classes)


def validate_rate(rate: Any) -> float:
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise ValueError(f"rate must be a finite number in [0, 1); got {rate!r}")
    # Keep the exact Python float: the official code multiplies this value by
    # class sizes and floors it, so the float value determines flip counts.
    rate = float(rate)
    if not math.isfinite(rate) or not (0.0 <= rate < 1.0):
        raise ValueError(f"rate must be a finite number in [0, 1); got {rate!r}")
    return rate


def validate_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(
            f"seed must be an integer in [0, {_MAX_SEED}] (numpy RandomState); got {seed!r}"
        )
    if not (0 <= seed <= _MAX_SEED):
        raise ValueError(
            f"seed must be an integer in [0, {_MAX_SEED}] (numpy RandomState); got {seed}"
        )
    return int(seed)


def validate_variant(variant: Any) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; allowed variants: {', '.join(VARIANTS)}")
    return variant


def normalise_dataset_name(dataset: Any) -> str | None:
    """``None`` stays ``None``; strings are stripped and lower-cased ("CIFAR10" -> "cifar10")."""
    if dataset is None:
        return None
    if not isinstance(dataset, str):
        raise ValueError(f"dataset must be a string or None; got {dataset!r}")
    return dataset.strip().lower()


def as_label_array(labels: Any, num_classes: int) -> np.ndarray:
    """Validate ``labels`` and return a fresh int64 copy (the input is never aliased)."""
    if hasattr(labels, "detach"):  # torch.Tensor, without importing torch
        labels = labels.detach().cpu().numpy()
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be a non-empty 1-D integer array; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("labels must be a non-empty 1-D integer array; got 0 labels")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"labels must be a non-empty 1-D integer array; got dtype {arr.dtype}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= num_classes:
        raise ValueError(
            f"labels must lie in [0, num_classes) = [0, {num_classes}); found min={lo}, max={hi}"
        )
    return arr.astype(np.int64, copy=True)


def reject_unexpected_kwargs(kind: str, extra: dict) -> None:
    """Kinds that need no extra inputs call this so that a typo is not silently ignored."""
    if extra:
        raise ValueError(
            f"noise kind {kind!r} takes no extra keyword arguments; got unexpected: {sorted(extra)}"
        )


def check_pairs(pairs: Sequence[tuple[int, int]], num_classes: int) -> None:
    """Each source class may appear once (a sample must never be picked twice)."""
    sources = [s for s, _ in pairs]
    if len(set(sources)) != len(sources):
        raise ValueError(f"each source class may appear only once in pairs; got {pairs}")
    for s, t in pairs:
        if not (0 <= s < num_classes and 0 <= t < num_classes) or s == t:
            raise ValueError(
                f"pair ({s}, {t}) must map a class in [0, {num_classes}) to a different class"
            )


# ---------------------------------------------------------------------------
# Transition matrices
# ---------------------------------------------------------------------------
def transition_from_pairs(
    pairs: Iterable[tuple[int, int]], rate: float, num_classes: int
) -> np.ndarray:
    """P = I except P[s, s] = 1 - rate and P[s, t] = rate for every pair (s -> t).

    Built exactly as the official code does (``np.eye`` then assignment of
    ``1. - n`` and ``n``) so the floating-point row values, and hence the
    multinomial draws, are bit-identical.
    """
    P = np.eye(num_classes)
    for s, t in pairs:
        P[s, s], P[s, t] = 1.0 - rate, rate
    return P


def realised_transition(clean: np.ndarray, noisy: np.ndarray, num_classes: int) -> np.ndarray:
    """Row-normalised confusion counts: T[i, j] = fraction of true-class-i samples labelled j.

    Rows of classes with no samples are all zeros (there is no evidence for them;
    an identity row would claim a 0 % noise rate that was never observed).
    """
    counts = (
        np.bincount(clean * num_classes + noisy, minlength=num_classes * num_classes)
        .reshape(num_classes, num_classes)
        .astype(np.float64)
    )
    row_totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, row_totals, out=np.zeros_like(counts), where=row_totals > 0)


# ---------------------------------------------------------------------------
# Flipping primitives
# ---------------------------------------------------------------------------
def per_sample_flip(labels: np.ndarray, P: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Official ``multiclass_noisify``: one multinomial draw per sample, in index order.

    Every sample gets a draw, including samples whose row of P is the identity:
    such draws still advance the generator, so skipping them would change every
    later draw and break equality with the official labels.
    """
    P = np.asarray(P, dtype=np.float64)
    K = P.shape[0]
    if P.ndim != 2 or P.shape[1] != K:
        raise ValueError(f"transition matrix must be square; got shape {P.shape}")
    if labels.max() >= K:
        raise ValueError(f"labels must lie in [0, {K}) for a {K}x{K} transition matrix")
    if (P < 0).any() or not np.allclose(P.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("transition matrix must be non-negative with rows summing to 1")

    noisy = labels.copy()
    if np.array_equal(P, np.eye(K)):
        # multinomial(1, e_c) always returns c: skip the O(N) Python loop.
        return noisy
    rows = [P[c, :] for c in range(K)]
    for idx in range(labels.shape[0]):
        # size=1 and [0] exactly as in the official code.
        draw = rng.multinomial(1, rows[labels[idx]], 1)[0]
        noisy[idx] = np.flatnonzero(draw == 1)[0]
    return noisy


def exact_count_flip(
    labels: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    rate: float,
    rng: np.random.RandomState,
) -> np.ndarray:
    """For each pair (s -> t), in order, relabel exactly floor(rate * n_s) samples as t.

    The samples are drawn without replacement from the ORIGINAL members of s
    (not the current labels), so the realised rate of every source class is the
    nominal rate up to flooring, whatever the order of the pairs.
    """
    sources = [s for s, _ in pairs]
    if len(set(sources)) != len(sources):
        # A repeated source would let the same sample be picked twice.
        raise ValueError(f"each source class may appear only once in pairs; got {list(pairs)}")
    noisy = labels.copy()
    for source, target in pairs:
        members = np.where(labels == source)[0]
        n_flip = int(rate * members.shape[0])
        chosen = rng.choice(members, n_flip, replace=False)
        noisy[chosen] = target
    return noisy


# ---------------------------------------------------------------------------
# Result object
# ---------------------------------------------------------------------------
@dataclass(eq=False)
class NoisyLabels:
    """Noisy labels plus everything needed to audit them.

    ``noisy_mask``, ``realised_rate`` and ``transition`` are derived from
    ``labels`` and ``clean_labels`` at construction.  ``transition`` rows of
    classes with no samples are all zeros.  ``rate`` is the requested rate;
    ``realised_rate`` is the fraction of labels actually changed.
    """

    labels: np.ndarray = field(repr=False)
    clean_labels: np.ndarray = field(repr=False)
    kind: str
    rate: float
    num_classes: int
    variant: str
    seed: int
    dataset: str | None = None
    noisy_mask: np.ndarray = field(init=False, repr=False)
    realised_rate: float = field(init=False)
    transition: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.clean_labels = np.asarray(self.clean_labels, dtype=np.int64)
        if self.labels.shape != self.clean_labels.shape:
            raise ValueError("labels and clean_labels must have the same shape")
        self.noisy_mask = self.labels != self.clean_labels
        self.realised_rate = float(self.noisy_mask.mean())
        self.transition = realised_transition(self.clean_labels, self.labels, self.num_classes)

    @property
    def class_counts(self) -> np.ndarray:
        """Number of samples per TRUE class."""
        return np.bincount(self.clean_labels, minlength=self.num_classes)

    @property
    def per_class_realised_rate(self) -> list[float | None]:
        """Fraction of each true class that was relabelled; ``None`` for absent classes."""
        changed = np.bincount(self.clean_labels[self.noisy_mask], minlength=self.num_classes)
        return [
            float(c / n) if n > 0 else None for c, n in zip(changed, self.class_counts, strict=True)
        ]

    def summary(self) -> dict:
        """JSON-serialisable record of the noise draw (plain Python types only)."""
        return {
            "kind": self.kind,
            "rate": float(self.rate),
            "variant": self.variant,
            "seed": int(self.seed),
            "dataset": self.dataset,
            "num_classes": int(self.num_classes),
            "n": int(self.labels.shape[0]),
            "num_noisy": int(self.noisy_mask.sum()),
            "realised_rate": self.realised_rate,
            "class_counts": [int(c) for c in self.class_counts],
            "per_class_realised_rate": self.per_class_realised_rate,
            "transition": [[round(float(v), 6) for v in row] for row in self.transition],
            "labels_sha256": labels_hash(self.labels),
            "clean_labels_sha256": labels_hash(self.clean_labels),
        }
