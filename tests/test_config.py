"""Config loading: inheritance, overrides, per-rate values, validation errors, paper configs."""

from pathlib import Path

import pytest

from engine.config import ConfigError
from engine.experiment import load_config
from scripts import make_configs

REPO = Path(__file__).resolve().parents[1]
PAPER_CONFIGS = sorted(p for p in (REPO / "configs").rglob("*.yaml") if "base" not in p.parts)


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_inheritance_and_overrides(tmp_path):
    write(
        tmp_path,
        "dataset: {name: mnist}\noptim: {lr: 0.5, momentum: 0.8}\n"
        "loss: {name: nce+rce, alpha: 3}\n",
        "parent.yaml",
    )
    child = write(tmp_path, "inherit: parent.yaml\noptim: {lr: 0.1}\nloss: {name: ce}\n")
    cfg = load_config(child, overrides={"train.seed": 7}, sets=["optim.weight_decay=1e-3"])
    assert cfg["optim.lr"] == 0.1 and cfg["optim.momentum"] == 0.8  # merged, child wins
    assert cfg["loss.name"] == "ce" and "loss.alpha" not in cfg  # loss block replaced whole
    assert cfg["train.seed"] == 7 and cfg["optim.weight_decay"] == 1e-3
    assert cfg["model.name"] == "cnn4" and cfg["dataset.num_classes"] == 10  # dataset defaults


def test_per_rate_values_apply_only_at_their_rate():
    path = REPO / "configs/cifar10/asym/sce.yaml"
    assert load_config(path, overrides={"noise.rate": 0.4})["loss.alpha"] == 0.1
    assert load_config(path, overrides={"noise.rate": 0.2})["loss.alpha"] == 1.0
    assert (
        load_config(path, overrides={"noise.rate": 0.4}, sets=["loss.alpha=2"])["loss.alpha"] == 2
    )


def test_recipes_apply_their_values_and_explicit_overrides_win():
    """configs/base/mnist.yaml: release = the [HEAD] optimiser (wd 1e-2, Nesterov), the
    default; paper = the file's own values (the paper-era code's wd 1e-3, no Nesterov);
    release-full adds the loss settings of the [HEAD] config of that loss (NCE scale 10)."""
    path = REPO / "configs/mnist/sym/nce.yaml"
    assert load_config(path)["recipe"] == "release"  # the default
    paper = load_config(path, overrides={"recipe": "paper"})
    assert (paper["recipe"], paper["optim.weight_decay"], paper["optim.nesterov"]) == (
        "paper",
        1e-3,
        False,
    ) and "loss.scale" not in paper
    release = load_config(path, overrides={"recipe": "release"})
    assert (release["recipe"], release["optim.weight_decay"], release["optim.nesterov"]) == (
        "release",
        1e-2,
        True,
    ) and "loss.scale" not in release
    full = load_config(path, overrides={"recipe": "release-full"})
    assert (full["optim.weight_decay"], full["loss.scale"]) == (1e-2, 10.0)
    # only the keys a recipe names change
    assert {k for k in paper if paper[k] != release.get(k)} == {
        "recipe",
        "optim.weight_decay",
        "optim.nesterov",
    }
    mine = load_config(path, overrides={"recipe": "release"}, sets=["optim.weight_decay=5e-3"])
    assert (mine["optim.weight_decay"], mine["optim.nesterov"]) == (5e-3, True)
    # a loss whose [HEAD] config matches the paper config: release-full = release
    ce = [
        load_config(REPO / "configs/mnist/sym/ce.yaml", overrides={"recipe": r})
        for r in ("release", "release-full")
    ]
    assert {k for k in ce[0] if ce[0][k] != ce[1][k]} == {"recipe"}


def test_an_unknown_recipe_is_refused_with_the_available_ones(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"has no recipe 'relase'; did you mean 'release'\? "
        r"\(its recipes: paper, release, release-full\)",
    ):
        load_config(REPO / "configs/mnist/sym/ce.yaml", overrides={"recipe": "relase"})
    with pytest.raises(ConfigError, match=r"has no recipe 'release' \(its recipes: paper\)"):
        load_config(REPO / "configs/cifar10/sym/ce.yaml", overrides={"recipe": "release"})
    bad = write(tmp_path, "dataset: {name: mnist}\nrecipes: {fast: {optim.lrr: 1}}\n")
    with pytest.raises(
        ConfigError,
        match="recipe 'fast' sets 'optim.lrr', which is not a config key; did you mean 'optim.lr'",
    ):
        load_config(bad, overrides={"recipe": "fast"})


def test_a_resolved_config_keeps_its_recipe_values(tmp_path):
    """config.yaml of a run (every key, no table) resumes as it was: a value the user set over
    the recipe is not put back to the recipe's."""
    from engine.config import to_yaml

    cfg = load_config(
        REPO / "configs/mnist/sym/nce.yaml",
        overrides={"recipe": "release"},
        sets=["optim.weight_decay=5e-3"],
    )
    saved = write(tmp_path, to_yaml(cfg), "config.yaml")
    assert load_config(saved) == cfg
    # a hand-written config naming a recipe without a table is not mistaken for one
    with pytest.raises(ConfigError, match="has no recipe 'release'"):
        load_config(write(tmp_path, "dataset: {name: mnist}\nrecipe: release\n"))


@pytest.mark.parametrize(
    "text,match",
    [
        (
            "dataset: {name: mnist}\noptim: {lr: 0.1, wieght_decay: 0.1}\n",
            "unknown config key 'optim.wieght_decay'; did you mean 'optim.weight_decay'",
        ),
        ("dataset: {name: mnist}\noptim: {lr: -0.1}\n", "'optim.lr' must be > 0"),
        ("dataset: {name: mnist}\noptim: {lr: fast}\n", "'optim.lr' must be a number"),
        ("dataset: {name: mnist}\ntrain: {epochs: -3}\n", "'train.epochs' must be > 0"),
        ("dataset: {name: mnist}\ntrain: {epochs: 2.5}\n", "'train.epochs' must be an integer"),
        (
            "dataset: {name: mnist}\nnoise: {kind: symmetric, rate: 1.0}\n",
            "'noise.rate' must be in \\[0, 1\\)",
        ),
        (
            "dataset: {name: mnist}\nnoise: {kind: symetric, rate: 0.2}\n",
            "did you mean 'symmetric'",
        ),
        ("dataset: {name: mnist}\nloss: {name: nce+rcee}\n", "unknown loss 'nce\\+rcee'"),
        ("dataset: {name: mnist}\nloss: {name: nce+rce, alpha: .nan}\n", "must be finite"),
        (
            "dataset: {name: mnist}\nloss: {name: nce+rce, gama: 2}\n",
            "unknown parameter\\(s\\) \\['gama'\\] for loss 'nce\\+rce'",
        ),
        ("dataset: {name: mnist, num_classes: 100}\n", "mnist has 10 classes"),
        ("dataset: {name: mnist}\ntrain: {amp: fp8}\n", "'train.amp' must be one of"),
        ("dataset: {name: mnst}\n", "did you mean 'mnist'"),
        ("optim: {lr: 0.1}\n", "'dataset.name' is required"),
        ("dataset: {name: mnist}\nnoise: {rate: 0.3}\n", "noise.kind is 'none'"),
        ("dataset: {name: mnist\n", "malformed YAML .* line"),
        ("- just\n- a list\n", "must be a mapping"),
        ("inherit: missing.yaml\n", "config file not found"),
    ],
)
def test_config_errors_name_the_problem(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_config(write(tmp_path, text))


def test_bad_override_syntax(tmp_path):
    path = write(tmp_path, "dataset: {name: mnist}\n")
    with pytest.raises(ConfigError, match="key=value"):
        load_config(path, sets=["optim.lr"])


@pytest.mark.parametrize("path", PAPER_CONFIGS, ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_every_config_validates(path):
    cfg = load_config(path)
    assert cfg["optim.grad_clip"] == 5.0 or "quickstart" in path.name


def test_paper_configs_match_their_generator():
    assert make_configs.main(["--check"]) == 0, "run python scripts/make_configs.py"
    assert len(PAPER_CONFIGS) >= 3 * 2 * 24


@pytest.mark.parametrize(
    "rel,expected",
    [
        (
            "mnist/sym/nce+rce.yaml",
            {
                "loss.alpha": 1.0,
                "loss.beta": 10.0,
                # the release recipe, MNIST's default: it reproduces the published table
                "recipe": "release",
                "optim.weight_decay": 1e-2,
                "optim.nesterov": True,
                "schedule.eta_min": 0.001,
                "train.epochs": 50,
            },
        ),
        ("mnist/asym/nce+mae.yaml", {"loss.alpha": 1.0, "loss.beta": 1.0}),
        (
            "cifar10/sym/nfl+rce.yaml",
            {"loss.gamma": 0.5, "model.name": "cnn8", "train.epochs": 120},
        ),
        (
            "cifar100/sym/nce+rce.yaml",
            {
                "loss.alpha": 10.0,
                "loss.beta": 0.1,
                "model.name": "resnet34",
                "optim.lr": 0.1,
                "optim.weight_decay": 1e-5,
            },
        ),
        ("cifar100/asym/nce+rce.yaml", {"loss.alpha": 5.0}),
        ("cifar100/asym/nfl+mae.yaml", {"loss.alpha": 10.0, "loss.beta": 1.0}),
        ("cifar100/sym/sce.yaml", {"loss.alpha": 6.0, "loss.beta": 0.1}),
        ("cifar100/sym/nlnl.yaml", {"loss.ln_neg": 110, "train.epochs": 2000}),
        ("cifar10/sym/nrce.yaml", {"loss.normalizer": "reference"}),
        # mini-WebVision, spec §4.5 and §8.2
        (
            "webvision_mini/nce+rce.yaml",
            {
                "loss.alpha": 50.0,
                "loss.beta": 0.1,
                "optim.lr": 0.4,
                "optim.nesterov": True,
                "optim.weight_decay": 3e-5,
                "schedule.name": "step",
                "schedule.gamma": 0.97,
                "schedule.step_size": 1,
                "train.epochs": 250,
                "train.batch_size": 512,
                "model.name": "tv_resnet50",
                "noise.kind": "none",
            },
        ),
        ("webvision_mini/nce+mae.yaml", {"loss.alpha": 50.0, "loss.beta": 1.0}),
        ("webvision_mini/nfl+rce.yaml", {"loss.alpha": 50.0, "loss.beta": 0.1, "loss.gamma": 0.5}),
        ("webvision_mini/nfl+mae.yaml", {"loss.alpha": 50.0, "loss.beta": 1.0, "loss.gamma": 0.5}),
        ("webvision_mini/sce.yaml", {"loss.alpha": 10.0, "loss.beta": 1.0}),
        ("webvision_mini/gce.yaml", {"loss.q": 0.7}),
    ],
)
def test_paper_settings(rel, expected):
    cfg = load_config(REPO / "configs" / rel)
    for key, value in expected.items():
        assert cfg[key] == value, key


def test_config_diff_lets_older_runs_resume():
    """A run written before a key was added to SCHEMA (its config lacks the key) resumes as long
    as the new key keeps its default; a changed value is still reported."""
    from engine.config import config_diff

    new = load_config(REPO / "configs/mnist/sym/ce.yaml")
    old = {k: v for k, v in new.items() if k not in ("train.sync_bn", "dataset.decode")}
    assert config_diff(old, new) == []
    assert config_diff(old, {**new, "train.sync_bn": True}) == ["train.sync_bn: False -> True"]
    assert config_diff(new, {**new, "optim.lr": 0.5}) == ["optim.lr: 0.01 -> 0.5"]


def test_one_number_parser_for_every_key_and_loss_parameter():
    """Issue 25: PyYAML reads 1e3 (no dot) as a string; optim.lr=1e-3 was accepted while
    loss.beta=1e1 was refused as "not a number"."""
    cfg = load_config(
        REPO / "configs/mnist/sym/nce+rce.yaml",
        sets=["loss.beta=1e1", "optim.lr=1e-3", "train.epochs=5"],
    )
    assert (cfg["loss.beta"], cfg["optim.lr"], cfg["train.epochs"]) == (10.0, 1e-3, 5)
    with pytest.raises(ConfigError, match="loss parameter 'beta' must be a number, got 'x1'"):
        load_config(REPO / "configs/mnist/sym/nce+rce.yaml", sets=["loss.beta=x1"])
