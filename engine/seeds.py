"""Every seed a run derives from its configured seeds, in one place.

A run has two configured seeds: train.seed and noise.seed (None: the train seed). Each random
stream of the run gets its own seed, derived here by a named function, so that two streams
never share one by accident and a resumed run re-derives exactly the same ones. The constants
are arbitrary primes; changing any of them changes results (bit-exact resume tests and saved
runs depend on them), so they are frozen.

Pure integer arithmetic, no imports. datasets/ never imports it: what it needs (the epoch's
generator, the device-decode step seed) is handed to it by engine/ (make_data_source).
"""

from __future__ import annotations

SUBSET_SEED = 0  # the dataset.train_subset draw: the same subset for every seed and loss
EPOCH_STRIDE = 1_000_003
RANK_STRIDE = 7_919
VAL_SPLIT_OFFSET = 7_919  # the val split's stream differs from the noise stream of that seed
DECODE_EPOCH_STRIDE = 100_003
DECODE_STEP_STRIDE = 1_009


def noise_seed(train_seed: int, configured: int | None) -> int:
    """The noise draw's seed: noise.seed when set, else train.seed (the paper's runs)."""
    return train_seed if configured is None else configured


def epoch_seed(train_seed: int, epoch: int) -> int:
    """One epoch's order and augmentation (engine/runtime.py epoch_generator)."""
    return train_seed * EPOCH_STRIDE + epoch


def rank_seed(train_seed: int, rank: int) -> int:
    """The global torch stream of one process under torchrun (NLNL's complementary labels):
    distinct per rank, and distinct from every epoch stream of the same train seed."""
    return train_seed * EPOCH_STRIDE + RANK_STRIDE * (rank + 1)


def rank_reseed(draw: int, rank: int) -> int:
    """A rank's global stream after a resume on another number of processes: rank 0's restored
    stream drew `draw`, each rank continues from its own offset of it."""
    return draw + rank


def decode_step_seed(epoch_draw: int, step: int, rank: int) -> int:
    """The device-decoded augmentation of one step on one rank (datasets/files.py); `epoch_draw`
    is drawn from the epoch's generator, so it replays exactly on resume."""
    return (epoch_draw * DECODE_EPOCH_STRIDE + step) * DECODE_STEP_STRIDE + rank


def val_split_seed(noise_seed: int) -> int:
    """The noisy validation split (engine/experiment.py noisy_val_split)."""
    return noise_seed + VAL_SPLIT_OFFSET
