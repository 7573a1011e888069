"""Pair-flip label noise (co-teaching style; not used by the paper, offered as an option).

Each class c is confused with the next one, c -> (c + 1) mod K:
transition P = (1 - rate) I + rate * shift.

* variant "reference" (default): per-sample multinomial draw from P with a
  private ``RandomState(seed)``, one draw per sample in index order -- the
  ``noisify_pairflip`` / ``multiclass_noisify`` procedure of the co-teaching
  code, which builds the same P.  The realised rate is approximately ``rate``.
* variant "exact": exactly floor(rate * n_c) samples of every class c, drawn
  without replacement from the original labels, are relabelled (c + 1) mod K.

``dataset`` is metadata only.
"""

from __future__ import annotations

import numpy as np

from .core import exact_count_flip, per_sample_flip, reject_unexpected_kwargs, transition_from_pairs


def pairflip_pairs(num_classes: int) -> list[tuple[int, int]]:
    return [(c, (c + 1) % num_classes) for c in range(num_classes)]


def apply_pairflip_noise(
    labels: np.ndarray,
    rate: float,
    num_classes: int,
    seed: int,
    dataset: str | None,
    variant: str,
    **extra,
) -> np.ndarray:
    reject_unexpected_kwargs("pairflip", extra)
    pairs = pairflip_pairs(num_classes)
    rng = np.random.RandomState(seed)
    if variant == "exact":
        return exact_count_flip(labels, pairs, rate, rng)
    return per_sample_flip(labels, transition_from_pairs(pairs, rate, num_classes), rng)
