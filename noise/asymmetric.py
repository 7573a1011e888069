"""Asymmetric (class-dependent) label noise for MNIST, CIFAR-10 and CIFAR-100.

The class mappings are data (:data:`ASYMMETRIC_PAIRS`); the procedures are:

variant "reference" (default) -- what the official code ([SUB] ``dataset.py``) did,
because the published numbers came from it:

* mnist (§5.3, D10), cifar100 (§5.5, D9): per-sample multinomial draw from
  P = I with P[s, s] = 1 - rate, P[s, t] = rate for each pair, using a private
  ``RandomState(seed)``, one draw per sample in index order (official
  ``multiclass_noisify``).  Realised rates are only approximately ``rate``.
  (Bug B11: the official CIFAR-100 code calls the noisifier 20 times with the
  same seed and keeps the last call, made with the full matrix; one call with
  the full matrix is identical.)
* cifar10 (§5.4, D8, bug B10): sequential pairs.  For each pair in order,
  pick floor(rate * |current members of s|) samples among the samples whose
  CURRENT label is s and relabel them t.  Because cat->dog runs before
  dog->cat, the dog->cat step also re-draws relabelled cats, some of which go
  back to "cat": the effective cat rate is about rate*(1-rate) (23.7 % at 0.4),
  dog about rate, truck/bird/deer exactly rate.

variant "exact" (the corrected option, same idea as [ANL]): for every pair,
exactly floor(rate * n_s) samples are drawn without replacement from the
ORIGINAL members of s, so every mapped source class has the nominal rate.

In both variants only the mapped source classes change, and only to their target.
"""

from __future__ import annotations

import numpy as np

from .core import (
    check_pairs,
    exact_count_flip,
    per_sample_flip,
    reject_unexpected_kwargs,
    transition_from_pairs,
)


def _cifar100_block_pairs() -> list[tuple[int, int]]:
    """§5.5: 20 blocks of 5 CONSECUTIVE class indices (0-4, 5-9, ..., 95-99),
    c -> c+1 inside the block, last -> first.  These are NOT the real CIFAR-100
    super-classes (fine labels are alphabetical); kept for comparability."""
    block = 5
    return [(c, (c - c % block) + (c % block + 1) % block) for c in range(100)]


#: dataset -> list of (source, target) pairs.  Order matters for the CIFAR-10
#: reference procedure (it is sequential).
ASYMMETRIC_PAIRS: dict[str, list[tuple[int, int]]] = {
    # §5.3 / D10: 7->1, 2->7, 5<->6, 3->8.
    "mnist": [(7, 1), (2, 7), (5, 6), (6, 5), (3, 8)],
    # §5.4 / D8: truck->automobile, bird->airplane, cat->dog, dog->cat, deer->horse,
    # in the official order (cat->dog before dog->cat produces bug B10).
    "cifar10": [(9, 1), (2, 0), (3, 5), (5, 3), (4, 7)],
    # §5.5 / D9: consecutive-index blocks of 5.
    "cifar100": _cifar100_block_pairs(),
}

#: Number of classes each mapping is defined for.
DATASET_NUM_CLASSES: dict[str, int] = {"mnist": 10, "cifar10": 10, "cifar100": 100}

for _name, _pairs in ASYMMETRIC_PAIRS.items():  # guard the tables against edits
    check_pairs(_pairs, DATASET_NUM_CLASSES[_name])


def sequential_current_label_flip(
    labels: np.ndarray, pairs, rate: float, rng: np.random.RandomState
) -> np.ndarray:
    """Official CIFAR-10 procedure: candidates are taken from the CURRENT labels.

    Kept bug-for-bug (B10) because the published CIFAR-10 asymmetric results
    depend on it; see the module docstring.
    """
    noisy = labels.copy()
    for source, target in pairs:
        current_members = np.where(noisy == source)[0]
        n_flip = int(rate * current_members.shape[0])
        chosen = rng.choice(current_members, n_flip, replace=False)
        noisy[chosen] = target
    return noisy


def _per_sample_reference(labels, pairs, rate, num_classes, rng):
    return per_sample_flip(labels, transition_from_pairs(pairs, rate, num_classes), rng)


def _sequential_reference(labels, pairs, rate, num_classes, rng):
    return sequential_current_label_flip(labels, pairs, rate, rng)


#: dataset -> procedure used for variant "reference".
REFERENCE_PROCEDURES = {
    "mnist": _per_sample_reference,
    "cifar10": _sequential_reference,
    "cifar100": _per_sample_reference,
}


def apply_asymmetric_noise(
    labels: np.ndarray,
    rate: float,
    num_classes: int,
    seed: int,
    dataset: str | None,
    variant: str,
    **extra,
) -> np.ndarray:
    reject_unexpected_kwargs("asymmetric", extra)
    if dataset not in ASYMMETRIC_PAIRS:
        raise ValueError(
            f"kind 'asymmetric' needs dataset to be one of "
            f"{', '.join(sorted(ASYMMETRIC_PAIRS))} (datasets with a class mapping); "
            f"got {dataset!r}"
        )
    expected = DATASET_NUM_CLASSES[dataset]
    if num_classes != expected:
        raise ValueError(
            f"the asymmetric mapping for {dataset!r} is defined for num_classes={expected}; "
            f"got num_classes={num_classes}"
        )
    pairs = ASYMMETRIC_PAIRS[dataset]
    # A fresh private generator per call, as in the official code (a separate
    # RandomState(seed) for MNIST/CIFAR-100; the global generator just seeded
    # with `seed` for CIFAR-10 -- the same stream).
    rng = np.random.RandomState(seed)
    if variant == "exact":
        return exact_count_flip(labels, pairs, rate, rng)
    return REFERENCE_PROCEDURES[dataset](labels, pairs, rate, num_classes, rng)
