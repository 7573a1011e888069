"""Beyond the paper: ALFs and ANL losses, CIFAR-N human noise, instance-dependent noise, L1."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.step import forward
from losses import build_loss
from noise import make_noisy_labels
from noise.instance import instance_transition_rows


@pytest.mark.parametrize("K", [2, 10, 100])
def test_uniform_prediction_values(K):
    z, y = torch.zeros(2, K), torch.tensor([0, 1])
    p = 1 / K
    expected = {
        "agce": ((1 + 1) ** 2 - (1 + p) ** 2) / 2,
        "aul": ((1.5 - p) ** 0.9 - 0.5**0.9) / 0.9,
        "ael": math.exp(-p / 3),
        "nnce": 1 - 1 / K,
        "nnfl": 1 - 1 / K,
    }
    for name, value in expected.items():
        assert build_loss(name, K)(z, y).item() == pytest.approx(value, rel=1e-5), name


@pytest.mark.parametrize("name", ["nnce", "nnfl"])
@pytest.mark.parametrize("K", [2, 10, 100])
def test_negative_losses_in_unit_interval_and_sum_to_k_minus_1(name, K):
    z = 4 * torch.randn(16, K, dtype=torch.float64)
    loss = build_loss(name, K, reduction="none")
    values = torch.stack([loss(z, torch.full((16,), j)) for j in range(K)])
    # NNFL can exceed 1 by ~1e-7 where p < m: ANL clamps log p but not the focal factor
    assert values.min() >= 0 and values.max() <= 1 + 1e-6
    assert torch.allclose(values.sum(0), torch.full((16,), K - 1.0, dtype=torch.float64))


@pytest.mark.parametrize(
    "name,params",
    [("agce", {"a": 0.6, "q": 0.6}), ("aul", {"a": 5.5, "q": 3}), ("ael", {"a": 2.5})],
)
def test_asymmetric_losses_decrease_in_p_y(name, params):
    K = 10
    strength = torch.linspace(-5, 5, 50, dtype=torch.float64)
    z = torch.zeros(50, K, dtype=torch.float64)
    z[:, 0] = strength  # p_y grows with the target logit
    values = build_loss(name, K, reduction="none", **params)(z, torch.zeros(50, dtype=torch.long))
    assert (values[1:] < values[:-1]).all()


@pytest.mark.parametrize("name", ["agce", "aul", "ael", "nnce", "anl-ce", "nce+agce"])
def test_gradcheck(name):
    z = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 3, 4])
    loss = build_loss(name, 5)
    assert torch.autograd.gradcheck(lambda x: loss(x, y), (z,))


def test_anl_aliases_and_l1_penalty():
    """ANL's L1 term is a loss option: delta * sum|theta| over the model the loss penalises,
    added to the total once per batch, its gradient sign(theta) * delta."""
    anl = build_loss("anl-ce", 10, alpha=5, beta=5)
    assert (anl.first.NAME, anl.second.NAME, anl.alpha, anl.beta) == ("nce", "nnce", 5.0, 5.0)
    model = torch.nn.Linear(4, 10)
    x, y = torch.randn(8, 4), torch.randint(0, 10, (8,))
    _, plain, _ = forward(model, anl, x, y, "none")
    with_l1 = build_loss("anl-ce", 10, alpha=5, beta=5, l1=1e-2).penalise(model.parameters())
    _, penalised, terms = forward(model, with_l1, x, y, "none")
    l1 = sum(p.abs().sum() for p in model.parameters()).item()
    assert penalised.item() == pytest.approx(plain.item() + 1e-2 * l1, rel=1e-6)
    assert len(terms) == 2  # logged terms: the two parts, as without it
    model.zero_grad()
    penalised.backward()
    bias_grad = model.bias.grad.clone()
    model.zero_grad()
    plain = forward(model, anl, x, y, "none")[1]
    plain.backward()
    assert torch.allclose(bias_grad - model.bias.grad, 1e-2 * torch.sign(model.bias), atol=1e-7)
    with pytest.raises(ValueError, match="call loss.penalise"):
        build_loss("nce", 10, l1=1e-3)(torch.randn(2, 10), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="'l1' is a penalty on the model"):
        build_loss("nce", 10, l1=1e-3, reduction="none")


# ---------------------------------------------------------------------------- human noise


def cifar_n_file(root, name):
    path = root / "cifar-n" / name
    if not path.is_file():
        pytest.skip("no CIFAR-N files (run ../shared/data/prepare.py)")
    return path


@pytest.mark.parametrize(
    "label_set,rate",
    [("aggre", 9.01), ("random1", 17.23), ("random2", 18.12), ("random3", 17.64), ("worse", 40.21)],
)
def test_cifar10n_realised_rates(label_set, rate, real_data_root):
    path = cifar_n_file(real_data_root, "CIFAR-10_human.pt")
    clean = torch.load(path, weights_only=False)["clean_label"]
    noisy = make_noisy_labels(
        clean, "human", 0.0, 10, dataset="cifar10", label_file=path, label_set=label_set
    )
    assert 100 * noisy.realised_rate == pytest.approx(rate, abs=0.01)


def test_cifar100n_realised_rate_and_subset_alignment(real_data_root):
    path = cifar_n_file(real_data_root, "CIFAR-100_human.pt")
    table = torch.load(path, weights_only=False)
    clean = np.asarray(table["clean_label"])
    noisy = make_noisy_labels(
        clean, "human", 0.0, 100, dataset="cifar100", label_file=path, label_set="noisy"
    )
    assert 100 * noisy.realised_rate == pytest.approx(40.2, abs=0.05)
    idx = np.array([5, 17, 4000])
    sub = make_noisy_labels(
        clean[idx],
        "human",
        0.0,
        100,
        dataset="cifar100",
        label_file=path,
        label_set="noisy",
        sample_indices=idx,
    )
    assert np.array_equal(sub.labels, np.asarray(table["noisy_label"])[idx])


def test_cifar_n_mismatch_and_bad_inputs_are_errors(real_data_root):
    path = cifar_n_file(real_data_root, "CIFAR-10_human.pt")
    clean = np.array(torch.load(path, weights_only=False)["clean_label"])
    clean[123] = (clean[123] + 1) % 10
    with pytest.raises(ValueError, match="does not match.*index 123"):
        make_noisy_labels(
            clean, "human", 0.0, 10, dataset="cifar10", label_file=path, label_set="aggre"
        )
    with pytest.raises(ValueError, match="label_set for cifar10 must be one of"):
        make_noisy_labels(
            clean, "human", 0.0, 10, dataset="cifar10", label_file=path, label_set="noisy"
        )
    with pytest.raises(ValueError, match="set noise.rate\\s+to 0"):
        make_noisy_labels(
            clean, "human", 0.2, 10, dataset="cifar10", label_file=path, label_set="aggre"
        )
    with pytest.raises(ValueError, match="not found"):
        make_noisy_labels(
            clean, "human", 0.0, 10, dataset="cifar10", label_file="/x/y.pt", label_set="aggre"
        )


class WritesMarker:
    """A pickle payload that, if unpickled with code execution allowed, writes a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "code ran"))


def test_a_crafted_label_file_cannot_run_code(tmp_path):
    """Issue 25: noise.label_file was read with torch.load(weights_only=False); a file whose
    pickle names a callable would run it. Now it is refused without running anything, and the
    official layout (numpy int64 arrays in a dict) still reads."""
    marker, crafted = tmp_path / "marker", tmp_path / "crafted.pt"
    torch.save({"clean_label": WritesMarker(marker)}, crafted)
    clean = np.arange(10) % 10
    with pytest.raises(ValueError, match="cannot read human-noise label file .*crafted.pt"):
        make_noisy_labels(
            clean, "human", 0.0, 10, dataset="cifar10", label_file=crafted, label_set="aggre"
        )
    assert not marker.exists()
    good = tmp_path / "good.pt"
    noisy = (clean + 1) % 10
    torch.save({"clean_label": clean.astype(np.int64), "aggre_label": noisy.astype(np.int64)}, good)
    made = make_noisy_labels(
        clean, "human", 0.0, 10, dataset="cifar10", label_file=good, label_set="aggre"
    )
    assert np.array_equal(made.labels, noisy) and made.realised_rate == 1.0


# ---------------------------------------------------------------------------- instance noise


@pytest.fixture(scope="module")
def features():
    rng = np.random.RandomState(0)
    labels = np.arange(6000) % 10
    centres = rng.rand(10, 64)
    return labels, centres[labels] + 0.3 * rng.rand(6000, 64)


@pytest.mark.parametrize("rate", [0.2, 0.4])
def test_instance_noise_rate_and_determinism(features, rate):
    labels, x = features
    a = make_noisy_labels(labels, "instance", rate, 10, seed=1, features=x)
    b = make_noisy_labels(labels, "instance", rate, 10, seed=1, features=x)
    c = make_noisy_labels(labels, "instance", rate, 10, seed=2, features=x)
    assert abs(a.realised_rate - rate) < 0.03  # sampling error on 6000 samples is ~0.006
    assert np.array_equal(a.labels, b.labels) and not np.array_equal(a.labels, c.labels)
    assert make_noisy_labels(labels, "instance", 0.0, 10, seed=1, features=x).realised_rate == 0


def test_instance_noise_depends_on_features(features):
    labels, x = features
    probs, _ = instance_transition_rows(labels, 0.4, 10, 1, x)
    rows = probs[labels == 3]
    # samples of one class get different flip rates and different likely wrong classes
    assert np.std(1 - rows[:, 3]) > 0.05
    assert len(set(np.argsort(rows, axis=1)[:, -2])) > 1
    assert np.allclose(probs.sum(1), 1) and (probs[np.arange(6000), labels] < 1).all()
    with pytest.raises(ValueError, match="needs the training features"):
        make_noisy_labels(labels, "instance", 0.4, 10)
