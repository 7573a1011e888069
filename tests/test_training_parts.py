"""The parts train.py is made of, each against an independent expectation: the loss API every
caller relies on, the labels-derived loss parameters, the noise kinds' extra inputs, the
first-non-finite record, the stop agreement and the result builder."""

import signal

import numpy as np
import pytest
import torch

from engine.distributed import Dist
from engine.errors import NumericalFault
from engine.experiment import build_criteria, load_config
from engine.record import RunCoordinates, validate_result
from engine.result import build_result
from engine.stop import StopRequest
from engine.training import FirstNonFinite
from losses import build_loss, train_label_params
from noise import kind_inputs


def test_a_single_loss_answers_components_with_its_value_and_no_terms():
    z, y = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1])
    ce = build_loss("ce", 4)
    total, terms = ce.components(z, y)
    expected = -torch.log_softmax(z, 1)[torch.arange(6), y].mean()
    assert terms == {} and ce.term_names == ()
    assert torch.allclose(total, expected)


def test_a_pair_answers_components_with_its_weighted_terms():
    z, y = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1])
    pair = build_loss("nce+mae", 4, alpha=2.0, beta=3.0)
    total, terms = pair.components(z, y)
    p_y = torch.softmax(z, 1)[torch.arange(6), y]
    assert pair.term_names == ("nce", "mae")
    assert torch.allclose(terms["mae"], 3.0 * (1 - p_y).mean())
    assert torch.allclose(total, terms["nce"] + terms["mae"])


def test_nlnl_derives_its_class_counts_from_the_training_labels():
    labels = np.array([0, 0, 0, 2, 2, 1])
    # counts 3, 1, 2 for K = 4, and the empty class 3 floored at 1 (no division by zero)
    assert train_label_params("nlnl", labels, 4) == {"class_counts": [3, 1, 2, 1]}
    assert train_label_params("nce+rce", labels, 4) == {}
    assert train_label_params("ce+nlnl", labels, 4) == {"class_counts": [3, 1, 2, 1]}


def test_a_configured_class_count_wins_over_the_derived_one():
    cfg = load_config(
        "configs/mnist/sym/nlnl.yaml", sets=["loss.class_counts=[1,1,1,1,1,1,1,1,1,2]"]
    )
    labels = np.zeros(50, dtype=np.int64)  # derived counts would be [50, 1, ...]
    criterion = build_criteria(cfg, 10, labels, "cpu")[1]
    assert criterion.class_counts == [1] * 9 + [2]
    derived = build_criteria(load_config("configs/mnist/sym/nlnl.yaml"), 10, labels, "cpu")[1]
    assert derived.class_counts == [50] + [1] * 9


def test_human_noise_inputs_default_to_the_prepared_label_file(tmp_path):
    settings = {
        "dataset": "cifar10",
        "root": str(tmp_path),
        "label_file": None,
        "label_set": "worse",
        "norm_std": 0.1,
    }
    extra = kind_inputs("human", settings, None, np.array([3, 5]))
    assert extra["label_file"] == str(tmp_path / "cifar-n" / "CIFAR-10_human.pt")
    assert extra["label_set"] == "worse" and list(extra["sample_indices"]) == [3, 5]
    assert kind_inputs("symmetric", settings, None, None) == {}


def test_instance_noise_features_are_the_pixels_scaled_to_one():
    images = torch.tensor([[[[0, 255]]], [[[51, 102]]]], dtype=torch.uint8)  # 2 images, 1x1x2
    settings = {"dataset": "mnist", "norm_std": 0.3}
    extra = kind_inputs("instance", settings, images, None)
    assert extra["norm_std"] == 0.3
    assert np.allclose(extra["features"], [[0.0, 1.0], [0.2, 0.4]])
    with pytest.raises(ValueError, match="in memory"):
        kind_inputs("instance", settings, object(), None)


def test_first_non_finite_keeps_the_first_bad_step_and_its_terms():
    watch = FirstNonFinite(("nce", "rce"), "cpu")
    good = torch.tensor(True)
    watch.update(0, good, torch.tensor(1.0), torch.tensor([0.4, 0.6]))
    watch.raise_if_any(0)  # nothing bad yet
    watch.update(1, ~good, torch.tensor(float("nan")), torch.tensor([float("nan"), 0.5]))
    watch.update(2, ~good, torch.tensor(float("inf")), torch.tensor([7.0, 8.0]))
    watch.reduce(Dist())
    assert int(watch.step) == 1
    with pytest.raises(NumericalFault, match=r"epoch 4, step 1 \(loss=nan, nce=nan, rce=0.5\)"):
        watch.raise_if_any(3)


def test_one_process_stops_at_the_first_step_after_a_signal():
    stop = StopRequest(Dist(), "cpu")
    assert not stop.agreed(3)
    stop.signal = signal.SIGTERM
    assert stop.agreed(3) and stop.name == "SIGTERM" and stop.exit_code == 128 + 15


def history_rows():
    return [
        {
            "epoch": 1,
            "test_top1": 50.0,
            "test_top5": 90.0,
            "val_noisy_top1": 30.0,
            "skipped_steps": 1,
        },
        {
            "epoch": 2,
            "test_top1": 70.0,
            "test_top5": 95.0,
            "val_noisy_top1": 20.0,
            "skipped_steps": 0,
        },
        {
            "epoch": 3,
            "test_top1": 60.0,
            "test_top5": 96.0,
            "val_noisy_top1": 25.0,
            "skipped_steps": 2,
        },
    ]


def test_the_result_reports_each_protocol_from_the_rows():
    resumes = [{"epoch": 1, "step": 0, "changes": ["train.threads: 1 -> 2"], "forced": False}]
    where = RunCoordinates("mnist", "sym", "0.4", "ce", "0")
    result = build_result(
        history_rows(),
        ["test"],
        100,
        None,
        resumes,
        {"labels_sha256": "ab", "transition": [[1]]},
        "cpu",
        1,
        12.5,
        {"train.epochs": 3},
        where,
    )
    assert validate_result(result) == []
    assert result["run"] == where._asdict() and result["recipe"] == "paper"
    assert (result["epochs_run"], result["schedule_epochs"]) == (3, 3)
    assert result["last"] == {"epoch": 3, "test_top1": 60.0, "test_top5": 96.0}
    assert result["best_on_test"]["epoch"] == 2
    assert result["best_on_noisy_val"]["epoch"] == 1  # selected on val, not on test
    assert result["best_on_noisy_val"]["test_top1"] == 50.0
    assert result["skipped_steps"] == 3 and result["forced_resume"] is False
    assert result["noise"] == {"labels_sha256": "ab"}  # the transition stays in noise.json
    no_val = build_result(
        history_rows(), ["test"], None, None, [], {}, "cpu", 1, 1.0, {"train.epochs": 50}, where
    )
    assert no_val["best_on_noisy_val"] is None
