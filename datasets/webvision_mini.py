"""mini-WebVision as the dataset train.py trains on: the file lists of datasets/webvision.py, the
images as datasets/files.py FileImages.

Its own module so that the imports run one way, webvision (lists, transforms, constants) <-
device_decode <- files <- webvision_mini, with no circle between them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .base import DatasetArrays, DatasetError, DatasetNotFoundError
from .files import FileImages
from .webvision import (
    CROP,
    MEAN,
    STD,
    SYNSETS,
    TRAIN_LIST,
    WEBVISION_HOW,
    check_class_order,
    read_imagenet_val,
    read_webvision,
    scan_imagenet_val,
)


def load_mini(root: Path, spec, options: dict):
    """mini-WebVision as a DatasetArrays of FileImages: train = the Google images of the first
    spec.num_classes classes, test = the same classes of ILSVRC12 val (the paper's metric),
    extra_eval["webvision_val"] = WebVision's own validation images of those classes."""
    root = Path(root).expanduser()
    web_root = root / "webvision" if (root / "webvision" / SYNSETS).is_file() else root
    if not (web_root / SYNSETS).is_file():
        raise DatasetNotFoundError(
            f"WebVision not found: expected {root / 'webvision' / SYNSETS} "
            f"or {root / SYNSETS} (set dataset.root). {WEBVISION_HOW}"
        )
    lists = read_webvision(web_root, spec.num_classes)
    test_root = Path(options.get("test_root") or root / "imagenet").expanduser()
    scanned = scan_imagenet_val(test_root)
    ilsvrc = read_imagenet_val(test_root, lists.wnids, scanned)
    warning = check_class_order(lists.wnids, scanned.class_wnids)
    if warning:
        logging.getLogger(__name__).warning("%s", warning)
    if not lists.train:
        raise DatasetError(
            f"{web_root / TRAIN_LIST} has no image of labels 0..{spec.num_classes - 1}"
        )
    size, decode = options.get("image_size") or CROP, options.get("decode") or "cpu"

    def files(items):
        return (
            FileImages([p for p, _ in items], size, decode),
            np.array([label for _, label in items], dtype=np.int64),
        )

    train_images, train_labels = files(lists.train)
    test_images, test_labels = files(ilsvrc)
    extra = {"webvision_val": files(lists.val)} if lists.val else {}
    return DatasetArrays(
        name=spec.name,
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
        num_classes=spec.num_classes,
        mean=MEAN,
        std=STD,
        augment=spec.augment,
        class_names=lists.names,
        source=f"train: {web_root / TRAIN_LIST}; test: ILSVRC12 val ({scanned.source})",
        spec=spec,
        extra_eval=extra,
        labels_are_noisy=True,
    )
