"""Losses after APL (losses/newer.py, the LogitClip and entropy options, DMI's warm-up phase),
their configs and their published numbers. Expectations are computed by hand or from limits."""

import json
import math
from pathlib import Path

import fake_data
import pytest
import torch
from helpers import run_interrupted, write_config

import train
from engine.config import ConfigError, loss_kwargs
from engine.experiment import load_config
from engine.step import backward, forward
from losses import build_loss
from scripts import make_configs, tables

REPO = Path(__file__).resolve().parents[1]
NEWER = ["ce-eps", "fl-eps", "amse", "jal-ce", "ldr-kl", "dmi", "ce-eps+mae", "fl-eps+mae"]


# ---------------------------------------------------------------------------- values by hand


@pytest.mark.parametrize("K", [2, 10, 100])
def test_uniform_prediction_values(K):
    z, m, a, c, lam = torch.zeros(2, K, dtype=torch.float64), 9.0, 10.0, 0.1, 10.0
    y = torch.tensor([0, 1])  # argmax of a zero row is class 0: y = 0 is the argmax, y = 1 not
    p = 1 / K
    ce_eps = build_loss("ce-eps", K, m=m, reduction="none")(z, y)
    assert ce_eps.tolist() == pytest.approx(
        [-math.log((p + m) / (1 + m)), -math.log(p / (1 + m))], rel=1e-5
    )
    assert build_loss("amse", K, a=a)(z, y).item() == pytest.approx(
        (a * a - 2 * a * p + p) / K, rel=1e-5
    )  # ||p||^2 = 1/K at the uniform prediction
    # softplus(0)/mean = 1 for every class: differences are the margin off the label, 0 on it
    assert build_loss("ldr-kl", K, margin=c, lam=lam)(z, y).item() == pytest.approx(
        lam * math.log((1 + (K - 1) * math.exp(c / lam)) / K), rel=1e-5
    )


def test_dmi_of_confident_predictions_is_minus_log_of_the_class_counts():
    y = torch.tensor([0, 0, 1, 2, 2, 2])
    z = 60.0 * torch.nn.functional.one_hot(y, 3).double()  # p = one-hot up to e^-60
    # U^T P = diag(2, 1, 3): -ln(6 + 0.001)
    assert build_loss("dmi", 3)(z, y).item() == pytest.approx(-math.log(6.001), rel=1e-9)


def test_logit_clip_hand_value_and_norm():
    z, y = torch.tensor([[3.0, 4.0]]), torch.tensor([0])  # ||z|| = 5 -> (0.6, 0.8) at delta 1
    value = build_loss("ce", 2, logit_clip=1.0)(z, y).item()
    assert value == pytest.approx(math.log(1 + math.exp(0.2)), rel=1e-6)
    from losses.base import clip_logit_norm

    big = 50 * torch.randn(6, 10)
    assert torch.linalg.vector_norm(clip_logit_norm(big, 2.5), dim=1).tolist() == pytest.approx(
        [2.5] * 6, rel=1e-6
    )


def test_entropy_term_is_zero_for_balanced_and_ln_k_for_one_class_batches():
    K = 4
    y = torch.arange(K)
    balanced = 5.0 * torch.eye(K)  # each class predicted once: mean prediction uniform
    plain, er = build_loss("anl-ce", K), build_loss("anl-ce", K, entropy_reg=2.0)
    assert er(balanced, y).item() == pytest.approx(plain(balanced, y).item(), abs=1e-6)
    collapsed = torch.zeros(K, K)
    collapsed[:, 0] = 40.0  # every sample predicts class 0
    gap = er(collapsed, y).item() - plain(collapsed, y).item()
    assert gap == pytest.approx(2.0 * math.log(K), rel=1e-4)
    _, terms = er.components(collapsed, y)
    assert list(terms) == ["nce", "nnce", "entropy_reg"]
    assert terms["entropy_reg"].item() == pytest.approx(gap, rel=1e-6)


# ---------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    "base,eps,params", [("ce", "ce-eps", {}), ("fl", "fl-eps", {"gamma": 0.5})]
)
def test_eps_softmax_with_m_to_zero_is_the_base_loss(base, eps, params):
    torch.manual_seed(0)
    z, y = 3 * torch.randn(32, 10, dtype=torch.float64), torch.randint(0, 10, (32,))
    expected = build_loss(base, 10, reduction="none", **params)(z, y)
    assert torch.allclose(build_loss(eps, 10, m=0, reduction="none", **params)(z, y), expected)
    close = build_loss(eps, 10, m=1e-9, reduction="none", **params)(z, y)
    assert torch.allclose(close, expected, rtol=1e-6)


def test_ldr_kl_tends_to_mean_and_max_of_the_shifted_differences():
    torch.manual_seed(1)
    z, y, c = torch.randn(5, 6, dtype=torch.float64), torch.randint(0, 6, (5,)), 0.1
    s = torch.nn.functional.softplus(z)
    s = s / s.mean(dim=1, keepdim=True)
    diffs = s - s.gather(1, y.view(-1, 1)) + c * (1 - torch.nn.functional.one_hot(y, 6))
    big = build_loss("ldr-kl", 6, margin=c, lam=1e6, reduction="none")(z, y)
    small = build_loss("ldr-kl", 6, margin=c, lam=1e-4, reduction="none")(z, y)
    assert torch.allclose(big, diffs.mean(dim=1), atol=1e-5)
    assert torch.allclose(small, diffs.max(dim=1).values, atol=1e-3)  # + lam ln(#max / K)


@pytest.mark.parametrize("K", [2, 10, 100])
def test_amse_class_sum_varies_only_through_the_prediction_norm(K):
    torch.manual_seed(K)
    a = 10.0
    z = 4 * torch.randn(16, K, dtype=torch.float64)
    loss = build_loss("amse", K, a=a, reduction="none")
    class_sum = sum(loss(z, torch.full((16,), j)) for j in range(K))
    norm2 = torch.softmax(z, dim=1).square().sum(dim=1)
    assert torch.allclose(class_sum, a * a - 2 * a / K + norm2)
    low, high = a * a - 2 * a / K + 1 / K, a * a - 2 * a / K + 1
    assert (class_sum >= low - 1e-12).all() and (class_sum <= high + 1e-12).all()


@pytest.mark.parametrize("a,optimal", [(10.0, True), (2.0, False)])
def test_amse_weighted_risk_is_minimised_at_the_dominant_label_iff_a_gap_is_large(a, optimal):
    """sum_k w_k AMSE(p, k) = (||p - a w||^2 + const) / K: its minimiser over the simplex is the
    projection of a w, which is e_y exactly when a (w_y - w_k) >= 1 for every k."""
    K, w = 4, torch.tensor([0.4, 0.2, 0.2, 0.2], dtype=torch.float64)  # w_y - w_k = 0.2

    def risk(p):
        return (
            sum(
                w[k] * ((a * torch.nn.functional.one_hot(torch.tensor(k), K) - p) ** 2).sum()
                for k in range(K)
            )
            / K
        )

    corner = risk(torch.tensor([1.0, 0, 0, 0], dtype=torch.float64))
    projection = torch.tensor([0.7, 0.1, 0.1, 0.1], dtype=torch.float64)  # of 2 w at a = 2
    others = [torch.distributions.Dirichlet(torch.ones(K)).sample().double() for _ in range(200)]
    assert (min(risk(p) for p in others + [projection]) >= corner) == optimal


def test_logit_clip_leaves_logits_inside_the_ball_unchanged_and_gradients_flow():
    torch.manual_seed(2)
    inside = (0.1 * torch.randn(8, 10)).requires_grad_()
    y = torch.randint(0, 10, (8,))
    clipped, plain = build_loss("nce+rce", 10, logit_clip=5.0), build_loss("nce+rce", 10)
    assert torch.equal(clipped(inside, y), plain(inside, y))
    (g1,) = torch.autograd.grad(clipped(inside, y), inside)
    (g2,) = torch.autograd.grad(plain(inside, y), inside)
    assert torch.equal(g1, g2)
    outside = (30 * torch.randn(8, 10)).requires_grad_()
    (g,) = torch.autograd.grad(build_loss("ce", 10, logit_clip=1.0)(outside, y), outside)
    assert torch.isfinite(g).all() and g.abs().sum() > 0
    zero = torch.zeros(2, 10, requires_grad=True)
    (g0,) = torch.autograd.grad(build_loss("ce", 10, logit_clip=1.0)(zero, y[:2]), zero)
    assert torch.isfinite(g0).all()


# ---------------------------------------------------------------------------- numerics

GRADCHECK = [
    ("ce-eps", {"m": 10.0}),
    ("ce-eps", {}),
    ("fl-eps", {"detach_modulator": False}),
    ("amse", {}),
    ("jal-ce", {"a": 20.0}),
    ("ldr-kl", {}),
    ("ldr-kl", {"lam": 1.0}),
    ("dmi", {}),
    ("ce", {"logit_clip": 1.0}),
    ("nce+rce", {"logit_clip": 2.5}),
    ("anl-ce", {"entropy_reg": 2.0}),
    ("ce-eps+mae", {"alpha": 0.01, "beta": 10.0}),
]


@pytest.mark.parametrize("name,params", GRADCHECK)
def test_gradcheck_float64(name, params):
    torch.manual_seed(3)
    z = (3 * torch.randn(6, 5, dtype=torch.float64)).requires_grad_()
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    loss = build_loss(name, 5, **params)
    assert torch.autograd.gradcheck(lambda x: loss(x, y), (z,))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize(
    "name,params",
    [(n, {}) for n in NEWER] + [("ce", {"logit_clip": 1.0}), ("anl-ce", {"entropy_reg": 2.0})],
)
def test_finite_under_autocast(name, params, dtype):
    torch.manual_seed(0)
    layer = torch.nn.Linear(16, 10)
    x, y = 100 * torch.randn(32, 16), torch.arange(32) % 10
    with torch.autocast("cpu", dtype=dtype):
        loss = build_loss(name, 10, **params)(layer(x), y)
    assert loss.dtype == torch.float32
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(layer.weight.grad).all()


# ---------------------------------------------------------------------------- API and errors


@pytest.mark.parametrize(
    "name,kwargs,match",
    [
        ("dmi+mae", {}, "dmi is one value per batch and cannot be part of an 'a\\+b' pair"),
        ("dmi", {"reduction": "none"}, "dmi is one value per batch: use reduction='mean'"),
        ("ce", {"reduction": "none", "entropy_reg": 1.0}, "'entropy_reg' is a batch-level term"),
        ("ce", {"logit_clip": 0.0}, "'logit_clip' must be > 0"),
        ("ce-eps", {"m": -1}, "'m' must be >= 0"),
        ("ldr-kl", {"lam": 0}, "'lam' must be > 0"),
    ],
)
def test_bad_newer_params_are_one_line_errors(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_loss(name, 10, **kwargs)


def test_aliases_and_options_build_the_expected_objects():
    jal = build_loss("jal-ce", 10, alpha=1, beta=1, a=30)
    assert (jal.first.NAME, jal.second.NAME, jal.second.a) == ("nce", "amse", 30.0)
    clipped = build_loss("nce+rce", 10, logit_clip=1.5)
    assert clipped.logit_clip == 1.5 and clipped.first.logit_clip is None  # clipped once, on top
    assert "logit_clip=1.5" in repr(clipped)


@pytest.mark.parametrize(
    "text,match",
    [
        (
            "loss: {name: dmi, warmup_epochs: 3}\ntrain: {epochs: 3}",
            "warmup_epochs \\(3\\) must be below",
        ),
        (
            "loss: {name: dmi, warmup_epochs: 1, warmup_loss: cee}",
            "unknown loss 'cee' \\(did you mean 'ce'\\?\\)",
        ),
    ],
)
def test_warmup_config_errors(tmp_path, text, match):
    path = tmp_path / "c.yaml"
    path.write_text("dataset: {name: mnist}\n" + text + "\n")
    with pytest.raises(ConfigError, match=match):
        load_config(path)


# ---------------------------------------------------------------------------- configs

NEWER_CONFIGS = sorted(
    path for path in make_configs.all_configs() if path.stem in make_configs.NEWER_LOSSES
)


@pytest.mark.parametrize("path", NEWER_CONFIGS, ids=lambda p: "/".join(p.parts[-3:]))
def test_each_newer_config_builds_and_takes_two_steps(path):
    cfg = load_config(path)
    K = cfg["dataset.num_classes"]
    torch.manual_seed(0)
    model = torch.nn.Linear(8, K)
    criterion = build_loss(cfg["loss.name"], K, **loss_kwargs(cfg)).penalise(model.parameters())
    x, y = torch.randn(64, 8), torch.arange(64) % K
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    before = model.weight.detach().clone()
    for _ in range(2):
        _, loss, _ = forward(model, criterion, x, y, "none")
        assert bool(backward(loss, model, optimizer, scaler, 5.0)), path
        optimizer.step()
    assert not torch.equal(before, model.weight)


def test_config_values_follow_their_sources():
    c100 = REPO / "configs/cifar100/sym/ce-eps+mae.yaml"
    assert load_config(c100, overrides={"noise.rate": 0.6})["loss.alpha"] == 0.00125
    assert load_config(c100)["loss.beta"] == 2.0  # [EPS] beta 1 on its MAE scaled by 2
    clip = REPO / "configs/cifar10/sym/ce+logitclip.yaml"
    assert [
        load_config(clip, overrides={"noise.rate": r})["loss.logit_clip"] for r in (0.2, 0.8)
    ] == [1.0, 1.5]
    dmi = load_config(REPO / "configs/cifar10/sym/dmi.yaml")
    assert (dmi["loss.warmup_epochs"], dmi["train.epochs"], dmi["optim.lr_after_warmup"]) == (
        120,
        240,
        1e-6,
    )
    assert not (REPO / "configs/cifar100/sym/dmi.yaml").exists()


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    return fake_data.write_fake_mnist(tmp_path_factory.mktemp("data"), n_train=128, n_test=32)


def run(config, root, out, *extra):
    return train.main(
        [
            "--config",
            str(config),
            "--data-root",
            str(root),
            "--out",
            str(out),
            "--set",
            "train.batch_size=32",
            "train.progress=false",
            *extra,
        ]
    )


@pytest.mark.parametrize("loss", make_configs.newer_losses("mnist"))
def test_each_newer_mnist_config_trains_end_to_end(loss, mnist_root, tmp_path):
    extra = ["--epochs", "2"] + (["--set", "loss.warmup_epochs=1"] if loss == "dmi" else [])
    assert run(REPO / f"configs/mnist/sym/{loss}.yaml", mnist_root, tmp_path / "r", *extra) == 0
    result = json.loads((tmp_path / "r/result.json").read_text())
    assert result["last"]["epoch"] == 2 and 0 <= result["last"]["test_top1"] <= 100


# ---------------------------------------------------------------------------- DMI's warm-up


@pytest.fixture(scope="module")
def dmi_run(mnist_root, tmp_path_factory):
    """(config, finished run): 2 warm-up epochs of CE, then 2 of DMI at lr 1e-6."""
    tmp = tmp_path_factory.mktemp("dmi")
    config = write_config(
        tmp / "dmi.yaml",
        "mnist",
        {"name": "dmi", "warmup_epochs": 2},
        optim={"lr_after_warmup": 1e-6},
        train={"epochs": 4},
    )
    assert run(config, mnist_root, tmp / "run") == 0
    return config, tmp / "run"


def rows(out):
    return [
        {k: v for k, v in json.loads(line).items() if k != "epoch_seconds"}
        for line in (Path(out) / "metrics.jsonl").read_text().splitlines()
    ]


def test_dmi_warmup_runs_ce_on_its_own_schedule_then_a_fresh_optimiser(dmi_run):
    _, dmi_run = dmi_run
    lrs = [r["lr"] for r in rows(dmi_run)]
    # cosine over the 2 warm-up epochs from 0.05 (T_max = 2), then constant 1e-6
    assert lrs == pytest.approx([0.05, 0.025, 1e-6, 1e-6])
    ckpt = torch.load(dmi_run / "checkpoints/last.pt", weights_only=True)
    assert ckpt["optim_phase"] == 1
    assert ckpt["optimizer"]["param_groups"][0]["lr"] == 1e-6


@pytest.mark.e2e
@pytest.mark.parametrize("epoch,step", [(1, 3), (2, 1)])  # end of the warm-up; inside DMI
def test_dmi_resume_across_the_phase_switch_is_bit_exact(
    epoch, step, dmi_run, mnist_root, tmp_path
):
    dmi_config, dmi_run = dmi_run
    out = tmp_path / "interrupted"
    args = [
        "--config",
        str(dmi_config),
        "--data-root",
        str(mnist_root),
        "--out",
        str(out),
        "--set",
        "train.batch_size=32",
        "train.progress=false",
    ]
    done = run_interrupted(args, "SIGTERM", epoch=epoch, step=step)
    assert done.returncode == 128 + 15, done.stderr
    assert run(dmi_config, mnist_root, out, "--resume") == 0
    expected = torch.load(dmi_run / "checkpoints/last.pt", weights_only=True)["model"]
    got = torch.load(out / "checkpoints/last.pt", weights_only=True)["model"]
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert rows(out) == rows(dmi_run)


# ---------------------------------------------------------------------------- published data


def test_published_newer_is_extracted_from_newer_losses_md(tmp_path):
    from scripts import extract_published

    out = tmp_path / "newer.yaml"
    assert extract_published.main(["--newer", "--out", str(out)]) == 0
    assert out.read_text() == (REPO / "docs/published_newer.yaml").read_text()


def test_tables_show_either_or_both_published_sources(tmp_path):
    run_dir = tmp_path / "runs/cifar10/sym/0.8/nce+rce/seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "result.json").write_text(json.dumps({"last": {"test_top1": 50.0}}))
    cells = {}
    for sources in ("paper", "newer", "paper,newer,jal"):
        out = tmp_path / sources
        assert (
            tables.main(
                [
                    "--runs",
                    str(tmp_path / "runs"),
                    "--dataset",
                    "cifar10",
                    "--kinds",
                    "sym",
                    "--out",
                    str(out),
                    "--published",
                    sources,
                ]
            )
            == 0
        )
        cells[sources] = (out / "cifar10_sym.md").read_text()
    row = next(line for line in cells["paper"].splitlines() if line.startswith("| nce+rce"))
    assert "50.00 (n=1) [" in row and "newer" not in row
    assert "50.00 (n=1) [55.28, -5.28]" in cells["newer"]  # no std published: never flagged
    both = cells["paper,newer,jal"]
    assert "50.00 (n=1) [52.71±1.90, -2.71; newer 55.28; jal 54.99]" in both
    assert "published: paper, newer, jal" in both
    assert (
        tables.main(
            [
                "--runs",
                str(tmp_path / "runs"),
                "--dataset",
                "cifar10",
                "--published",
                "paper,arxiv",
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
