"""The symmetry checker (losses/symmetry.py): every registered loss gets the verdict its
documentation states (class_sum() / CLASS_SUM), with the documented constant; parameters that
change the class-sum change the verdict; a user's own callable is checked in one call, and a
wrong one is refused with a clear message."""

import numpy as np
import pytest
import torch

from losses import BASE_LOSSES, LOSSES, build_loss, check_symmetry
from losses.symmetry import adversarial_search, class_sums

K = 10
FAST = {"rows": 32, "adversarial_rows": 4, "steps": 20}  # ~0.03 s a loss


def per_sample(name, num_classes=K, **params):
    return build_loss(name, num_classes, reduction="none", **params)


@pytest.mark.parametrize("name", sorted(n for n in LOSSES if n != "dmi"))
def test_every_registered_loss_gets_its_documented_verdict(name):
    loss = per_sample(name)
    report = check_symmetry(loss, K, **FAST)
    documented = loss.class_sum()
    if loss.CLASS_SUM.startswith("not defined"):  # NLNL: random complementary labels
        assert report.symmetric is None and "undetermined" in report.verdict
    elif documented is None:
        assert report.symmetric is False, report
        assert report.relative_spread > 1e-3, report  # far from the tolerance, not near it
    else:
        assert report.symmetric is True, report
        assert report.constant == pytest.approx(documented, rel=1e-5), report


def test_the_paper_s_lists_in_the_issue():
    """Constant for NCE, NFL, NGCE, NMAE, NRCE, MAE, RCE; not constant for CE, FL, GCE."""
    verdicts = {
        name: check_symmetry(per_sample(name), K, **FAST).symmetric
        for name in ("nce", "nfl", "ngce", "nmae", "nrce", "mae", "rce", "ce", "fl", "gce")
    }
    assert verdicts == {
        "nce": True,
        "nfl": True,
        "ngce": True,
        "nmae": True,
        "nrce": True,
        "mae": True,
        "rce": True,
        "ce": False,
        "fl": False,
        "gce": False,
    }


def test_dmi_has_no_per_sample_values_and_is_refused():
    assert BASE_LOSSES["dmi"].CLASS_SUM.startswith("not defined")
    with pytest.raises(
        ValueError,
        match=r"returned \(\) for 320 samples: check_symmetry needs "
        r"one value per sample.*DMI, has no class-sum",
    ):
        check_symmetry(build_loss("dmi", K), K, **FAST)


@pytest.mark.parametrize(
    "name,params,constant",
    [
        ("gce", {"q": 1.0}, K - 1.0),  # GCE at q = 1 is MAE
        ("agce", {"q": 1.0, "a": 3.0}, K - 1.0),  # so are AGCE and AUL
        ("aul", {"q": 1.0, "a": 2.0}, K - 1.0),
        ("nmae", {"normalizer": "reference"}, 0.5),  # B2 halves it
        ("nrce", {"normalizer": "reference"}, 9.210340371976182 * (K - 1) ** 2 / 4),  # B1
        ("nce", {"scale": 2.5}, 2.5),
        ("ce", {"scale": 0.0}, 0.0),  # a loss scaled by 0 is 0
        ("ce+mae", {"alpha": 0.0, "beta": 2.0}, 2.0 * (K - 1)),
        ("nce+rce", {"alpha": 3.0, "beta": 0.7, "A": -4.0}, 3.0 + 0.7 * 4.0 * (K - 1)),
    ],
)
def test_parameters_that_change_the_class_sum(name, params, constant):
    loss = per_sample(name, **params)
    assert loss.class_sum() == pytest.approx(constant, rel=1e-12)
    report = check_symmetry(loss, K, **FAST)
    assert report.symmetric is True and report.constant == pytest.approx(constant, rel=1e-5)


@pytest.mark.parametrize("num_classes", [2, 100])
def test_verdicts_hold_for_other_class_counts(num_classes):
    for name, symmetric in (("nce+rce", True), ("nnce", True), ("gce", False), ("amse", False)):
        report = check_symmetry(per_sample(name, num_classes), num_classes, **FAST)
        assert report.symmetric is symmetric, (name, num_classes, report)


# --- a user's own loss ---------------------------------------------------------------------


def my_mae(logits, targets):
    return 1 - logits.softmax(1).gather(1, targets[:, None])[:, 0]


def test_a_users_mae_is_symmetric_with_constant_k_minus_1_and_a_readable_report():
    report = check_symmetry(my_mae, K)
    assert report.symmetric is True and report.constant == pytest.approx(K - 1, rel=1e-12)
    assert set(report.by_source) == {"random", "extreme", "adversarial"}
    text = str(report)
    assert text.startswith("symmetric: the class-sum is constant, 9") and "adversarial" in text


def test_a_users_cross_entropy_is_not_symmetric_and_the_report_points_at_the_extremes():
    def my_ce(logits, targets):
        return torch.nn.functional.cross_entropy(logits, targets, reduction="none")

    report = check_symmetry(my_ce, K)
    assert report.symmetric is False and report.verdict.startswith("not symmetric")
    # the reported rows are where the extremes are: recompute S there independently
    low, high = (
        -torch.log_softmax(row[None], 1).sum().item() for row in (report.argmin, report.argmax)
    )
    assert (low, high) == (pytest.approx(report.minimum), pytest.approx(report.maximum))
    # S = -sum_k log p_k >= K ln K, reached at the uniform prediction (an extreme row)
    assert report.minimum == pytest.approx(K * np.log(K), rel=1e-12)


def test_a_loss_without_gradients_is_checked_on_random_and_extreme_logits():
    def numpy_mae(logits, targets):  # computed outside torch: no gradient to follow
        p = torch.softmax(logits, 1).detach().numpy()
        return torch.from_numpy(1 - p[np.arange(len(p)), targets.numpy()])

    report = check_symmetry(numpy_mae, K, **FAST)
    assert report.symmetric is True and report.constant == pytest.approx(K - 1)


def test_a_small_asymmetry_is_found_and_the_tolerance_decides():
    """MAE + 1e-3 ||p||^2 / K per sample: the class-sum is K-1 + 1e-3 ||p||^2, relative spread
    ~1e-4 (||p||^2 in [1/K, 1])."""

    def nearly(logits, targets):
        p = logits.softmax(1)
        return my_mae(logits, targets) + 1e-3 * p.square().sum(1) / K

    strict, loose = check_symmetry(nearly, K, rtol=1e-5), check_symmetry(nearly, K, rtol=1e-3)
    assert strict.symmetric is False and loose.symmetric is True
    assert strict.spread == pytest.approx(1e-3 * (1 - 1 / K), rel=0.05)


def test_the_adversarial_search_finds_both_extremes_of_gce_s_class_sum():
    """GCE's class-sum (K - sum_k p_k^q) / q lies between (K - K^(1-q)) / q (uniform p) and
    (K - 1) / q (one-hot p): from random starts, ascent and descent reach both."""
    q = 0.7
    starts = torch.randn(4, K, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    loss = per_sample("gce", q=q)
    at_start = class_sums(loss, starts)
    _, seen = adversarial_search(loss, starts, steps=20, lr=0.5)
    assert at_start.max() < (K - 1) / q - 0.5 and at_start.min() > (K - K ** (1 - q)) / q + 0.05
    assert seen.max().item() == pytest.approx((K - 1) / q, abs=5e-3)
    assert seen.min().item() == pytest.approx((K - K ** (1 - q)) / q, abs=5e-3)


def test_a_random_loss_is_undetermined_and_nan_is_not_symmetric():
    report = check_symmetry(lambda z, y: my_mae(z, y) + 1e-3 * torch.rand(len(y)), K, **FAST)
    assert report.symmetric is None and "random" in report.verdict
    nan_somewhere = check_symmetry(
        lambda z, y: my_mae(z, y) / (z.abs().max(1).values < 1e3), K, **FAST
    )
    assert nan_somewhere.symmetric is False and "not finite" in nan_somewhere.verdict


def test_the_report_is_reproducible_for_a_seed():
    a, b = (check_symmetry(per_sample("gce"), K, seed=3, **FAST) for _ in range(2))
    assert (a.minimum, a.maximum, a.constant) == (b.minimum, b.maximum, b.constant)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"num_classes": 1}, "num_classes must be an integer >= 2"),
        ({"rows": 0}, "rows must be an integer >= 1"),
        ({"steps": -1}, "steps must be an integer >= 0"),
        ({"rtol": -1.0}, "rtol must be a number >= 0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_symmetry(my_mae, **{"num_classes": K, **kwargs})


def test_a_mean_reduced_loss_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="reduction='none'"):
        check_symmetry(build_loss("nce", K), K, **FAST)
