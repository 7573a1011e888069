"""Datasets as in-memory arrays: raw uint8 images (N, C, H, W) + int64 labels.

    from datasets import load_dataset, DATASETS, DatasetError, DatasetSpec
    data = load_dataset("cifar10", "/path/to/data_root", download=False)
    data.train_images  # torch.uint8 (50000, 3, 32, 32); data.train_labels: np.int64 (50000,)

Images are never normalised or augmented here: training moves the uint8 tensor to the device and
normalises (augment.Normalizer) and augments (`data.augment`) whole batches there. The layouts
read, mean/std, augmentations, checks and the offline copies: docs/DATASETS.md."""

import torch

from .base import (
    AUGMENTATIONS,
    DatasetArrays,
    DatasetError,
    DatasetNotFoundError,
    DatasetSpec,
    RawData,
    Split,
)
from .device import DeviceDataset
from .reference import ReferenceLoader
from .registry import DATASETS, get_spec, load_dataset

__all__ = [
    "AUGMENTATIONS",
    "DATASETS",
    "DatasetArrays",
    "DatasetError",
    "DatasetNotFoundError",
    "DatasetSpec",
    "DeviceDataset",
    "ReferenceLoader",
    "make_data_source",
    "RawData",
    "Split",
    "get_spec",
    "load_dataset",
]


def make_data_source(
    pipeline: str,
    images,
    data: DatasetArrays,
    augment: str,
    device,
    channels_last: bool = False,
    workers: int = 0,
    rank: int = 0,
    step_seed=None,
):
    """The batch source for train/eval: "fast" (uint8 on the device, batched augmentation) or
    "reference" (the official Dataset/PIL/DataLoader path, for comparison); datasets read as
    files (FileImages) always use a DataLoader over the files (datasets/files.py), whose
    device-side augmentation draws each step from `step_seed(epoch_draw, step, rank)`."""
    if not isinstance(images, torch.Tensor):
        from .files import FileSource

        return FileSource(
            images,
            data.mean,
            data.std,
            augment,
            device,
            channels_last,
            workers,
            rank=rank,
            step_seed=step_seed,
        )
    if pipeline == "reference":
        return ReferenceLoader(images, data.mean, data.std, augment, device, workers)
    return DeviceDataset(images, data.mean, data.std, augment, device, channels_last)
