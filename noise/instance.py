"""Instance-dependent label noise: the part-dependent generator of Xia, Liu, Han, Wang, Gong,
Liu, Niu, Tao, Sugiyama, "Part-dependent Label Noise: Towards Instance-dependent Label Noise",
NeurIPS 2020 (the common "IDN" benchmark; their `get_instance_noisy_label`).

For each sample i with feature vector x_i (flattened image, scaled to [0, 1] and L2-normalised)
and label y_i:
  flip rate   r_i ~ N(rate, norm_std^2) truncated to [0, 1]
  scores      s = x_i W_{y_i}, with W_c a (d x K) standard-normal projection per class c
  s_{y_i} = -inf;  P(new = k) = r_i softmax(s)_k for k != y_i,  P(new = y_i) = 1 - r_i
so a sample's flip probability and its likely wrong class depend on its own features. Seeded by
RandomState(seed). Extras: features (N x d array; required), norm_std (default 0.1).
"""

from __future__ import annotations

import numpy as np


def inputs(settings: dict, train_images, sample_indices) -> dict:
    """The extra inputs of kind "instance": each training image as a feature vector in [0, 1]
    (the images must be in memory, as a tensor or an array) and the spread of the weights."""
    if not hasattr(train_images, "reshape"):
        raise ValueError(
            f"noise.kind=instance needs the images in memory; {settings['dataset']} "
            f"is read as files"
        )
    flat = train_images.reshape(len(train_images), -1)
    flat = flat.numpy() if hasattr(flat, "numpy") else np.asarray(flat)
    return {"features": flat.astype(np.float32) / 255.0, "norm_std": settings["norm_std"]}


def truncated_normal(rng, mean: float, std: float, n: int) -> np.ndarray:
    out = rng.normal(mean, std, n)
    bad = (out < 0) | (out > 1)
    while bad.any():  # rejection sampling: exact truncation to [0, 1]
        out[bad] = rng.normal(mean, std, bad.sum())
        bad = (out < 0) | (out > 1)
    return out


def instance_transition_rows(labels, rate, num_classes, seed, features, norm_std=0.1):
    """Per-sample distributions over the new label (N x K), and the RNG for drawing."""
    features = np.asarray(features, dtype=np.float64).reshape(len(labels), -1)
    if not np.isfinite(features).all():
        raise ValueError("instance noise: features must be finite")
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    features = features / np.where(norms > 0, norms, 1.0)
    rng = np.random.RandomState(seed)
    flip = truncated_normal(rng, rate, norm_std, len(labels))
    W = rng.standard_normal((num_classes, features.shape[1], num_classes))
    scores = np.einsum("nd,ndk->nk", features, W[labels])
    scores[np.arange(len(labels)), labels] = -np.inf
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    probs *= flip[:, None]
    probs[np.arange(len(labels)), labels] = 1.0 - flip
    return probs, rng


def apply_instance_noise(
    labels, rate, num_classes, seed, dataset, variant, features=None, norm_std=0.1, **extra
):
    if extra:
        raise ValueError(
            f"noise kind 'instance' got unexpected arguments {sorted(extra)}; it "
            f"takes features and norm_std"
        )
    if features is None:
        raise ValueError("noise kind 'instance' needs the training features (features=...)")
    if not (isinstance(norm_std, (int, float)) and norm_std > 0):
        raise ValueError(f"instance noise: norm_std must be > 0, got {norm_std!r}")
    if rate == 0:
        return np.array(labels, dtype=np.int64)
    probs, rng = instance_transition_rows(labels, rate, num_classes, seed, features, norm_std)
    # inverse-CDF draw per sample, vectorised
    u = rng.random_sample(len(labels))[:, None]
    return (probs.cumsum(axis=1) < u).sum(axis=1).clip(max=num_classes - 1).astype(np.int64)
