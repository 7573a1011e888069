"""Label-noise injection for the training set (paper spec §5; defaults D7-D10, D21).

    from noise import make_noisy_labels
    noisy = make_noisy_labels(train_labels, "symmetric", 0.4, num_classes=10, seed=0)
    noisy.labels, noisy.realised_rate, noisy.transition, noisy.summary()

Kinds (``NOISE_KINDS``):

============  ==============================================================  ===========  =====================================
kind          procedure                                                       default      source
============  ==============================================================  ===========  =====================================
none          labels unchanged; rate must be 0                                --           --
symmetric     floor(floor(rate*N)/K) samples per class (original labels),     reference    §5.2, D7; [SUB] dataset.py
              each relabelled uniformly over the K-1 other classes            (= exact)
asymmetric    mnist: 7->1, 2->7, 5<->6, 3->8, per-sample multinomial          reference    §5.3, D10; [SUB] multiclass_noisify
              cifar10: 9->1, 2->0, 3->5, 5->3, 4->7, sequential on CURRENT    reference    §5.4, D8, bug B10; [SUB] dataset.py
              labels (cat rate ~ rate*(1-rate))
              cifar100: blocks of 5 consecutive ids, c->c+1 circular,         reference    §5.5, D9, bug B11; [SUB]
              per-sample multinomial
pairflip      c -> (c+1) mod K, per-sample multinomial                        reference    co-teaching ``noisify_pairflip``
human         a column of the official CIFAR-10N / CIFAR-100N label file; rate 0   --      Wei et al. 2022 (noise/human.py)
instance      part-dependent instance noise from the images' features          --           Xia et al. 2020 (noise/instance.py)
============  ==============================================================  ===========  =====================================

Variants: ``"reference"`` (default) reproduces what the official code produced, because the
published numbers came from it (CIFAR-10 asymmetric keeps its sequential cat/dog draw, bug B10:
cat ~24 % noisy at rate 0.4); ``"exact"`` flips exactly floor(rate * n_c) samples of every
mapped class, from the original labels (the corrected option). Symmetric noise is exact-count
either way.

Seeding (§5.1, D21): the noise seed is an argument; every kind uses a private
``np.random.RandomState(seed)`` making the official code's calls in its order, so the labels
equal the official ones and the global generators are never touched. Adding a kind:
docs/ARCHITECTURE.md ("Where to add").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import human, instance
from .asymmetric import ASYMMETRIC_PAIRS, DATASET_NUM_CLASSES, apply_asymmetric_noise
from .core import (
    VARIANTS,
    NoisyLabels,
    as_label_array,
    labels_hash,
    normalise_dataset_name,
    realised_transition,
    validate_num_classes,
    validate_rate,
    validate_seed,
    validate_variant,
)
from .estimate import compare as compare_estimate
from .estimate import estimate_noise
from .human import apply_human_noise
from .identity import apply_no_noise
from .instance import apply_instance_noise
from .pairflip import apply_pairflip_noise
from .symmetric import apply_symmetric_noise

NoiseKindFn = Callable[..., np.ndarray]

#: Registry: kind name -> function(labels, rate, num_classes, seed, dataset, variant, **extra).
NOISE_KINDS: dict[str, NoiseKindFn] = {
    "none": apply_no_noise,
    "symmetric": apply_symmetric_noise,
    "asymmetric": apply_asymmetric_noise,
    "pairflip": apply_pairflip_noise,
    "human": apply_human_noise,  # CIFAR-10N / CIFAR-100N label files (Wei et al. 2022)
    "instance": apply_instance_noise,  # part-dependent IDN (Xia et al. 2020)
}

#: Kinds that need more than the labels: kind -> inputs(settings, train_images, sample_indices),
#: where settings has the run's dataset, root, label_file, label_set and norm_std.
KIND_INPUTS: dict[str, Callable[..., dict]] = {
    "human": human.inputs,
    "instance": instance.inputs,
}


def kind_inputs(kind: str, settings: dict, train_images, sample_indices) -> dict:
    """The extra keyword arguments of make_noisy_labels for `kind` ({} for most kinds)."""
    build = KIND_INPUTS.get(kind)
    return {} if build is None else build(settings, train_images, sample_indices)


__all__ = [
    "ASYMMETRIC_PAIRS",
    "KIND_INPUTS",
    "kind_inputs",
    "DATASET_NUM_CLASSES",
    "NOISE_KINDS",
    "NoisyLabels",
    "VARIANTS",
    "labels_hash",
    "make_noisy_labels",
    "estimate_noise",
    "compare_estimate",
    "realised_transition",
]


def make_noisy_labels(
    labels: Any,
    kind: str,
    rate: float,
    num_classes: int,
    dataset: str | None = None,
    seed: int = 0,
    variant: str = "reference",
    **kind_kwargs: Any,
) -> NoisyLabels:
    """Inject label noise of ``kind`` at ``rate`` into ``labels`` (never modified in place).

    Args:
        labels: 1-D integer labels in [0, num_classes) (list, numpy array or torch tensor).
        kind: a key of ``NOISE_KINDS``.
        rate: requested noise rate, finite, in [0, 1).
        num_classes: K >= 2.
        dataset: "mnist" / "cifar10" / "cifar100" (case-insensitive); required by
            kind "asymmetric", recorded as metadata by the other kinds.
        seed: noise seed in [0, 2**32 - 1]; same inputs + seed -> identical labels.
        variant: "reference" (official code, default) or "exact" (exact counts).
        **kind_kwargs: extra inputs for kinds that need them; rejected by the others.

    Raises:
        ValueError: on any invalid input; the message lists what is allowed.
    """
    if not isinstance(kind, str) or kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; valid kinds: {', '.join(NOISE_KINDS)}")
    num_classes = validate_num_classes(num_classes)
    clean = as_label_array(labels, num_classes)
    rate = validate_rate(rate)
    seed = validate_seed(seed)
    variant = validate_variant(variant)
    dataset = normalise_dataset_name(dataset)

    # Hand the kind a read-only copy: a kind that tried to edit its input in
    # place fails immediately instead of silently corrupting `clean`.
    frozen = clean.copy()
    frozen.flags.writeable = False
    noisy = NOISE_KINDS[kind](frozen, rate, num_classes, seed, dataset, variant, **kind_kwargs)

    noisy = np.asarray(noisy)
    if noisy.shape != clean.shape or not np.issubdtype(noisy.dtype, np.integer):
        raise RuntimeError(
            f"noise kind {kind!r} returned dtype {noisy.dtype}, shape {noisy.shape}; "
            f"expected integer labels of shape {clean.shape}"
        )
    if noisy.min() < 0 or noisy.max() >= num_classes:
        raise RuntimeError(f"noise kind {kind!r} returned labels outside [0, {num_classes})")

    return NoisyLabels(
        labels=noisy.astype(np.int64, copy=True),
        clean_labels=clean,
        kind=kind,
        rate=rate,
        num_classes=num_classes,
        variant=variant,
        seed=seed,
        dataset=dataset,
    )
