"""Estimate the noise transition matrix and rate from a model's predictions (confident joint).

Confident learning (Northcutt, Jiang, Chuang, JAIR 2021), written out here rather than adding
a dependency: for each class j, a threshold t_j is the mean predicted probability of j over the
samples labelled j. A sample labelled i counts towards the joint C[i, j] when p_j >= t_j (the
most probable such j if several). One deliberate difference from cleanlab: a sample above no
threshold counts at its argmax class instead of being dropped. Dropping them biases the
estimate when the true members of a class sit around their own class's mean confidence (about
half of them fall below it), which under-counts flips out of classes that receive none.
C is calibrated so that each row sums to the number of samples
labelled i, then normalised to a joint Q(noisy = i, true = j). From Q:
  transition T[j, i] = P(noisy = i | true = j)   (row = true class, as NoisyLabels.transition)
  noise rate        = 1 - trace(Q).
"""

from __future__ import annotations

import numpy as np


def estimate_noise(probs: np.ndarray, noisy_labels: np.ndarray, num_classes: int) -> dict:
    probs = np.asarray(probs, dtype=np.float64)
    noisy = np.asarray(noisy_labels, dtype=np.int64)
    K = num_classes
    if probs.shape != (len(noisy), K):
        raise ValueError(f"probs must have shape ({len(noisy)}, {K}), got {probs.shape}")
    counts = np.bincount(noisy, minlength=K).astype(np.float64)
    thresholds = np.array([probs[noisy == j, j].mean() if counts[j] else np.inf for j in range(K)])
    above = probs >= thresholds[None, :]
    confident = above.any(axis=1)
    masked = np.where(above, probs, -np.inf)
    guess = np.where(confident, masked.argmax(axis=1), probs.argmax(axis=1))
    joint = np.zeros((K, K))
    np.add.at(joint, (noisy, guess), 1.0)
    row_sums = joint.sum(axis=1, keepdims=True)
    # calibrate: each noisy-label row sums to that label's count
    joint = np.divide(
        joint * counts[:, None], row_sums, out=np.zeros_like(joint), where=row_sums > 0
    )
    total = joint.sum()
    joint = joint / total if total > 0 else joint
    true_mass = joint.sum(axis=0)  # P(true = j)
    transition = np.divide(
        joint.T, true_mass[:, None], out=np.zeros((K, K)), where=true_mass[:, None] > 0
    )
    return {
        "noise_rate": float(1.0 - np.trace(joint)),
        "transition": transition,
        "joint": joint,
        "confident_fraction": float(confident.mean()),
        "empty_rows": [int(j) for j in np.flatnonzero(true_mass <= 0)],
    }


def compare(
    estimate: dict,
    injected_transition: np.ndarray,
    injected_rate: float,
    sample: str,
    out_of_sample: bool,
) -> dict:
    """JSON-ready comparison of an estimate with the injected noise. `sample` says which
    predictions it used: the method assumes out-of-sample ones, and a model's predictions on
    the samples it trained on agree with their noisy labels wherever it memorised them, so an
    in-sample estimate under-counts the noise."""
    est_T = estimate["transition"]
    empty = estimate["empty_rows"]
    return {
        "method": "confident joint (noise/estimate.py)",
        "sample": sample,
        "out_of_sample": out_of_sample,
        "empty_rows": empty,
        "empty_rows_note": None
        if not empty
        else (
            f"no sample was estimated to belong to true class(es) {empty}, so their rows of "
            f"transition_estimated are unknown and left at 0 (a model that never predicts a "
            f"class confidently, or a class that loses all its labels to others)"
        ),
        "estimated_rate": estimate["noise_rate"],
        "injected_rate": float(injected_rate),
        "rate_abs_error": abs(estimate["noise_rate"] - float(injected_rate)),
        "transition_mean_abs_error": float(np.abs(est_T - injected_transition).mean()),
        "transition_max_abs_error": float(np.abs(est_T - injected_transition).max()),
        "transition_estimated": np.round(est_T, 4).tolist(),
        "confident_fraction": estimate["confident_fraction"],
    }
