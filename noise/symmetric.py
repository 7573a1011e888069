"""Symmetric label noise (paper spec §5.2, default D7; official [SUB] ``dataset.py``).

One procedure for MNIST, CIFAR-10 and CIFAR-100:

    n_per_class = floor(floor(rate * N) / K)
    for c in 0..K-1:   pick n_per_class indices among the ORIGINAL members of c
    for i in picked:   y_i <- uniform over the K-1 classes other than y_i

So ``rate`` is the exact fraction of wrong labels (when K divides floor(rate*N)),
every class loses the same NUMBER of labels whatever its size (MNIST class 5 at
rate 0.8 is 88.5 % noisy, class 1 71.2 %), and a flip never lands on the true
class.  A per-sample Bernoulli flip over all K classes would give only
rate*(K-1)/K and is not what the paper used.

The random calls mirror the official code one for one (it used the global
generator right after ``np.random.seed(seed)``; we use a private
``RandomState(seed)``, whose stream is the same), so the labels equal the
official ones for the same seed.

The procedure already flips exact counts, so variants "reference" and "exact"
are the same procedure and give identical labels.
"""

from __future__ import annotations

import numpy as np

from .core import reject_unexpected_kwargs


def apply_symmetric_noise(
    labels: np.ndarray,
    rate: float,
    num_classes: int,
    seed: int,
    dataset: str | None,
    variant: str,
    **extra,
) -> np.ndarray:
    """Return symmetric-noise labels; ``dataset`` is metadata only (the procedure is shared)."""
    reject_unexpected_kwargs("symmetric", extra)
    rng = np.random.RandomState(seed)

    # Official: n_noisy = int(nosiy_rate * n_samples); class_noisy = int(n_noisy / K).
    n_noisy_total = int(rate * labels.shape[0])
    n_per_class = n_noisy_total // num_classes

    class_members = [np.where(labels == c)[0] for c in range(num_classes)]
    too_small = [(c, len(m)) for c, m in enumerate(class_members) if len(m) < n_per_class]
    if too_small:
        c, size = too_small[0]
        raise ValueError(
            f"symmetric noise flips {n_per_class} labels per class "
            f"(floor(floor({rate} * {labels.shape[0]}) / {num_classes})), but class {c} "
            f"has only {size} samples; lower the rate or use a dataset with at least "
            f"{n_per_class} samples in every class (too small: "
            f"{', '.join(f'class {k}: {n}' for k, n in too_small)})"
        )

    # Step 1: choose the samples to corrupt, class by class, from the ORIGINAL
    # labels.  The call is made even when n_per_class == 0, exactly as the
    # official code does (harmless: nothing is flipped then).
    picked: list[int] = []
    for c in range(num_classes):
        picked.extend(rng.choice(class_members[c], n_per_class, replace=False))

    # Step 2: in the same order, draw a new label uniformly over the OTHER
    # classes.  Official: np.random.choice(list(range(K)) minus {y}); passing
    # the equivalent array makes the identical draw.
    other_classes = [
        np.array([k for k in range(num_classes) if k != c], dtype=np.int64)
        for c in range(num_classes)
    ]
    noisy = labels.copy()
    for i in picked:
        noisy[i] = rng.choice(other_classes[labels[i]])
    return noisy
