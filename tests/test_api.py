"""The API a user of the library calls (losses/inputs.py, losses/params.py): the classes, any
float dtype, reduction and ignore_index as in torch.nn.CrossEntropyLoss, (N, K, d1, ...) inputs,
and one clear error, naming the parameter and its allowed range, for every bad argument.
Expectations come from torch's own CrossEntropyLoss, from the 2-D call on selected rows, and
from each class's declared RANGES probed at and beyond its bounds."""

import math

import pytest
import torch

import losses
from losses import BASE_LOSSES, LOSSES, Combination, build_loss
from losses.params import ClassCounts, Interval

PER_SAMPLE = sorted(n for n in LOSSES if n not in ("nlnl", "dmi"))  # deterministic, per sample


def batch(n=12, K=10, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return 3 * torch.randn(n, K, generator=g, dtype=dtype), torch.randint(0, K, (n,), generator=g)


# --- the classes ------------------------------------------------------------------------------


def test_every_registered_class_is_exported_and_builds_like_build_loss():
    z, y = batch()
    for name, cls in BASE_LOSSES.items():
        assert getattr(losses, cls.__name__) is cls and cls.__name__ in losses.__all__
        if name == "nlnl":
            continue  # random complementary labels: compared in test_losses.py by hand
        assert torch.equal(cls(10)(z, y), build_loss(name, 10)(z, y)), name


def test_a_pair_from_the_classes_equals_the_named_pair():
    z, y = batch()
    pair = Combination(
        10, losses.NormalizedCrossEntropy(10), losses.ReverseCrossEntropy(10), alpha=1.0, beta=10.0
    )
    assert torch.equal(pair(z, y), build_loss("nce+rce", 10, alpha=1.0, beta=10.0)(z, y))


def test_a_pair_refuses_parts_that_cannot_be_summed():
    with pytest.raises(TypeError, match="per-sample losses of this library"):
        Combination(10, losses.NormalizedCrossEntropy(10), torch.nn.CrossEntropyLoss())
    with pytest.raises(TypeError, match="per-sample losses"):
        Combination(10, losses.NormalizedCrossEntropy(10), losses.DeterminantMutualInformation(10))
    with pytest.raises(ValueError, match="built for 5 classes, the pair for 10"):
        Combination(10, losses.NormalizedCrossEntropy(10), losses.ReverseCrossEntropy(5))


# --- dtypes and autocast ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_any_float_dtype_gives_the_float32_or_float64_value_of_the_same_logits(name, dtype):
    """Half-precision logits are computed in float32: the value equals the float32 call on the
    same (rounded) logits exactly; float64 stays float64."""
    z, y = batch(dtype=torch.float32)
    z = z.to(dtype)
    torch.manual_seed(0)
    got = build_loss(name, 10)(z, y)
    torch.manual_seed(0)
    expected = build_loss(name, 10)(z.float() if dtype != torch.float64 else z, y)
    assert got.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert torch.equal(got, expected), name


def test_integer_targets_of_any_width_equal_int64_targets():
    z, y = batch()
    loss = build_loss("nce+rce", 10, reduction="none")
    for dtype in (torch.int32, torch.int16, torch.uint8):
        assert torch.equal(loss(z, y.to(dtype)), loss(z, y))


# --- reduction and ignore_index against torch's CrossEntropyLoss ---------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ce_with_ignore_index_equals_torch_cross_entropy(reduction):
    z, y = batch(n=16)
    y[[1, 5, 6]] = -100
    ours = build_loss("ce", 10, reduction=reduction, ignore_index=-100)(z, y)
    theirs = torch.nn.CrossEntropyLoss(reduction=reduction, ignore_index=-100)(z, y)
    assert torch.allclose(ours, theirs, rtol=1e-12, atol=0)


def test_ce_on_images_equals_torch_cross_entropy_in_every_reduction():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(2, 5, 3, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (2, 3, 4), generator=g)
    y[0, 1, 2] = y[1, 0, 0] = 255
    for reduction in ("mean", "sum", "none"):
        ours = build_loss("ce", 5, reduction=reduction, ignore_index=255)(z, y)
        theirs = torch.nn.functional.cross_entropy(z, y, reduction=reduction, ignore_index=255)
        assert ours.shape == theirs.shape and torch.allclose(ours, theirs, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", PER_SAMPLE + ["dmi", "nlnl"])
def test_ignored_samples_are_as_if_absent(name):
    """Every loss, batch-level and random ones included: the value with ignored targets is the
    value of the kept rows alone (NLNL: with the same draws), and ignored rows get no gradient."""
    z, y = batch(n=64)  # every class present: DMI's determinant is not 0
    ignored = torch.zeros(64, dtype=torch.bool)
    ignored[[0, 7, 8, 20]] = True
    marked = y.masked_fill(ignored, -1)
    z = z.requires_grad_()
    torch.manual_seed(0)
    value = build_loss(name, 10, ignore_index=-1)(z, marked)
    value.backward()
    torch.manual_seed(0)
    alone = build_loss(name, 10)(z[~ignored], y[~ignored])
    assert torch.allclose(value, alone, rtol=1e-12, atol=0)
    assert torch.all(z.grad[ignored] == 0) and torch.any(z.grad[~ignored] != 0)


@pytest.mark.parametrize("name", PER_SAMPLE)
def test_reduction_none_puts_zeros_at_ignored_samples_and_keeps_the_input_shape(name):
    g = torch.Generator().manual_seed(1)
    z = torch.randn(3, 10, 2, 2, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (3, 2, 2), generator=g)
    y[1, 0, 1] = -100
    got = build_loss(name, 10, reduction="none", ignore_index=-100)(z, y)
    rows = build_loss(name, 10, reduction="none")(
        z.movedim(1, -1).reshape(-1, 10), y.reshape(-1).clamp_min(0)
    )
    expected = rows.reshape(3, 2, 2).clone()
    expected[1, 0, 1] = 0.0
    assert got.shape == (3, 2, 2) and torch.allclose(got, expected, rtol=1e-12, atol=0)


def test_mean_over_only_ignored_targets_is_nan_and_sum_is_zero_as_in_torch():
    z, y = batch(n=4)
    y[:] = -100
    assert math.isnan(build_loss("nce+rce", 10, ignore_index=-100)(z, y).item())
    assert build_loss("nce+rce", 10, reduction="sum", ignore_index=-100)(z, y).item() == 0.0


def test_components_of_a_pair_honour_ignore_index():
    z, y = batch(n=10)
    y[3] = -1
    pair = build_loss("nce+rce", 10, alpha=2.0, beta=0.5, ignore_index=-1)
    total, terms = pair.components(z, y)
    kept = y != -1
    assert torch.allclose(terms["nce"], 2.0 * build_loss("nce", 10)(z[kept], y[kept]))
    assert torch.allclose(total, pair(z, y))


def test_ignore_index_defaults_to_none_so_minus_100_is_an_out_of_range_class():
    z, y = batch(n=4)
    y[0] = -100
    with pytest.raises(
        ValueError,
        match=r"targets must be class indices in \[0, 10\), got "
        r"values from -100",
    ):
        build_loss("ce", 10)(z, y)


# --- bad calls ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "logits,targets,error,match",
    [
        (
            torch.ones(4, 10, dtype=torch.long),
            torch.zeros(4, dtype=torch.long),
            TypeError,
            "logits must be a floating-point torch.Tensor, got torch.int64",
        ),
        ([[0.0] * 10], torch.zeros(1, dtype=torch.long), TypeError, "got list"),
        (
            torch.zeros(4, 10),
            torch.zeros(4),
            TypeError,
            "targets must be an integer torch.Tensor of class indices .*got torch.float32",
        ),
        (torch.zeros(4, 10), torch.zeros(4, dtype=torch.bool), TypeError, "torch.bool"),
        (
            torch.zeros(4, 7),
            torch.zeros(4, dtype=torch.long),
            ValueError,
            r"logits must have shape \(N, 10\) or \(N, 10, d1, ...\) for num_classes=10, got \(4, 7\)",
        ),
        (torch.zeros(10), torch.zeros((), dtype=torch.long), ValueError, r"got \(10,\)"),
        (
            torch.zeros(4, 10),
            torch.zeros(5, dtype=torch.long),
            ValueError,
            r"targets must have shape \(4,\) for logits of shape \(4, 10\), got \(5,\)",
        ),
        (torch.zeros(4, 10), torch.full((4,), 10), ValueError, r"in \[0, 10\), got values from 10"),
    ],
)
def test_bad_calls_are_one_clear_error(logits, targets, error, match):
    for name in ("ce", "nce+rce", "dmi"):
        with pytest.raises(error, match=match):
            build_loss(name, 10)(logits, targets)


@pytest.mark.parametrize("value", [1.5, "-100", True])
def test_bad_ignore_index(value):
    with pytest.raises(ValueError, match="ignore_index must be None or an integer"):
        build_loss("nce+rce", 10, ignore_index=value)


# --- parameter ranges, declared once (RANGES) ------------------------------------------------


def all_classes():
    return list(BASE_LOSSES.values()) + [Combination]


def test_every_declared_parameter_has_a_declared_range():
    for cls in all_classes():
        assert set(cls.RANGES) == set(cls.PARAMS) - {"first", "second"}, cls.NAME


def outside(interval: Interval) -> list:
    """Values just beyond each bound, the bound itself when it is open, and non-finite ones."""
    values = []
    if interval.low is not None:
        values.append(interval.low if interval.low_open else interval.low - 1)
    if interval.high is not None:
        values.append(interval.high if interval.high_open else interval.high + 1)
    values += [1.5] if interval.integer else [float("nan"), float("inf")]
    return values


def build(cls, **params):
    if cls is Combination:
        return Combination(
            10, losses.NormalizedCrossEntropy(10), losses.MeanAbsoluteError(10), **params
        )
    return cls(10, **params)


@pytest.mark.parametrize(
    "cls", all_classes(), ids=lambda c: c.NAME if c is not Combination else "combination"
)
def test_each_range_is_enforced_at_its_bounds_with_a_message_naming_it(cls):
    for param, allowed in cls.RANGES.items():
        if not isinstance(allowed, Interval):
            continue
        for value in outside(allowed):
            with pytest.raises(ValueError, match=f"loss parameter '{param}' must be ") as error:
                build(cls, **{param: value})
            assert allowed.condition() in str(error.value), (param, value)
        for value in ("x", None):  # a wrong type: the message gives the interval
            with pytest.raises(
                ValueError,
                match=f"loss parameter '{param}' must be an? (number|integer), got .* \\(allowed: ",
            ) as error:
                build(cls, **{param: value})
            assert str(error.value).endswith(f"(allowed: {allowed})"), (param, value)
        for bound in (allowed.low, allowed.high):
            if bound is not None and allowed.contains(bound):
                build(cls, **{param: bound})  # an inclusive bound is accepted


@pytest.mark.parametrize(
    "name,params,match",
    [
        ("gce", {"q": 1.5}, r"'q' must be > 0 and <= 1, got 1.5"),
        ("gce", {"q": "0.7"}, r"'q' must be a number, got '0.7' \(allowed: \(0, 1\]\)"),
        ("nlnl", {"ln_neg": 0}, r"'ln_neg' must be >= 1, got 0"),
        (
            "nlnl",
            {"ln_neg": 1.0},
            r"'ln_neg' must be an integer, got 1.0 \(allowed: integer >= 1\)",
        ),
        (
            "nlnl",
            {"class_counts": [1, 2]},
            "must be None or list a positive count for each of the 10",
        ),
        ("nlnl", {"class_counts": [0] * 10}, "positive count"),
        ("nlnl", {"prob_clamp": 0.0}, r"'prob_clamp' must be > 0 and <= 1"),
        ("fl", {"detach_modulator": "no"}, "'detach_modulator' must be True or False, got 'no'"),
        (
            "nmae",
            {"normalizer": "official"},
            r"'normalizer' must be one of \('paper', 'reference'\)",
        ),
        ("aul", {"a": 1.0}, r"'a' must be > 1, got 1.0"),
    ],
)
def test_messages_name_the_parameter_and_its_range(name, params, match):
    with pytest.raises(ValueError, match=match):
        build_loss(name, 10, **params)


def test_range_text_for_the_catalogue():
    assert str(Interval(0.0, 1.0, low_open=True)) == "(0, 1]"
    assert str(Interval(low=0.0)) == "[0, inf)"
    assert str(Interval(high=0.0, high_open=True)) == "(-inf, 0)"
    assert str(Interval(low=1, integer=True)) == "integer >= 1"
    assert str(Interval()) == "any finite number"
    assert ClassCounts().check("class_counts", (3, 1), 2) == [3, 1]
