"""Datasets read as image files (mini-WebVision, ILSVRC12 val): too big for one uint8 tensor.

`FileImages` stands in for the uint8 image tensor of the in-memory datasets: it has a length, a
(N, C, H, W) `shape` (the crop size) and can be indexed by an index array, so train.py's subset,
validation split and noise code treat both kinds alike. `FileSource` serves batches with the
interface of DeviceDataset (train_batches / eval_batches yielding a device batch and the sample
indices) from a DataLoader with workers and pinned memory.

Decoding (`dataset.decode`):
  cpu    PIL decodes and augments each image in the workers (the official code's path);
         random crops come from the workers' RNG, so a resumed epoch replays the order exactly
         but not every crop.
  device the workers only read the file bytes; the batch is decoded on the training device
         (torchvision.io.decode_jpeg, on the GPU with CUDA) and augmented there, batched
         (datasets/device_decode.py). Its random draws come from a generator seeded by
         (seed, epoch, step, rank), so they also replay exactly on resume.

Order: every process draws the same global order of each epoch from the epoch generator and
keeps its contiguous share of each global batch (see engine/distributed.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from . import device_decode as dd
from . import webvision as wv
from .augment import Normalizer
from .device import eval_bounds, train_batch_bounds


class FileImages:
    """Image file paths, indexable like a (N, C, size, size) uint8 tensor of their crops."""

    def __init__(self, paths: Sequence, size: int = wv.CROP, decode: str = "cpu"):
        self.paths = (
            paths
            if isinstance(paths, np.ndarray)
            else np.array([os.fsencode(str(p)) for p in paths], dtype=np.bytes_)
        )
        self.size = size
        self.decode = decode

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self), 3, self.size, self.size)

    def __getitem__(self, index) -> FileImages:
        index = index.cpu().numpy() if isinstance(index, torch.Tensor) else np.asarray(index)
        return FileImages(self.paths[index], self.size, self.decode)

    def path_list(self) -> list[str]:
        return [os.fsdecode(p) for p in self.paths]


class _Batches(torch.utils.data.Sampler):
    """A batch sampler whose batches are set before each pass. The DataLoader iterates it in
    the main process, so it can keep its (persistent) workers across epochs."""

    def __init__(self):
        self.batches: list[list[int]] = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


class FileSource:
    def __init__(
        self,
        images: FileImages,
        mean,
        std,
        augment: str,
        device,
        channels_last: bool,
        workers: int,
        rank: int = 0,
        step_seed=None,
    ):
        self.device = torch.device(device)
        self.images = images
        self.train = augment != "none"
        self.rank = rank
        if images.decode == "device" and self.train and step_seed is None:
            raise ValueError(
                "decode on the device needs step_seed(epoch_draw, step, rank) "
                "(engine.seeds.decode_step_seed)"
            )
        self.step_seed = step_seed
        self.normalize = Normalizer(mean, std, self.device, input_max=1.0)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        paths = images.path_list()
        if images.decode == "device":
            dataset, collate = dd.EncodedFileDataset(paths), dd.collate_encoded
        else:
            transform = (
                wv.train_transform(images.size) if self.train else wv.eval_transform(images.size)
            )
            dataset, collate = wv.FileListDataset([(p, 0) for p in paths], transform), None
        self.dataset = dataset
        self.sampler = _Batches()
        # Training workers persist across epochs; evaluation workers are started per pass
        # (they would otherwise sit idle, holding memory, through every training epoch).
        self.loader = DataLoader(
            dataset,
            batch_sampler=self.sampler,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            collate_fn=collate,
            persistent_workers=workers > 0 and self.train,
        )

    def __len__(self):
        return len(self.images)

    def _batches(self, step_offset: int = 0):
        for step, (x, index) in enumerate(self.loader, start=step_offset):
            if self.images.decode == "device":
                decoded = dd.decode_batch(
                    x, self.device, [self.dataset.path(i) for i in index.tolist()]
                )
                if self.train:
                    g = torch.Generator().manual_seed(
                        self.step_seed(self._epoch_seed, step, self.rank)
                    )
                    x = dd.train_augment(decoded, g, self.images.size)
                else:
                    x = dd.eval_transform_batch(
                        decoded, wv.eval_resize(self.images.size), self.images.size
                    )
                x = self.normalize(x)
            else:
                x = x.to(self.device, non_blocking=True)
            yield (
                x.contiguous(memory_format=self.memory_format),
                index.to(self.device, non_blocking=True),
            )

    def train_batches(
        self, batch_size: int, generator: torch.Generator, first_step: int = 0, shard=None
    ):
        n = len(self)
        order = torch.randperm(n, generator=generator).tolist()
        self._epoch_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        self.sampler.batches = [
            order[start:stop]
            for start, stop in train_batch_bounds(n, batch_size, first_step, shard)
        ]
        yield from self._batches(first_step)

    def eval_batches(self, batch_size: int, shard=None):
        first, last = eval_bounds(len(self), shard)
        self.sampler.batches = [
            list(range(s, min(s + batch_size, last))) for s in range(first, last, batch_size)
        ]
        yield from self._batches()
