"""Shared types of the `datasets` package: the error class, the spec, and the loaded arrays.

A loader function (one per dataset) reads its files and returns a :class:`RawData`; the generic
checks and the assembly into :class:`DatasetArrays` happen once, in :func:`datasets.load_dataset`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

AUGMENTATIONS = ("none", "crop_flip", "crop_flip_rotate", "webvision")

# `python ../shared/data/prepare.py DIR` unpacks the offline copies (MNIST, CIFAR-10) into the
# layouts read here. Show the absolute path when the shared folder sits next to the repository.
_PREPARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "prepare.py"
PREPARE_CMD = f"python {_PREPARE}" if _PREPARE.is_file() else "python ../shared/data/prepare.py"


class DatasetError(RuntimeError):
    """A dataset is missing, incomplete or malformed. The message is always a single line that
    names the offending path and says what is wrong or how to get the data."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class DatasetNotFoundError(DatasetError):
    """An expected file or folder does not exist (`download=True` may fix it)."""


@dataclass
class Split:
    """One split as read from disk, before the generic checks."""

    images: np.ndarray  # uint8 (N, C, H, W)
    labels: np.ndarray  # integer (N,)
    source: str  # path(s) the split was read from, named in error messages


class RawData(NamedTuple):
    """What a loader function returns."""

    train: Split
    test: Split
    class_names: list[str] | None


# loader(root, spec) -> RawData. `root` is None only for datasets that need no files (digits).
LoaderFn = Callable[[Path | None, "DatasetSpec"], RawData]


@dataclass(frozen=True)
class DatasetSpec:
    """Static description of one dataset: everything known without reading a file.

    `how_to_get` may contain ``{root}`` and ``{prepare}`` placeholders; use :meth:`how_to_get_for`.
    `train_size` / `test_size` are the standard sizes, for documentation and a logged warning only:
    any size >= 1 is accepted so that tiny files in the real layout can stand in for tests.
    """

    name: str
    num_classes: int
    in_channels: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: str
    default_model: str
    loader: LoaderFn
    how_to_get: str
    train_size: int | None = None
    test_size: int | None = None
    download: Callable[[Path], None] | None = None  # fetches the files into root (torchvision)
    needs_root: bool = True
    paper_section: str = "§7"
    description: str = ""
    # Datasets read as files (datasets/files.py): (root, spec, options) -> DatasetArrays whose
    # images are FileImages; `loader` is then unused.
    load_files: Callable[[Path, DatasetSpec, dict], DatasetArrays] | None = None

    def __post_init__(self):
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"{self.name}: augment {self.augment!r} not in {AUGMENTATIONS}")
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise ValueError(f"{self.name}: mean/std need {self.in_channels} values per channel")

    def how_to_get_for(self, root: Path | None) -> str:
        return self.how_to_get.format(
            root=root if root is not None else "DATA_ROOT", prepare=PREPARE_CMD
        )


@dataclass(repr=False)
class DatasetArrays:
    """A whole dataset in memory. Images stay raw uint8 (normalise with `mean`/`std` after
    dividing by 255, on the device, batched); labels are the clean labels as numpy int64.
    For datasets read as files the images are datasets.files.FileImages instead."""

    name: str
    train_images: torch.Tensor  # uint8 (N, C, H, W), contiguous
    train_labels: np.ndarray  # int64 (N,)
    test_images: torch.Tensor  # uint8 (M, C, H, W), contiguous
    test_labels: np.ndarray  # int64 (M,)
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: str
    class_names: list[str] | None = None
    source: str = ""
    spec: DatasetSpec | None = field(default=None, compare=False)
    # More evaluation sets besides the test set, by name: {name: (images, labels)}; each is
    # reported as <name>_top1 / <name>_top5 / <name>_loss every epoch.
    extra_eval: dict = field(default_factory=dict)
    # True for real-world noisy data (WebVision): the "clean" labels are the web labels, so
    # there is no injected noise to compare an estimate or memorisation against.
    labels_are_noisy: bool = False

    @property
    def num_train(self) -> int:
        return int(self.train_images.shape[0])

    @property
    def num_test(self) -> int:
        return int(self.test_images.shape[0])

    @property
    def in_channels(self) -> int:
        return int(self.train_images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.train_images.shape[-1])

    def summary(self) -> str:
        c, h, w = self.train_images.shape[1:]
        return (
            f"{self.name}: {self.num_train} train + {self.num_test} test images of "
            f"{c}x{h}x{w}, {self.num_classes} classes, augment={self.augment}, "
            f"from {self.source}"
        )

    __repr__ = summary
