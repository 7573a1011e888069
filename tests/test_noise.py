"""Tests for the label-noise package (paper spec §5, D7-D10, B10/B11).

Expectations are independent of the implementation: exact counts derived from
the spec's formulas, the spec's CIFAR-10 table, binomial sampling bounds, and
literal transcriptions of the official [SUB] ``dataset.py`` routines run on the
GLOBAL NumPy generator (whose state is saved and restored around them).
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
import torch

from noise import NOISE_KINDS, NoisyLabels, labels_hash, make_noisy_labels

MNIST_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_PAIRS = {7: 1, 2: 7, 5: 6, 6: 5, 3: 8}
CIFAR10_PAIRS = {9: 1, 2: 0, 3: 5, 5: 3, 4: 7}
CAT, DOG = 3, 5


def labels_with_counts(counts, seed=12345):
    """Synthetic label array with the given class counts, in shuffled order."""
    y = np.repeat(np.arange(len(counts)), counts).astype(np.int64)
    np.random.RandomState(seed).shuffle(y)
    return y


@pytest.fixture(scope="module")
def mnist_labels():
    return labels_with_counts(MNIST_COUNTS)


@pytest.fixture(scope="module")
def cifar10_labels():
    return labels_with_counts([5000] * 10)


@pytest.fixture(scope="module")
def cifar100_labels():
    return labels_with_counts([500] * 100)


@pytest.fixture(scope="module")
def asym_04(mnist_labels, cifar10_labels, cifar100_labels):
    """Asymmetric noise at rate 0.4, seed 0, per (dataset, variant); computed once
    because the per-sample reference procedure is a Python loop."""
    cache = {}

    def get(dataset, variant="reference"):
        if (dataset, variant) not in cache:
            y = {"mnist": mnist_labels, "cifar10": cifar10_labels, "cifar100": cifar100_labels}[
                dataset
            ]
            K = 100 if dataset == "cifar100" else 10
            cache[dataset, variant] = make_noisy_labels(
                y, "asymmetric", 0.4, K, dataset=dataset, seed=0, variant=variant
            )
        return cache[dataset, variant]

    return get


@pytest.fixture(scope="module")
def mnist_sym_08(mnist_labels):
    return make_noisy_labels(mnist_labels, "symmetric", 0.8, 10, dataset="mnist", seed=0)


def changed_per_class(result: NoisyLabels) -> np.ndarray:
    return np.bincount(result.clean_labels[result.noisy_mask], minlength=result.num_classes)


# ---------------------------------------------------------------------------
# Literal transcriptions of the official code (HanxunH/Active-Passive-Losses,
# archive/dataset.py).  Run with the global generator, state restored after.
# ---------------------------------------------------------------------------
class global_seed:
    def __init__(self, seed):
        self.seed = seed

    def __enter__(self):
        self.saved = np.random.get_state()
        np.random.seed(self.seed)

    def __exit__(self, *exc):
        np.random.set_state(self.saved)


def official_symmetric(targets, rate, K, seed):
    with global_seed(seed):
        targets = list(targets)
        n_noisy = int(rate * len(targets))
        class_index = [np.where(np.array(targets) == i)[0] for i in range(K)]
        class_noisy = int(n_noisy / K)
        noisy_idx = []
        for d in range(K):
            noisy_idx.extend(np.random.choice(class_index[d], class_noisy, replace=False))
        for i in noisy_idx:
            other = list(range(K))
            other.remove(targets[i])
            targets[i] = np.random.choice(other)
        return np.array(targets, dtype=np.int64)


def official_cifar10_asym(targets, rate, seed):
    with global_seed(seed):
        targets = list(targets)
        for s, t in zip([9, 2, 3, 5, 4], [1, 0, 5, 3, 7], strict=False):
            cls_idx = np.where(np.array(targets) == s)[0]
            n_noisy = int(rate * cls_idx.shape[0])
            for idx in np.random.choice(cls_idx, n_noisy, replace=False):
                targets[idx] = t
        return np.array(targets, dtype=np.int64)


def official_multiclass_noisify(y, P, random_state):
    new_y = y.copy()
    flipper = np.random.RandomState(random_state)
    for idx in np.arange(y.shape[0]):
        flipped = flipper.multinomial(1, P[y[idx], :], 1)[0]
        # Official: `new_y[idx] = np.where(flipped == 1)[0]` (a size-1 array,
        # which NumPy >= 2 no longer assigns to a scalar slot).
        new_y[idx] = np.where(flipped == 1)[0][0]
    return new_y


def official_mnist_P(n):
    P = np.eye(10)
    P[7, 7], P[7, 1] = 1.0 - n, n
    P[2, 2], P[2, 7] = 1.0 - n, n
    P[5, 5], P[5, 6] = 1.0 - n, n
    P[6, 6], P[6, 5] = 1.0 - n, n
    P[3, 3], P[3, 8] = 1.0 - n, n
    return P


def official_cifar100_P(n):
    P = np.eye(100)
    for i in range(20):
        block = (1.0 - n) * np.eye(5)
        for j in range(4):
            block[j, j + 1] = n
        block[4, 0] = n
        P[i * 5 : (i + 1) * 5, i * 5 : (i + 1) * 5] = block
    return P


# ---------------------------------------------------------------------------
# Symmetric
# ---------------------------------------------------------------------------
def test_symmetric_mnist_counts_at_08(mnist_labels, mnist_sym_08):
    r = mnist_sym_08
    n_per_class = (int(0.8 * 60000)) // 10
    assert n_per_class == 4800
    assert changed_per_class(r).tolist() == [4800] * 10
    assert r.noisy_mask.sum() == 48000
    assert r.realised_rate == 0.8
    rates = r.per_class_realised_rate
    assert rates[5] == pytest.approx(4800 / 5421) and round(rates[5], 3) == 0.885
    assert rates[1] == pytest.approx(4800 / 6742) and round(rates[1], 3) == 0.712
    # Class sizes of the NOISY labels differ from the clean ones only through flips.
    assert len(r.labels) == len(mnist_labels)


@pytest.mark.parametrize("n,K,rate", [(1003, 7, 0.37), (2000, 10, 0.2), (5000, 100, 0.6)])
def test_symmetric_exact_count_formula(n, K, rate):
    y = np.random.RandomState(7).randint(0, K, size=n)
    counts = np.bincount(y, minlength=K)
    per_class = int(rate * n) // K
    if counts.min() < per_class:  # keep the case valid
        pytest.skip("synthetic draw has a too-small class")
    r = make_noisy_labels(y, "symmetric", rate, K, seed=3)
    assert changed_per_class(r).tolist() == [per_class] * K
    assert r.noisy_mask.sum() == per_class * K


def test_symmetric_never_assigns_true_class_and_is_uniform(mnist_sym_08):
    r = mnist_sym_08
    # Every picked sample really changed (the count test above), so no flip
    # landed on its true class.  Now: the new label is uniform over the other 9.
    conf = np.zeros((10, 10), dtype=np.int64)
    np.add.at(conf, (r.clean_labels[r.noisy_mask], r.labels[r.noisy_mask]), 1)
    assert np.all(np.diag(conf) == 0)
    expected = 4800 / 9
    for c in range(10):
        others = np.delete(conf[c], c)
        chi2 = ((others - expected) ** 2 / expected).sum()
        assert chi2 < 40, (c, others, chi2)  # df = 8; P(chi2 > 40) ~ 3e-6


@pytest.mark.parametrize("seed", [0, 123, 515])
@pytest.mark.parametrize("n,K,rate", [(3000, 10, 0.4), (4000, 100, 0.8)])
def test_symmetric_equals_official_code(seed, n, K, rate):
    y = labels_with_counts([n // K] * K, seed=seed + 1)
    expected = official_symmetric(y, rate, K, seed)
    r = make_noisy_labels(y, "symmetric", rate, K, seed=seed)
    np.testing.assert_array_equal(r.labels, expected)


def test_symmetric_variants_identical(cifar10_labels):
    a = make_noisy_labels(cifar10_labels[:3000], "symmetric", 0.4, 10, seed=5)
    b = make_noisy_labels(cifar10_labels[:3000], "symmetric", 0.4, 10, seed=5, variant="exact")
    np.testing.assert_array_equal(a.labels, b.labels)


def test_symmetric_class_too_small_raises():
    y = np.array([0] + [1] * 50 + [2] * 50)
    with pytest.raises(ValueError, match=r"class 0 has only 1 samples"):
        make_noisy_labels(y, "symmetric", 0.5, 3)


# ---------------------------------------------------------------------------
# CIFAR-10 asymmetric (sequential, bug B10)
# ---------------------------------------------------------------------------
def test_cifar10_asym_default_reproduces_b10(asym_04):
    r = asym_04("cifar10")
    rates = r.per_class_realised_rate
    assert rates[CAT] == pytest.approx(0.4 * 0.6, abs=0.02)
    assert rates[DOG] == pytest.approx(0.4, abs=0.02)
    for c in (9, 2, 4):  # truck, bird, deer: exact
        assert rates[c] == 0.4
    for c in (0, 1, 6, 7, 8):
        assert rates[c] == 0.0
    assert r.realised_rate == pytest.approx(0.183, abs=0.005)
    # Deterministic signature of the re-draw: dog->cat relabels
    # m = floor(0.4 * (5000 + 2000)) samples, so dog_mis - cat_mis = m - 2000.
    changed = changed_per_class(r)
    assert changed[DOG] - changed[CAT] == int(0.4 * 7000) - 2000
    # Some cats went to dog and back: they are labelled cat again.
    assert r.transition[CAT, DOG] < 0.4


def test_cifar10_asym_exact_variant(asym_04):
    r = asym_04("cifar10", "exact")
    rates = r.per_class_realised_rate
    for c in CIFAR10_PAIRS:
        assert rates[c] == 0.4
    assert r.realised_rate == 0.2
    assert r.transition[CAT, DOG] == 0.4 and r.transition[DOG, CAT] == 0.4


# spec §5.4 table: (eta, cat, dog, overall) from one draw of the reference procedure.
SPEC_TABLE = [
    (0.1, 0.090, 0.100, 0.049),
    (0.2, 0.162, 0.202, 0.096),
    (0.3, 0.209, 0.299, 0.141),
    (0.4, 0.237, 0.397, 0.183),
]


@pytest.mark.parametrize("eta,cat,dog,overall", SPEC_TABLE)
@pytest.mark.parametrize("seed", [0, 123, 515])
def test_cifar10_asym_matches_spec_table(cifar10_labels, eta, cat, dog, overall, seed):
    r = make_noisy_labels(cifar10_labels, "asymmetric", eta, 10, dataset="cifar10", seed=seed)
    rates = r.per_class_realised_rate
    assert rates[CAT] == pytest.approx(cat, abs=0.02)
    assert rates[CAT] == pytest.approx(eta * (1 - eta), abs=0.02)
    assert rates[DOG] == pytest.approx(dog, abs=0.02)
    assert r.realised_rate == pytest.approx(overall, abs=0.005)
    for c in (9, 2, 4):
        assert rates[c] == int(eta * 5000) / 5000


@pytest.mark.parametrize("seed", [0, 123])
@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_cifar10_asym_equals_official_code(cifar10_labels, seed, rate):
    y = cifar10_labels[:8000]
    r = make_noisy_labels(y, "asymmetric", rate, 10, dataset="cifar10", seed=seed)
    np.testing.assert_array_equal(r.labels, official_cifar10_asym(y, rate, seed))


# ---------------------------------------------------------------------------
# MNIST / CIFAR-100 asymmetric (per-sample multinomial)
# ---------------------------------------------------------------------------
def test_mnist_and_cifar100_equal_official_code(mnist_labels, cifar100_labels):
    y = mnist_labels[:6000]
    r = make_noisy_labels(y, "asymmetric", 0.3, 10, dataset="mnist", seed=123)
    np.testing.assert_array_equal(
        r.labels, official_multiclass_noisify(y, official_mnist_P(0.3), 123)
    )
    y = cifar100_labels[:6000]
    r = make_noisy_labels(y, "asymmetric", 0.4, 100, dataset="cifar100", seed=515)
    np.testing.assert_array_equal(
        r.labels, official_multiclass_noisify(y, official_cifar100_P(0.4), 515)
    )


def expected_pairs(dataset):
    if dataset == "mnist":
        return MNIST_PAIRS
    if dataset == "cifar10":
        return CIFAR10_PAIRS
    return {c: 5 * (c // 5) + (c % 5 + 1) % 5 for c in range(100)}


@pytest.mark.parametrize("variant", ["reference", "exact"])
@pytest.mark.parametrize("dataset,K", [("mnist", 10), ("cifar10", 10), ("cifar100", 100)])
def test_asym_changes_only_mapped_sources_to_targets(asym_04, dataset, K, variant):
    r = asym_04(dataset, variant)
    pairs = expected_pairs(dataset)
    target_of = np.full(K, -1)  # -1: class must never change
    for s, t in pairs.items():
        target_of[s] = t
    src, dst = r.clean_labels[r.noisy_mask], r.labels[r.noisy_mask]
    assert len(src) > 0
    np.testing.assert_array_equal(dst, target_of[src])
    # every mapped source class is actually used
    assert set(np.unique(src).tolist()) == set(pairs)


@pytest.mark.parametrize("dataset,K", [("mnist", 10), ("cifar100", 100)])
def test_per_sample_rates_within_binomial_error(mnist_labels, cifar100_labels, asym_04, dataset, K):
    y = mnist_labels if dataset == "mnist" else cifar100_labels
    eta = 0.4
    r = asym_04(dataset)
    counts = np.bincount(y, minlength=K)
    pairs = expected_pairs(dataset)
    for c in range(K):
        rate = r.per_class_realised_rate[c]
        if c in pairs:
            sigma = math.sqrt(eta * (1 - eta) / counts[c])
            assert abs(rate - eta) < 4 * sigma, (c, rate)
        else:
            assert rate == 0.0
    # Exact variant: floor(eta * n_c) flips for every source class.
    ex = asym_04(dataset, "exact")
    changed = changed_per_class(ex)
    for c in range(K):
        assert changed[c] == (int(eta * counts[c]) if c in pairs else 0)


def test_mnist_overall_rate(asym_04):
    # Spec §5.3: about 0.495 * eta of all labels are noisy.
    r = asym_04("mnist")
    assert r.realised_rate == pytest.approx(0.495 * 0.4, abs=0.006)


def test_cifar100_blocks(asym_04):
    r = asym_04("cifar100")
    for src, dst in [(4, 0), (99, 95), (7, 8), (0, 1), (95, 96)]:
        flipped_to = set(r.labels[(r.clean_labels == src) & r.noisy_mask].tolist())
        assert flipped_to == {dst}


# ---------------------------------------------------------------------------
# Pair flip
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("K", [2, 10])
def test_pairflip(K):
    y = labels_with_counts([3000] * K)
    eta = 0.3
    r = make_noisy_labels(y, "pairflip", eta, K, seed=4)
    src, dst = r.clean_labels[r.noisy_mask], r.labels[r.noisy_mask]
    np.testing.assert_array_equal(dst, (src + 1) % K)
    sigma = math.sqrt(eta * (1 - eta) / 3000)
    for rate in r.per_class_realised_rate:
        assert abs(rate - eta) < 4 * sigma
    P = (1 - eta) * np.eye(K) + eta * np.roll(np.eye(K), 1, axis=1)
    np.testing.assert_array_equal(r.labels, official_multiclass_noisify(y, P, 4))
    ex = make_noisy_labels(y, "pairflip", eta, K, seed=4, variant="exact")
    assert changed_per_class(ex).tolist() == [int(eta * 3000)] * K
    np.testing.assert_array_equal(
        ex.labels[ex.noisy_mask], (ex.clean_labels[ex.noisy_mask] + 1) % K
    )


# ---------------------------------------------------------------------------
# Determinism, purity, result object
# ---------------------------------------------------------------------------
ALL_CONFIGS = [
    ("symmetric", 10, None, "reference"),
    ("asymmetric", 10, "mnist", "reference"),
    ("asymmetric", 10, "cifar10", "reference"),
    ("asymmetric", 10, "cifar10", "exact"),
    ("asymmetric", 100, "cifar100", "reference"),
    ("pairflip", 10, None, "reference"),
    ("pairflip", 10, None, "exact"),
]


@pytest.mark.parametrize("kind,K,dataset,variant", ALL_CONFIGS)
def test_determinism_and_purity(kind, K, dataset, variant):
    y = labels_with_counts([3000 // K] * K)
    y_before = y.copy()
    state_before = np.random.get_state()
    torch_state_before = torch.get_rng_state()

    a = make_noisy_labels(y, kind, 0.4, K, dataset=dataset, seed=11, variant=variant)
    b = make_noisy_labels(y, kind, 0.4, K, dataset=dataset, seed=11, variant=variant)
    c = make_noisy_labels(y, kind, 0.4, K, dataset=dataset, seed=12, variant=variant)

    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.summary()["labels_sha256"] == b.summary()["labels_sha256"]
    assert not np.array_equal(a.labels, c.labels)
    assert a.summary()["labels_sha256"] != c.summary()["labels_sha256"]
    np.testing.assert_array_equal(y, y_before)  # input untouched
    assert a.labels is not y and not np.shares_memory(a.labels, y)
    assert not np.shares_memory(a.clean_labels, y)
    state_after = np.random.get_state()
    assert state_before[0] == state_after[0] and state_before[2:] == state_after[2:]
    np.testing.assert_array_equal(state_before[1], state_after[1])
    assert torch.equal(torch_state_before, torch.get_rng_state())


def test_input_types_give_identical_results():
    y = labels_with_counts([300] * 10)
    ref = make_noisy_labels(y, "symmetric", 0.4, 10, seed=2).labels
    for variant_input in (
        y.tolist(),
        y.astype(np.int32),
        torch.from_numpy(y.copy()),
        torch.from_numpy(y.astype(np.int32)),
    ):
        out = make_noisy_labels(variant_input, "symmetric", 0.4, 10, seed=2)
        assert out.labels.dtype == np.int64 and out.clean_labels.dtype == np.int64
        np.testing.assert_array_equal(out.labels, ref)
    t = torch.from_numpy(y.copy())
    make_noisy_labels(t, "asymmetric", 0.4, 10, dataset="cifar10")
    assert torch.equal(t, torch.from_numpy(y))


def test_result_object_fields(cifar10_labels):
    y = cifar10_labels[:5000].copy()
    y[y == 8] = 6  # class 8 absent
    r = make_noisy_labels(y, "asymmetric", 0.4, 10, dataset="CIFAR10", seed=0)
    assert r.dataset == "cifar10" and r.kind == "asymmetric" and r.rate == 0.4
    assert r.variant == "reference" and r.seed == 0
    assert r.labels.dtype == np.int64 and r.noisy_mask.dtype == np.bool_
    np.testing.assert_array_equal(r.clean_labels, y)
    np.testing.assert_array_equal(r.noisy_mask, r.labels != y)
    assert r.realised_rate == np.mean(r.labels != y)

    # Transition equals a direct count, rows of present classes sum to 1,
    # the absent class has an all-zero row.
    direct = np.zeros((10, 10))
    for t, n in zip(y, r.labels, strict=False):
        direct[t, n] += 1
    present = direct.sum(1) > 0
    direct[present] /= direct[present].sum(1, keepdims=True)
    np.testing.assert_allclose(r.transition, direct, atol=1e-12)
    np.testing.assert_allclose(r.transition[present].sum(1), 1.0)
    assert np.all(r.transition[8] == 0)

    s = r.summary()
    json.loads(json.dumps(s))
    assert s["n"] == 5000 and s["num_classes"] == 10 and s["kind"] == "asymmetric"
    assert s["rate"] == 0.4 and s["seed"] == 0 and s["dataset"] == "cifar10"
    assert s["realised_rate"] == r.realised_rate
    assert s["per_class_realised_rate"][8] is None
    assert len(s["transition"]) == 10 and all(len(row) == 10 for row in s["transition"])
    assert s["labels_sha256"] == labels_hash(r.labels)


def test_labels_hash_is_little_endian_int64():
    y = np.array([3, 1, 4, 1, 5], dtype=np.int32)
    expected = hashlib.sha256(np.array([3, 1, 4, 1, 5], dtype="<i8").tobytes()).hexdigest()
    assert labels_hash(y) == expected
    assert labels_hash(y.tolist()) == expected
    assert labels_hash(torch.tensor([3, 1, 4, 1, 5])) == expected
    assert labels_hash(y.astype(">i8")) == expected
    assert labels_hash([3, 1, 4, 1, 6]) != expected


# ---------------------------------------------------------------------------
# rate 0, bad inputs, extension point
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind,K,dataset",
    [
        ("none", 10, None),
        ("symmetric", 10, None),
        ("asymmetric", 10, "mnist"),
        ("asymmetric", 10, "cifar10"),
        ("asymmetric", 100, "cifar100"),
        ("pairflip", 10, None),
    ],
)
@pytest.mark.parametrize("variant", ["reference", "exact"])
def test_rate_zero_is_identity(kind, K, dataset, variant):
    y = labels_with_counts([20] * K)
    r = make_noisy_labels(y, kind, 0.0, K, dataset=dataset, seed=3, variant=variant)
    np.testing.assert_array_equal(r.labels, y)
    assert r.realised_rate == 0.0
    np.testing.assert_array_equal(r.transition, np.eye(K))


def test_registry_contains_the_kinds():
    assert {"none", "symmetric", "asymmetric", "pairflip"} <= set(NOISE_KINDS)


GOOD = dict(labels=[0, 1, 2, 3], kind="symmetric", rate=0.0, num_classes=4)


@pytest.mark.parametrize(
    "override,match",
    [
        (dict(kind="gaussian"), r"valid kinds: none, symmetric, asymmetric, pairflip"),
        (dict(rate=1.0), r"\[0, 1\)"),
        (dict(rate=-0.1), r"\[0, 1\)"),
        (dict(rate=float("nan")), r"finite number in \[0, 1\)"),
        (dict(rate=float("inf")), r"finite number in \[0, 1\)"),
        (dict(rate="0.2"), r"finite number in \[0, 1\)"),
        (dict(kind="asymmetric", rate=0.2), r"cifar10, cifar100, mnist"),
        (
            dict(kind="asymmetric", rate=0.2, dataset="webvision"),
            r"cifar10, cifar100, mnist.*'webvision'",
        ),
        (dict(kind="asymmetric", rate=0.2, dataset="mnist"), r"num_classes=10"),
        (dict(labels=[0, 1, 4]), r"\[0, 4\); found min=0, max=4"),
        (dict(labels=[-1, 1, 2]), r"found min=-1, max=2"),
        (dict(variant="sequential"), r"allowed variants: reference, exact"),
        (dict(num_classes=1, labels=[0, 0]), r"integer >= 2"),
        (dict(num_classes=2.5), r"integer >= 2"),
        (dict(labels=[]), r"non-empty 1-D"),
        (dict(labels=[[0, 1], [1, 0]]), r"non-empty 1-D"),
        (dict(labels=[0.0, 1.0]), r"integer array"),
        (dict(seed=-1), r"seed must be an integer in \[0, 4294967295\]"),
        (
            dict(kind="none", rate=0.2),
            r"requires rate == 0.*'symmetric', 'asymmetric' or 'pairflip'",
        ),
        (dict(features=np.zeros(4)), r"takes no extra keyword arguments.*features"),
    ],
)
def test_bad_inputs_raise_value_error(override, match):
    kwargs = {**GOOD, **override}
    with pytest.raises(ValueError, match=match):
        make_noisy_labels(**kwargs)


def test_extension_point_passes_extra_kwargs(monkeypatch):
    seen = {}

    def instance_like(labels, rate, num_classes, seed, dataset, variant, features=None, **extra):
        seen["features"] = features
        out = labels.copy()
        out[0] = (out[0] + 1) % num_classes
        return out

    monkeypatch.setitem(NOISE_KINDS, "instance", instance_like)
    feats = np.ones((4, 2))
    r = make_noisy_labels([0, 1, 2, 3], "instance", 0.1, 4, features=feats)
    assert seen["features"] is feats
    assert r.labels.tolist() == [1, 1, 2, 3] and r.kind == "instance"


def test_kind_cannot_modify_its_input(monkeypatch):
    def bad(labels, *args, **kwargs):
        labels[0] = 1
        return labels

    monkeypatch.setitem(NOISE_KINDS, "bad", bad)
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="read-only"):
        make_noisy_labels(y, "bad", 0.0, 2)
    assert y.tolist() == [0, 1, 0, 1]
