"""Kind "none": clean labels (the noise-free baseline)."""

from __future__ import annotations

import numpy as np

from .core import reject_unexpected_kwargs


def apply_no_noise(
    labels: np.ndarray,
    rate: float,
    num_classes: int,
    seed: int,
    dataset: str | None,
    variant: str,
    **extra,
) -> np.ndarray:
    """Return an unchanged copy.  A non-zero rate is an error rather than being
    ignored: asking for noise with kind "none" is almost certainly a config bug."""
    reject_unexpected_kwargs("none", extra)
    if rate != 0:
        raise ValueError(
            f"kind 'none' requires rate == 0 (got {rate}); to inject noise use kind "
            f"'symmetric', 'asymmetric' or 'pairflip'"
        )
    return labels.copy()
