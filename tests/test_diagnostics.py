"""Diagnostics: memorisation counts, the noisy validation split, and the transition estimate."""

import json

import fake_data
import numpy as np
import pytest
import torch

import train
from datasets import load_dataset
from engine.experiment import noisy_val_split
from engine.metrics import EpochAccumulator, memorisation_counts
from noise import estimate_noise, make_noisy_labels


def test_memorisation_counts_hand_built():
    clean = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    noisy = torch.tensor([0, 1, 2, 3, 9, 9, 9, 9])  # last four flipped to 9
    pred = torch.tensor(
        [0, 1, 5, 3, 9, 5, 9, 0]
    )  # kept: 3/4 right; flipped: 2 noisy, 1 true, 1 other
    assert memorisation_counts(pred, noisy, clean).tolist() == [4, 2, 1, 4, 3]
    acc = EpochAccumulator((), "cpu")
    acc.add(torch.tensor(1.0), torch.zeros(0), pred, noisy, clean)
    row = acc.row()
    assert row["mem_flipped_fit_noisy"] == 50.0 and row["mem_flipped_fit_true"] == 25.0
    assert row["mem_flipped_other"] == 25.0 and row["mem_kept_acc"] == 75.0
    assert row["train_acc_noisy"] == 5 / 8 * 100 and row["train_acc_clean"] == 4 / 8 * 100


def test_no_flips_gives_no_memorisation_numbers():
    acc = EpochAccumulator((), "cpu")
    y = torch.arange(4)
    acc.add(torch.tensor(0.5), torch.zeros(0), y, y, y)
    assert acc.row()["mem_flipped_fit_noisy"] is None and acc.row()["mem_kept_acc"] == 100.0


def test_noisy_val_split_disjoint_deterministic_and_seeded():
    tr, va = noisy_val_split(1000, 0.2, seed=3)
    assert len(va) == 200 and len(tr) == 800
    assert not set(tr) & set(va) and set(tr) | set(va) == set(range(1000))
    tr2, va2 = noisy_val_split(1000, 0.2, seed=3)
    assert np.array_equal(va, va2) and np.array_equal(tr, tr2)
    assert not np.array_equal(va, noisy_val_split(1000, 0.2, seed=4)[1])
    tr0, va0 = noisy_val_split(10, 0.0, seed=0)
    assert va0 is None and np.array_equal(tr0, np.arange(10))


@pytest.mark.parametrize("kind,rate", [("symmetric", 0.4), ("asymmetric", 0.3)])
def test_confident_joint_recovers_a_known_transition(kind, rate):
    rng = np.random.RandomState(0)
    K, n = 10, 20000
    clean = np.arange(n) % K
    noisy = make_noisy_labels(clean, kind, rate, K, dataset="mnist", seed=1)
    # a well-calibrated model of the TRUE class: 0.7 on it, the rest spread at random
    probs = rng.dirichlet(np.ones(K), size=n) * 0.3
    probs[np.arange(n), clean] += 0.7
    est = estimate_noise(probs, noisy.labels, K)
    assert est["noise_rate"] == pytest.approx(noisy.realised_rate, abs=0.02)
    assert np.abs(est["transition"] - noisy.transition).max() < 0.05


def test_run_reports_three_protocols_and_estimate(tmp_path):
    root = fake_data.write_fake_mnist(tmp_path / "data", n_train=200, n_test=40)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "dataset: {name: mnist, noisy_val_fraction: 0.25}\n"
        "noise: {kind: symmetric, rate: 0.4}\nloss: {name: ce}\n"
        "train: {epochs: 2, batch_size: 25, progress: false}\n"
    )
    out = tmp_path / "run"
    assert train.main(["--config", str(cfg), "--data-root", str(root), "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["best_on_noisy_val"]["selected_on"] == "noisy validation split (50 samples)"
    assert result["best_on_test"]["selected_on"] == "test set"
    val = np.load(out / "noisy_val_indices.npy")
    assert len(val) == 50
    # the injected rate of the held-out split, recomputed from the saved labels; the model fits
    # these easy fake digits (clean train accuracy 100 %), so the confident joint finds that
    # rate to within 3 of the 50 samples
    clean = load_dataset("mnist", root).train_labels
    injected = float(np.mean(np.load(out / "noisy_labels.npy")[val] != clean[val]))
    estimate = result["noise_estimate"]
    assert estimate["injected_rate"] == pytest.approx(injected, abs=1e-12)
    assert 0.2 < injected < 0.6
    assert estimate["estimated_rate"] == pytest.approx(injected, abs=3 / 50 + 1e-9)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all("val_noisy_top1" in r and "mem_flipped_fit_noisy" in r for r in rows)
