"""Real human label noise: CIFAR-10N and CIFAR-100N (Wei, Zhu, Cheng, Liu, Niu, Liu, "Learning
with Noisy Labels Revisited: A Study Using Real-World Human Annotations", ICLR 2022; files from
UCSC-REAL/cifar-10-100n). Spec-free: the labels are read, not generated.

kind "human": the noisy labels are a column of the official file, indexed like the standard
CIFAR training set. `rate` must be 0 (the file fixes the noise); the realised rate is reported.
Extras: label_file (CIFAR-10_human.pt / CIFAR-100_human.pt, or the .npz copies),
label_set (see LABEL_SETS), sample_indices (positions of `labels` in the full training set,
for --train-subset runs; default: all of it, in order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

LABEL_SETS = {
    "cifar10": {
        "aggre": "aggre_label",
        "random1": "random_label1",
        "random2": "random_label2",
        "random3": "random_label3",
        "worse": "worse_label",
    },
    "cifar100": {"noisy": "noisy_label"},
}
DEFAULT_FILES = {"cifar10": "CIFAR-10_human.pt", "cifar100": "CIFAR-100_human.pt"}


def inputs(settings: dict, train_images, sample_indices) -> dict:
    """The extra inputs of kind "human" from a run's noise settings: the label file (default
    <root>/cifar-n/<the dataset's file>), the label set, and which samples are trained on."""
    default = Path(settings["root"]) / "cifar-n" / DEFAULT_FILES.get(settings["dataset"], "")
    return {
        "label_file": settings["label_file"] or str(default),
        "label_set": settings["label_set"],
        "sample_indices": sample_indices,
    }


def load_numpy_pickle(path: Path):
    """The official files are torch-zip pickles of numpy integer arrays. They are read with
    weights_only=True and only numpy's array-building globals allowed, so a crafted file
    cannot run code when it is opened (weights_only=False would call anything it names)."""
    import torch
    from numpy._core.multiarray import _reconstruct

    # numpy 1 wrote the official files (numpy.core), numpy 2 writes numpy._core: both names
    allowed = [
        (_reconstruct, "numpy.core.multiarray._reconstruct"),
        _reconstruct,
        np.ndarray,
        np.dtype,
        *(type(np.dtype(t)) for t in ("int64", "int32", "int16", "int8", "uint8")),
    ]
    with torch.serialization.safe_globals(allowed):
        return torch.load(path, weights_only=True)


def read_label_file(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"human-noise label file not found: {path}. Get the official CIFAR-N "
            f"files (UCSC-REAL/cifar-10-100n), or run ../shared/data/prepare.py "
            f"ROOT, which writes ROOT/cifar-n/"
        )
    try:
        if path.suffix == ".npz":
            with np.load(path) as data:
                return {k: np.asarray(data[k]) for k in data.files}
        return {k: np.asarray(v) for k, v in load_numpy_pickle(path).items()}
    except Exception as e:  # any reader failure is a bad file, said in one line
        raise ValueError(
            f"cannot read human-noise label file {path}: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}"
        ) from None


def apply_human_noise(
    labels,
    rate,
    num_classes,
    seed,
    dataset,
    variant,
    label_file=None,
    label_set=None,
    sample_indices=None,
    **extra,
):
    if extra:
        raise ValueError(
            f"noise kind 'human' got unexpected arguments {sorted(extra)}; it takes "
            f"label_file, label_set, sample_indices"
        )
    if dataset not in LABEL_SETS:
        raise ValueError(
            f"noise kind 'human' has label files for {sorted(LABEL_SETS)}, not {dataset!r}"
        )
    if rate != 0:
        raise ValueError(
            "noise kind 'human' takes its noise from the label file: set noise.rate "
            "to 0 (the realised rate is reported)"
        )
    sets = LABEL_SETS[dataset]
    if label_set not in sets:
        raise ValueError(
            f"noise.label_set for {dataset} must be one of {sorted(sets)}, got {label_set!r}"
        )
    if label_file is None:
        raise ValueError(
            f"noise kind 'human' needs noise.label_file (e.g. "
            f"<data root>/cifar-n/{DEFAULT_FILES[dataset]})"
        )
    table = read_label_file(label_file)
    column = sets[label_set]
    if column not in table or "clean_label" not in table:
        raise ValueError(
            f"{label_file} has no {column!r}/'clean_label' arrays "
            f"(found {sorted(table)}); is it the {dataset.upper()}-N file?"
        )
    noisy_all, clean_all = table[column].astype(np.int64), table["clean_label"].astype(np.int64)
    index = (
        np.arange(len(clean_all))
        if sample_indices is None
        else np.asarray(sample_indices, dtype=np.int64)
    )
    if len(index) != len(labels) or (len(index) and index.max() >= len(clean_all)):
        raise ValueError(
            f"{label_file} holds {len(clean_all)} labels; cannot align it with a "
            f"training set of {len(labels)} samples"
        )
    mismatch = np.flatnonzero(clean_all[index] != labels)
    if len(mismatch):
        raise ValueError(
            f"the training set does not match {label_file}: its clean_label differs "
            f"from the dataset's label at {len(mismatch)} of {len(labels)} positions "
            f"(first: index {int(index[mismatch[0]])}). The CIFAR-N files follow "
            f"the standard CIFAR training order; use the official batches"
        )
    return noisy_all[index]
