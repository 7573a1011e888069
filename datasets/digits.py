"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes): an offline quickstart.

Not part of the paper. `root` is ignored (the data ship inside scikit-learn).
Pixels are integers 0..16 and are stored as uint8 round(v * 255 / 16).
Split: fixed, stratified 80/20, independent of any training seed. For each class c (in order
0..9) the indices of class c are permuted with one `numpy.random.RandomState(DIGITS_SPLIT_SEED)`
stream (the legacy generator, whose stream numpy keeps frozen), the first round(0.2 * n_c) go
to test, the rest to train; both index lists are then sorted, so each split keeps the original
order. Result: 1,438 train + 359 test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import DatasetError, DatasetSpec, RawData, Split

DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.2


def digits_split(
    labels: np.ndarray, test_fraction: float = DIGITS_TEST_FRACTION, seed: int = DIGITS_SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified split -> (train_indices, test_indices), both sorted."""
    rng = np.random.RandomState(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(np.floor(test_fraction * len(idx) + 0.5))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 images as uint8 (N, 1, 8, 8) and labels int64 (N,)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise DatasetError(
            "digits needs scikit-learn, which is not installed: pip install scikit-learn"
        ) from e
    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None, :, :]
    return images, bunch.target.astype(np.int64)


def load_digits_dataset(root: Path | None, spec: DatasetSpec) -> RawData:
    images, labels = digits_arrays()
    tr, te = digits_split(labels)
    src = "sklearn.datasets.load_digits"
    return RawData(
        Split(images[tr], labels[tr], f"{src} (train, split seed {DIGITS_SPLIT_SEED})"),
        Split(images[te], labels[te], f"{src} (test, split seed {DIGITS_SPLIT_SEED})"),
        [str(i) for i in range(10)],
    )
