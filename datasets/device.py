"""A dataset held as one uint8 tensor on the training device, served in batches.

This is the "fast" data path (see augment.py). On the CPU the tensor lives in host memory and
the same code runs; there is no worker process and no per-sample Python.
"""

from __future__ import annotations

import torch

from . import augment as aug


def train_batch_bounds(n: int, batch_size: int, first_step: int = 0, shard=None):
    """(start, stop) positions, in an epoch's order of n samples, of each training batch from
    batch `first_step` on; with `shard` (an engine.distributed.Dist) this process's contiguous
    share of each batch, `batch_size` being the total over all processes.

    A final batch too small to train on is dropped: BatchNorm cannot train on one sample, so
    each process needs 2 (Dist.min_batch). In one process that is a final batch of 1, never
    the case for the paper's datasets (60000 % 128 = 96, 50000 % 128 = 80).
    """
    smallest = 2 if shard is None else shard.min_batch()
    for start in range(first_step * batch_size, n, batch_size):
        stop = min(start + batch_size, n)
        if stop - start < smallest and n > 1:
            return
        if shard is not None:
            lo, hi = shard.shard_bounds(stop - start)
            start, stop = start + lo, start + hi
        yield start, stop


def eval_bounds(n: int, shard=None) -> tuple[int, int]:
    """[first, last) of an evaluation set of n samples that this process evaluates."""
    return (0, n) if shard is None else shard.shard_bounds(n)


class DeviceDataset:
    def __init__(
        self, images: torch.Tensor, mean, std, augment: str, device, channels_last: bool = False
    ):
        self.images = images.to(device)
        self.device = torch.device(device)
        self.augment = augment
        self.normalize = aug.Normalizer(mean, std, self.device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __len__(self):
        return self.images.shape[0]

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalize(x).contiguous(memory_format=self.memory_format)

    def train_batches(
        self, batch_size: int, generator: torch.Generator, first_step: int = 0, shard=None
    ):
        """Yield (normalised augmented batch, device index tensor) over one shuffled epoch,
        starting at batch `first_step` (a resumed epoch replays the same order and parameters).

        `shard` keeps this process's share of every batch (train_batch_bounds); each sample
        keeps the augmentation parameters it has in one process.
        """
        n = len(self)
        order = torch.randperm(n, generator=generator)
        params = aug.draw_params(n, self.augment, generator)
        order = order.to(self.device, non_blocking=True)
        if params is not None:
            params = params.to(self.device)
        for start, stop in train_batch_bounds(n, batch_size, first_step, shard):
            index = order[start:stop]
            x = self.images[index].float()
            if params is not None:
                # Parameters are indexed by position in the epoch, not by sample.
                x = aug.apply(x, params.take(slice(start, stop)))
            yield self._finish(x), index

    def eval_batches(self, batch_size: int, shard=None):
        """Batches in order; with `shard`, only this process's contiguous share of the set."""
        first, last = eval_bounds(len(self), shard)
        for start in range(first, last, batch_size):
            stop = min(start + batch_size, last)
            yield self._finish(self.images[start:stop].float()), slice(start, stop)
