"""engine/seeds.py: the derived streams of one run are distinct, and their values are frozen
(saved runs and checkpoints were made with them: a resume must re-derive the same seeds)."""

from engine import seeds


def test_streams_of_one_run_do_not_collide():
    train_seed, epochs, ranks = 123, range(1000), range(64)
    epoch = {seeds.epoch_seed(train_seed, e) for e in epochs}
    rank = {seeds.rank_seed(train_seed, r) for r in ranks}
    assert len(epoch) == len(epochs) and len(rank) == len(ranks) and not epoch & rank
    assert seeds.val_split_seed(train_seed) != seeds.noise_seed(train_seed, None)


def test_values_are_the_ones_runs_were_made_with():
    assert seeds.epoch_seed(5, 2) == 5 * 1_000_003 + 2
    assert seeds.rank_seed(5, 1) == 5 * 1_000_003 + 7_919 * 2
    assert seeds.decode_step_seed(11, 3, 1) == (11 * 100_003 + 3) * 1_009 + 1
    assert seeds.val_split_seed(515) == 515 + 7919
    assert seeds.noise_seed(0, None) == 0 and seeds.noise_seed(0, 7) == 7
    assert seeds.SUBSET_SEED == 0
