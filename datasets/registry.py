"""The dataset registry and `load_dataset`. Adding a dataset = one loader function + one entry."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from .base import DatasetArrays, DatasetError, DatasetNotFoundError, DatasetSpec, Split
from .cifar import load_cifar10, load_cifar100
from .digits import load_digits_dataset
from .download import via_torchvision
from .mnist import load_mnist
from .webvision import IMAGENET_HOW, MEAN, STD, WEBVISION_HOW
from .webvision_mini import load_mini

log = logging.getLogger(__name__)

_OFFLINE_HOW = "Get it with `download: true` on a machine with internet, or `{prepare} {root}`"

DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        num_classes=10,
        in_channels=1,
        image_size=28,
        mean=(0.1307,),
        std=(0.3081,),
        augment="none",
        default_model="cnn4",
        loader=load_mnist,
        download=via_torchvision("MNIST"),
        how_to_get=_OFFLINE_HOW,
        train_size=60000,
        test_size=10000,
        description="MNIST, torchvision layout MNIST/raw/*-ubyte (IDX, or .gz)",
    ),
    "cifar10": DatasetSpec(
        name="cifar10",
        num_classes=10,
        in_channels=3,
        image_size=32,
        mean=(0.49139968, 0.48215827, 0.44653124),
        std=(0.24703233, 0.24348505, 0.26158768),
        augment="crop_flip",
        default_model="cnn8",
        loader=load_cifar10,
        download=via_torchvision("CIFAR10"),
        how_to_get=_OFFLINE_HOW,
        train_size=50000,
        test_size=10000,
        description="CIFAR-10 python pickles, cifar-10-batches-py/",
    ),
    "cifar100": DatasetSpec(
        name="cifar100",
        num_classes=100,
        in_channels=3,
        image_size=32,
        mean=(0.5071, 0.4865, 0.4409),
        std=(0.2673, 0.2564, 0.2762),
        augment="crop_flip_rotate",
        default_model="resnet34",
        loader=load_cifar100,
        download=via_torchvision("CIFAR100"),
        how_to_get=(
            "CIFAR-100 is not available offline here: get it with `download: true` on a "
            "machine with internet, or unpack cifar-100-python.tar.gz from "
            "https://www.cs.toronto.edu/~kriz/cifar.html into {root}"
        ),
        train_size=50000,
        test_size=10000,
        description="CIFAR-100 python pickles, cifar-100-python/{train,test,meta}",
    ),
    "digits": DatasetSpec(
        name="digits",
        num_classes=10,
        in_channels=1,
        image_size=8,
        # computed from the fixed train split on the [0, 1] scale (population std over all pixels);
        # tests/test_datasets.py recomputes them
        mean=(0.30582244,),
        std=(0.37639863,),
        augment="none",
        default_model="cnn4",
        loader=load_digits_dataset,
        how_to_get="It ships with scikit-learn: pip install scikit-learn",
        train_size=1438,
        test_size=359,
        needs_root=False,
        paper_section="not in the paper",
        description="scikit-learn's bundled 8x8 digits, fixed stratified 80/20 split (seed 0)",
    ),
    "webvision_mini": DatasetSpec(
        name="webvision_mini",
        num_classes=50,
        in_channels=3,
        image_size=224,
        mean=MEAN,
        std=STD,
        augment="webvision",
        default_model="tv_resnet50",
        loader=None,
        load_files=load_mini,
        how_to_get=f"{WEBVISION_HOW}. {IMAGENET_HOW}",
        train_size=None,
        paper_section="§9",
        description="first 50 classes of WebVision 1.0 (Google), read as files; test = the "
        "same classes of ILSVRC12 val, plus WebVision val",
    ),
}


def get_spec(name: str) -> DatasetSpec:
    """The registry entry for `name` (case-insensitive); ValueError listing valid names otherwise."""
    key = str(name).strip().lower()
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(sorted(DATASETS))}")
    return DATASETS[key]


def _check_split(spec: DatasetSpec, which: str, split: Split) -> tuple[torch.Tensor, np.ndarray]:
    images, labels = split.images, np.asarray(split.labels)
    shape = (spec.in_channels, spec.image_size, spec.image_size)
    where = f"{spec.name} {which} split ({split.source})"
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise DatasetError(
            f"{where}: images must be uint8, got {getattr(images, 'dtype', type(images).__name__)}"
        )
    if images.ndim != 4 or images.shape[1:] != shape:
        raise DatasetError(
            f"{where}: images have shape {images.shape}, expected (N, {', '.join(map(str, shape))})"
        )
    if len(images) < 1:
        raise DatasetError(f"{where}: holds no images")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DatasetError(f"{where}: {len(images)} images but labels of shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        raise DatasetError(f"{where}: labels must be integers, got {labels.dtype}")
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= spec.num_classes:
        raise DatasetError(
            f"{where}: labels out of range: found values in [{lo}, {hi}], "
            f"expected 0..{spec.num_classes - 1}"
        )
    expected = spec.train_size if which == "train" else spec.test_size
    if expected is not None and len(images) != expected:
        log.warning(
            "%s holds %d images; the standard %s split has %d", where, len(images), which, expected
        )
    return (
        torch.from_numpy(np.ascontiguousarray(images)).contiguous(),
        labels.astype(np.int64, copy=True),
    )


def load_dataset(
    name: str, root: str | Path | None, download: bool = False, options: dict | None = None
) -> DatasetArrays:
    """Load a whole dataset into memory as raw uint8 image tensors + int64 numpy labels.

    name: a key of DATASETS (case-insensitive). root: the data root holding the standard layout
    (ignored for `digits`). download: when files are missing, fetch them through torchvision
    first (needs internet); files already present are never re-downloaded.
    options: for datasets read as files (webvision_mini): test_root, image_size, decode.
    Raises ValueError for an unknown name, DatasetError for missing or malformed data.
    """
    spec = get_spec(name)
    if root is not None:
        root = Path(root).expanduser()
    elif spec.needs_root:
        raise DatasetError(f"{spec.name} needs a data root (got None). {spec.how_to_get_for(None)}")
    if spec.load_files is not None:
        return spec.load_files(root, spec, options or {})
    try:
        raw = spec.loader(root, spec)
    except DatasetNotFoundError:
        if not (download and spec.download is not None):
            raise
        log.info("%s not found under %s: downloading through torchvision", spec.name, root)
        spec.download(root)
        raw = spec.loader(root, spec)
    train_images, train_labels = _check_split(spec, "train", raw.train)
    test_images, test_labels = _check_split(spec, "test", raw.test)
    class_names = None if raw.class_names is None else [str(c) for c in raw.class_names]
    if class_names is not None and len(class_names) != spec.num_classes:
        raise DatasetError(
            f"{spec.name} ({raw.train.source}): {len(class_names)} class names, "
            f"expected {spec.num_classes}"
        )
    return DatasetArrays(
        name=spec.name,
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
        num_classes=spec.num_classes,
        mean=tuple(float(m) for m in spec.mean),
        std=tuple(float(s) for s in spec.std),
        augment=spec.augment,
        class_names=class_names,
        source=f"train: {raw.train.source}; test: {raw.test.source}",
        spec=spec,
    )
