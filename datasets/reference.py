"""The official code's data path, kept selectable (`dataset.pipeline: reference`) so that it can
be compared with the fast path: a torch Dataset of PIL images, per-sample torchvision transforms
(spec §7) and a DataLoader, as in [SUB] dataset.py / train.py.

It serves the same interface as DeviceDataset (train_batches / eval_batches yielding a batch and
the sample indices), so train.py's loop is the same for both. Shuffling uses the epoch
generator; the transforms draw from torch's global RNG in the loading process, as in the
official code, so a mid-epoch resume replays the order exactly but not every random crop.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

from .augment import MAX_ANGLE, PAD


def reference_transform(augment: str, mean, std, image_size: int):
    steps = []
    if augment in ("crop_flip", "crop_flip_rotate"):
        steps += [T.RandomCrop(image_size, padding=PAD), T.RandomHorizontalFlip()]
    if augment == "crop_flip_rotate":
        steps.append(T.RandomRotation(MAX_ANGLE))
    return T.Compose(steps + [T.ToTensor(), T.Normalize(mean, std)])


class PILDataset(Dataset):
    """Images stored as HWC uint8 numpy, converted to PIL per sample like torchvision's MNIST/CIFAR."""

    def __init__(self, images: torch.Tensor, transform):
        self.images = np.ascontiguousarray(images.permute(0, 2, 3, 1).numpy())
        self.mode = "L" if self.images.shape[-1] == 1 else "RGB"
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        array = self.images[i][..., 0] if self.mode == "L" else self.images[i]
        return self.transform(Image.fromarray(array, mode=self.mode)), i


class ReferenceLoader:
    def __init__(self, images: torch.Tensor, mean, std, augment: str, device, workers: int = 0):
        self.device = torch.device(device)
        self.workers = workers
        self.dataset = PILDataset(images, reference_transform(augment, mean, std, images.shape[-1]))

    def __len__(self):
        return len(self.dataset)

    def _loader(self, batch_size, shuffle, generator=None):
        return DataLoader(
            self.dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )

    def train_batches(
        self, batch_size: int, generator: torch.Generator, first_step: int = 0, shard=None
    ):
        _one_process_only(shard)
        for step, (x, index) in enumerate(self._loader(batch_size, True, generator)):
            if step < first_step:
                continue
            if index.numel() == 1 and len(self) > 1:
                break  # BatchNorm cannot train on one sample (as in DeviceDataset)
            yield (x.to(self.device, non_blocking=True), index.to(self.device, non_blocking=True))

    def eval_batches(self, batch_size: int, shard=None):
        _one_process_only(shard)
        for x, index in self._loader(batch_size, False):
            yield x.to(self.device, non_blocking=True), index.to(self.device, non_blocking=True)


def _one_process_only(shard):
    if shard is not None and shard.world > 1:  # a Dist of one process shards nothing
        raise ValueError(
            "dataset.pipeline=reference runs in one process only; use the default "
            "fast pipeline with torchrun"
        )
