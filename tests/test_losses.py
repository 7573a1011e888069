"""Losses: hand-computed values, class-sum properties, gradients, numerical extremes, API errors."""

import math

import pytest
import torch

from losses import BASE_LOSSES, LOSSES, PAPER_COMBINATIONS, Combination, build_loss

A = math.log(1e-4)  # RCE's log-clamp in the official code: -9.2103
NORMALIZED = ["nce", "nfl", "ngce", "nmae", "nrce"]


def softmax_list(z):
    m = max(z)
    e = [math.exp(v - m) for v in z]
    return [v / sum(e) for v in e]


# --- hand-computed values -------------------------------------------------------------------


@pytest.mark.parametrize("K", [2, 10, 100])
def test_uniform_prediction_values(K):
    """At a uniform prediction p = 1/K every loss has a closed form."""
    z = torch.zeros(3, K)
    y = torch.tensor([0, 1, K - 1])
    expected = {
        "ce": math.log(K),
        "fl": (1 - 1 / K) ** 0.5 * math.log(K),
        "mae": 1 - 1 / K,
        "rce": -A * (1 - 1 / K),
        "gce": (1 - (1 / K) ** 0.7) / 0.7,
        "nce": 1 / K,
        "nfl": 1 / K,
        "ngce": 1 / K,
        "nmae": 1 / K,
        "nrce": 1 / K,
    }
    for name, value in expected.items():
        got = build_loss(name, K)(z, y).item()
        assert got == pytest.approx(value, rel=1e-5), name


def reference_values(z, y, K, gamma=0.5, q=0.7):
    """The spec's formulas (§3.2, §3.3) in plain Python, independent of the torch code."""
    p = softmax_list(z)
    logp = [math.log(v) for v in p]
    pc = [min(max(v, 1e-7), 1.0) for v in p]
    fl = [-((1 - p[k]) ** gamma) * logp[k] for k in range(K)]
    rce = -A * sum(pc[k] for k in range(K) if k != y)
    return {
        "ce": -logp[y],
        "fl": fl[y],
        "mae": 1 - p[y],
        "rce": rce,
        "gce": (1 - pc[y] ** q) / q,
        "nce": logp[y] / sum(logp),
        "nfl": fl[y] / sum(fl),
        "ngce": (1 - pc[y] ** q) / (K - sum(v**q for v in pc)),
        "nmae": (1 - p[y]) / (K - 1),
        "nrce": rce / (-A * (K - 1)),
    }


@pytest.mark.parametrize(
    "row,y", [([2.0, 1.0, 0.1], 0), ([2.0, 1.0, 0.1], 2), ([-3.0, 0.5, 4.0, 1.0], 1)]
)
def test_values_match_spec_formulas(row, y):
    K = len(row)
    expected = reference_values(row, y, K)
    z = torch.tensor([row], dtype=torch.float64)
    t = torch.tensor([y])
    for name, value in expected.items():
        assert build_loss(name, K)(z, t).item() == pytest.approx(value, rel=1e-9), name


def test_literal_values():
    """Literal numbers worked out by hand for z = (2, 1, 0.1), y = 0 (p_y = 0.659001)."""
    z = torch.tensor([[2.0, 1.0, 0.1]], dtype=torch.float64)
    y = torch.tensor([0])
    assert build_loss("ce", 3)(z, y).item() == pytest.approx(0.4170300, abs=1e-6)
    assert build_loss("mae", 3)(z, y).item() == pytest.approx(0.3409989, abs=1e-6)
    assert build_loss("rce", 3)(z, y).item() == pytest.approx(3.1407156, abs=1e-6)
    assert build_loss("nmae", 3, normalizer="reference")(z, y).item() == pytest.approx(
        0.3409989 / 4, abs=1e-6
    )
    # B1: the official NRCE multiplies RCE by (K-1)/4 = 0.5 for K = 3.
    assert build_loss("nrce", 3, normalizer="reference")(z, y).item() == pytest.approx(
        3.1407156 * 0.5, abs=1e-6
    )
    assert build_loss("rce", 3, A=-4.0)(z, y).item() == pytest.approx(4 * 0.3409989, abs=1e-6)


def test_sce_is_alpha_ce_plus_beta_rce():
    z, y = torch.randn(16, 10), torch.randint(0, 10, (16,))
    sce = build_loss("sce", 10, alpha=0.1, beta=1.0)(z, y)
    expected = 0.1 * build_loss("ce", 10)(z, y) + build_loss("rce", 10)(z, y)
    assert sce.item() == pytest.approx(expected.item(), rel=1e-6)


def test_nlnl_binary_case_is_hand_computable():
    """With K = 2 the complementary label is forced: loss = -log clamp(1 - p_{1-y}) = -log p_y."""
    z = torch.tensor([[0.3, -1.2], [2.0, 0.0]])
    y = torch.tensor([0, 1])
    p = torch.softmax(z, 1)
    expected = -(torch.log(p[0, 0]) + torch.log(p[1, 1])) / 2
    assert build_loss("nlnl", 2)(z, y).item() == pytest.approx(expected.item(), rel=1e-6)
    # class weights w_c = max n / n_c: counts (10, 40) weigh class 0 by 4.
    weighted = build_loss("nlnl", 2, class_counts=[10, 40])(z, y).item()
    assert weighted == pytest.approx(
        (-4 * torch.log(p[0, 0]) - torch.log(p[1, 1])).item() / 2, rel=1e-6
    )


def test_nlnl_complementary_labels_never_equal_target():
    torch.manual_seed(0)
    K = 5
    # Make p_k = 1 for one class per row: the loss is finite only if ybar != y.
    z = torch.full((200, K), -50.0)
    y = torch.randint(0, K, (200,))
    z[torch.arange(200), y] = 50.0
    loss = build_loss("nlnl", K, ln_neg=3, reduction="none")(z, y)
    # -log(1 - p_ybar) ~ 0 when ybar != y; it would be -log(1e-5) = 11.5 if ybar == y.
    assert loss.max().item() < 1e-3


# --- class-sum properties -------------------------------------------------------------------


def class_sum(name, z, K, **params):
    loss = build_loss(name, K, reduction="none", **params)
    return sum(loss(z, torch.full((z.shape[0],), j, dtype=torch.long)) for j in range(K))


@pytest.mark.parametrize("K", [2, 10, 100])
@pytest.mark.parametrize("name", NORMALIZED)
def test_normalized_losses_sum_to_their_scale(name, K):
    torch.manual_seed(K)
    z = 3 * torch.randn(32, K, dtype=torch.float64)  # moderate logits: no probability clamps bite
    for scale in (1.0, 2.5):
        total = class_sum(name, z, K, scale=scale)
        assert torch.allclose(total, torch.full_like(total, scale), rtol=1e-6), name


def test_reference_normalizers_class_sums():
    K = 10
    z = torch.randn(16, K, dtype=torch.float64)
    # B2: official NMAE sums to 1/2; B1: official NRCE sums to -A (K-1)^2 / 4.
    assert torch.allclose(
        class_sum("nmae", z, K, normalizer="reference"), torch.full((16,), 0.5, dtype=torch.float64)
    )
    assert torch.allclose(
        class_sum("nrce", z, K, normalizer="reference"),
        torch.full((16,), -A * (K - 1) ** 2 / 4, dtype=torch.float64),
    )


@pytest.mark.parametrize("K", [2, 10, 100])
def test_mae_and_rce_class_sums_are_the_spec_constants(K):
    z = 2 * torch.randn(32, K, dtype=torch.float64)
    assert torch.allclose(class_sum("mae", z, K), torch.full((32,), K - 1.0, dtype=torch.float64))
    assert torch.allclose(
        class_sum("rce", z, K), torch.full((32,), -A * (K - 1), dtype=torch.float64)
    )
    assert torch.allclose(
        class_sum("rce", z, K, A=-4.0), torch.full((32,), 4.0 * (K - 1), dtype=torch.float64)
    )


@pytest.mark.parametrize(
    "pair",
    [
        "nce+rce",
        "nce+mae",
        "nfl+rce",
        "nfl+mae",
        "ngce+rce",
        "ngce+mae",
        "mae+rce",
        "nfl+nce",
        "ngce+nce",
    ],
)
def test_combination_class_sum_is_weighted_sum(pair):
    K = 10
    constants = {"nce": 1.0, "nfl": 1.0, "ngce": 1.0, "mae": K - 1.0, "rce": -A * (K - 1)}
    first, second = pair.split("+")
    z = 2 * torch.randn(8, K, dtype=torch.float64)
    alpha, beta = 3.0, 0.7
    total = class_sum(pair, z, K, alpha=alpha, beta=beta)
    expected = alpha * constants[first] + beta * constants[second]
    assert torch.allclose(total, torch.full_like(total, expected), rtol=1e-6)


def test_combination_components_add_up():
    z, y = torch.randn(16, 10), torch.randint(0, 10, (16,))
    loss = build_loss("nce+rce", 10, alpha=2.0, beta=0.5)
    total, parts = loss.components(z, y)
    assert set(parts) == {"nce", "rce"}
    assert parts["nce"].item() == pytest.approx(2.0 * build_loss("nce", 10)(z, y).item(), rel=1e-6)
    assert parts["rce"].item() == pytest.approx(0.5 * build_loss("rce", 10)(z, y).item(), rel=1e-6)
    assert total.item() == pytest.approx(loss(z, y).item(), rel=1e-6)


# --- gradients and numerical safety ---------------------------------------------------------

SMOOTH = [
    "ce",
    "mae",
    "rce",
    "gce",
    "nce",
    "ngce",
    "nmae",
    "nrce",
    "nce+rce",
    "nce+mae",
    "ngce+rce",
    "gce+nce",
    "sce",
]


@pytest.mark.parametrize("name", SMOOTH + ["fl", "nfl"])
def test_gradcheck_float64(name):
    torch.manual_seed(1)
    z = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 4, 2])
    params = {"detach_modulator": False} if name in ("fl", "nfl") else {}
    loss = build_loss(name, 5, **params)
    assert torch.autograd.gradcheck(lambda x: loss(x, y), (z,))


def test_detached_focal_gradient_is_modulated_ce_gradient():
    """D5: with the factor detached, grad FL = (1 - p_y)^gamma * grad CE."""
    z = torch.randn(1, 6, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([2])
    (g_fl,) = torch.autograd.grad(build_loss("fl", 6, gamma=2.0)(z, y), z)
    (g_ce,) = torch.autograd.grad(build_loss("ce", 6)(z, y), z)
    p_y = torch.softmax(z, 1)[0, 2].detach()
    assert torch.allclose(g_fl, (1 - p_y) ** 2.0 * g_ce)


ALL_NAMES = sorted(LOSSES)


@pytest.mark.parametrize("K", [2, 10, 1000])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_finite_at_huge_logits(name, K):
    torch.manual_seed(K)
    z = (1e4 * torch.randn(8, K)).requires_grad_()
    y = torch.randint(0, K, (8,))
    y[0] = z[0].argmax()  # at least one confidently right and several confidently wrong
    loss = build_loss(name, K)(z, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all(), name


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_finite_under_autocast(name, dtype):
    torch.manual_seed(0)
    layer = torch.nn.Linear(16, 10)
    x = 100 * torch.randn(8, 16)
    y = torch.randint(0, 10, (8,))
    with torch.autocast("cpu", dtype=dtype):
        logits = layer(x)
        assert logits.dtype == dtype
        loss = build_loss(name, 10)(logits, y)
    assert loss.dtype == torch.float32  # computed in fp32 whatever the autocast dtype
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(layer.weight.grad).all(), name


# --- API ------------------------------------------------------------------------------------


def test_reduction_none_and_mean_agree():
    z, y = torch.randn(7, 10), torch.randint(0, 10, (7,))
    for name in ALL_NAMES:
        if name == "nlnl" or BASE_LOSSES.get(name, Combination).BATCH_ONLY:
            continue  # random complementary labels differ between calls; DMI has one per batch
        per = build_loss(name, 10, reduction="none")(z, y)
        assert per.shape == (7,)
        assert build_loss(name, 10)(z, y).item() == pytest.approx(per.mean().item(), rel=1e-5)


def test_every_paper_loss_is_registered():
    required = {
        "ce",
        "fl",
        "mae",
        "rce",
        "gce",
        "sce",
        "nlnl",
        "nce",
        "nfl",
        "ngce",
        "nmae",
        "nrce",
        "nce+rce",
        "nce+mae",
        "nfl+rce",
        "nfl+mae",
        "ngce+rce",
        "ngce+mae",
        "gce+mae",
        "gce+rce",
        "gce+nce",
        "mae+rce",
        "nfl+nce",
        "ngce+nce",
    }
    assert required <= set(LOSSES)


def test_params_reach_the_parts():
    loss = build_loss("nfl+rce", 10, alpha=10, beta=0.1, gamma=2.0, A=-4.0)
    assert (loss.alpha, loss.beta, loss.first.gamma, loss.second.A) == (10.0, 0.1, 2.0, -4.0)
    assert build_loss("ngce+mae", 100, q=0.2).first.q == 0.2


@pytest.mark.parametrize(
    "name,params,match",
    [
        ("nce+xyz", {}, "unknown loss 'nce\\+xyz'.*Valid names"),
        ("cross_entropy", {}, "Valid names:.*nce\\+rce"),
        ("nce+rce+mae", {}, "unknown loss"),
        (
            "ce",
            {"gamma": 2},
            "unknown parameter.*'gamma'.*Valid parameters: "
            "\\['entropy_reg', 'l1', 'logit_clip', 'scale'\\]",
        ),
        ("nce+rce", {"scale": 2}, "unknown parameter.*Valid parameters:.*alpha"),
        ("gce", {"q": 0.0}, "'q' must be > 0"),
        ("nce+rce", {"alpha": float("nan")}, "'alpha' must be finite"),
        ("nce+rce", {"beta": -1}, "'beta' must be >= 0"),
        ("nrce", {"normalizer": "official"}, "'normalizer' must be one of"),
        ("rce", {"A": 4.0}, "'A' must be < 0 \\(the log of the clamped zero label"),
        ("fl", {"gamma": "high"}, "'gamma' must be a number"),
    ],
)
def test_bad_names_and_params_raise_value_error(name, params, match):
    with pytest.raises(ValueError, match=match):
        build_loss(name, 10, **params)


def test_bad_num_classes():
    with pytest.raises(ValueError, match="num_classes"):
        build_loss("ce", 1)


def test_single_losses_accept_only_declared_params():
    for name, cls in BASE_LOSSES.items():
        build_loss(name, 10, **cls.PARAMS)  # every declared default is accepted as given


@pytest.mark.parametrize("name", PAPER_COMBINATIONS)
def test_paper_combinations_are_weighted_sums_of_their_named_parts(name):
    """Each named pair is alpha * first + beta * second of the single losses its name lists,
    with the weights it is given (not only a registered name)."""
    torch.manual_seed(0)
    logits, targets = torch.randn(16, 10, dtype=torch.float64), torch.randint(0, 10, (16,))
    first, second = name.split("+")
    expected = 0.5 * build_loss(first, 10)(logits, targets) + 3.0 * build_loss(second, 10)(
        logits, targets
    )
    got = build_loss(name, 10, alpha=0.5, beta=3.0)(logits, targets)
    assert torch.allclose(got, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_declared_params_are_the_defaults_build_loss_uses(name):
    """PARAMS is derived from __init__'s signature: passing every declared default by name
    builds the same loss as passing nothing, and nothing undeclared is accepted."""
    implicit, explicit = build_loss(name, 10), build_loss(name, 10, **LOSSES[name])
    assert repr(explicit) == repr(implicit)
    parts = [implicit.first, implicit.second] if isinstance(implicit, Combination) else []
    for loss in [implicit] + parts:
        assert loss.PARAMS, loss.NAME  # every registered loss has at least a scale or a weight
        assert {k: getattr(loss, k) for k in loss.PARAMS} == loss.PARAMS
    with pytest.raises(ValueError, match="unknown parameter"):
        build_loss(name, 10, reduce_by=2)
