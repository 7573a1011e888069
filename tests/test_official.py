"""Side by side with the authors' code (../shared/reference/official-apl/archive), step for step.

The authors' modules are imported at test time through scripts/official_apl.py (with only the
compatibility fixes its README lists) and run on the same inputs as this project's code:
every loss (value and gradient), the MNIST/CIFAR-10 models (outputs and initialisation), whole
training runs of their train() against this project's step/optimiser/schedule, and the noisy
labels of their noise procedures. Skips, with the reason, where the archive is absent.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines import official as official_apl
from engine.config import loss_kwargs
from engine.experiment import load_config
from engine.optim import build_optimizer, build_scheduler
from engine.step import backward, forward, optimizer_step
from losses import build_loss
from models import cnn4, cnn8
from noise import make_noisy_labels
from scripts import official_apl as official_cli

try:
    official_apl.patched_copy()
except official_apl.ReferenceMissing as missing:
    pytest.skip(f"authors' code not available: {missing}", allow_module_level=True)

REPO = Path(__file__).resolve().parents[1]
ref_loss, ref_model, ref_dataset = official_apl.import_reference("loss", "model", "dataset")


# ------------------------------------------------------------------------------------- losses
def config_params(dataset: str, loss: str, rate: float = 0.4) -> dict:
    """The loss parameters a paper config uses (MNIST/CIFAR-10/CIFAR-100, symmetric)."""
    cfg = load_config(
        REPO / "configs" / dataset / "sym" / f"{loss}.yaml", overrides={"noise.rate": rate}
    )
    return loss_kwargs(cfg)


def reference_loss(loss: str, K: int, p: dict):
    """The authors' class for `loss`, built as their train.py builds it from its flags."""
    a, b = p.get("alpha", 1.0), p.get("beta", 1.0)
    scale, q, gamma = p.get("scale", 1.0), p.get("q", 0.7), p.get("gamma", 0.5)
    L = ref_loss
    table = {
        "ce": lambda: torch.nn.CrossEntropyLoss(),
        "sce": lambda: L.SCELoss(alpha=a, beta=b, num_classes=K),
        "nce": lambda: L.NormalizedCrossEntropy(scale=scale, num_classes=K),
        "mae": lambda: L.MeanAbsoluteError(scale=scale, num_classes=K),
        "nmae": lambda: L.NormalizedMeanAbsoluteError(scale=scale, num_classes=K),
        "gce": lambda: L.GeneralizedCrossEntropy(num_classes=K, q=q),
        "rce": lambda: L.ReverseCrossEntropy(scale=scale, num_classes=K),
        "nrce": lambda: L.NormalizedReverseCrossEntropy(scale=scale, num_classes=K),
        "ngce": lambda: L.NormalizedGeneralizedCrossEntropy(scale=scale, num_classes=K, q=q),
        "fl": lambda: L.FocalLoss(gamma=gamma),
        "nfl": lambda: L.NormalizedFocalLoss(scale=scale, gamma=gamma, num_classes=K),
        "nce+rce": lambda: L.NCEandRCE(alpha=a, beta=b, num_classes=K),
        "nce+mae": lambda: L.NCEandMAE(alpha=a, beta=b, num_classes=K),
        "gce+mae": lambda: L.GCEandMAE(alpha=a, beta=b, num_classes=K, q=q),
        "gce+rce": lambda: L.GCEandRCE(alpha=a, beta=b, num_classes=K, q=q),
        "gce+nce": lambda: L.GCEandNCE(alpha=a, beta=b, num_classes=K, q=q),
        "mae+rce": lambda: L.MAEandRCE(alpha=a, beta=b, num_classes=K),
        "ngce+nce": lambda: L.NGCEandNCE(alpha=a, beta=b, num_classes=K, q=q),
        "ngce+mae": lambda: L.NGCEandMAE(alpha=a, beta=b, num_classes=K, q=q),
        "ngce+rce": lambda: L.NGCEandRCE(alpha=a, beta=b, num_classes=K, q=q),
        "nfl+nce": lambda: L.NFLandNCE(alpha=a, beta=b, num_classes=K, gamma=gamma),
        "nfl+mae": lambda: L.NFLandMAE(alpha=a, beta=b, num_classes=K, gamma=gamma),
        "nfl+rce": lambda: L.NFLandRCE(alpha=a, beta=b, num_classes=K, gamma=gamma),
        "dmi": lambda: L.DMILoss(num_classes=K),
    }
    return table[loss]()


def value_and_grad(criterion, logits, labels):
    z = logits.clone().requires_grad_(True)
    value = criterion(z, labels)
    (grad,) = torch.autograd.grad(value, z)
    return value.detach(), grad


def logits_batch(K: int, n: int = 96, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, K, generator=g) * 3
    logits[:4] *= 8  # confident rows: the 1e-7 / 1e-4 clamps of RCE, GCE and MAE bite
    labels = torch.randint(0, K, (n,), generator=g)
    labels[:2] = logits[:2].argmax(1)
    return logits, labels


DATASET_K = {"mnist": 10, "cifar10": 10, "cifar100": 100}
# Every loss of the authors' loss.py that a paper config uses; single losses as in their
# scripts (scale = --alpha = 1 unless the config says otherwise).
CONFIG_LOSSES = [
    "ce",
    "sce",
    "nce",
    "mae",
    "gce",
    "rce",
    "fl",
    "nfl",
    "ngce",
    "nce+rce",
    "nce+mae",
    "nfl+rce",
    "nfl+mae",
    "gce+mae",
    "gce+rce",
    "gce+nce",
    "mae+rce",
    "nfl+nce",
    "ngce+nce",
    "ngce+mae",
    "ngce+rce",
    "dmi",
]


@pytest.mark.parametrize("dataset", sorted(DATASET_K))
@pytest.mark.parametrize("loss", CONFIG_LOSSES)
def test_loss_value_and_gradient_equal_the_authors(dataset, loss, monkeypatch):
    config = REPO / "configs" / dataset / "sym" / f"{loss}.yaml"
    if not config.is_file():
        pytest.skip(f"no {dataset} config for {loss}")
    if loss == "dmi" and not torch.cuda.is_available():
        # their DMILoss moves its one-hot matrix with an unconditional .cuda()
        monkeypatch.setattr(torch.Tensor, "cuda", lambda self, *args, **kwargs: self)
    K = DATASET_K[dataset]
    params = config_params(dataset, loss)
    ours = build_loss(loss, K, **params)
    theirs = reference_loss(loss, K, params)
    logits, labels = logits_batch(K)
    v_ours, g_ours = value_and_grad(ours, logits, labels)
    v_theirs, g_theirs = value_and_grad(theirs, logits, labels)
    assert torch.allclose(v_ours, v_theirs, rtol=1e-6, atol=1e-6), (v_ours, v_theirs)
    assert torch.allclose(g_ours, g_theirs, rtol=1e-5, atol=1e-6), (g_ours - g_theirs).abs().max()


@pytest.mark.parametrize("loss", ["nmae", "nrce"])
@pytest.mark.parametrize("K", [10, 100])
def test_normalised_mae_rce_with_reference_normaliser_equal_the_authors(loss, K):
    ours = build_loss(loss, K, normalizer="reference")
    theirs = reference_loss(loss, K, {})
    logits, labels = logits_batch(K, seed=1)
    v_ours, g_ours = value_and_grad(ours, logits, labels)
    v_theirs, g_theirs = value_and_grad(theirs, logits, labels)
    assert torch.allclose(v_ours, v_theirs, rtol=1e-6, atol=1e-6)
    assert torch.allclose(g_ours, g_theirs, rtol=1e-5, atol=1e-6)
    # ... and the paper's normaliser differs from theirs (bug B1/B2), so the option matters
    assert not torch.allclose(build_loss(loss, K)(logits, labels), v_theirs, rtol=1e-3)


class ZeroTerm(torch.nn.Module):
    def forward(self, pred, target):
        return pred.new_zeros(())


@pytest.mark.parametrize("K,ln_neg", [(10, 1), (100, 110)])
def test_nlnl_equals_the_authors_negative_term_with_the_same_complementary_labels(K, ln_neg):
    """Their NLNL adds a 'positive' CE over all-ignored targets: NaN on current torch (B12).
    With that term set to 0 (what their runs effectively computed) and the same draws of the
    complementary labels from the global generator, the values and gradients agree."""
    logits, labels = logits_batch(K, seed=2)
    counts = np.bincount(labels.numpy(), minlength=K).clip(min=1)
    loader = types.SimpleNamespace(dataset=types.SimpleNamespace(targets=labels.numpy()))
    theirs = ref_loss.NLNL(train_loader=loader, num_classes=K, ln_neg=ln_neg)
    assert torch.isnan(theirs(logits, labels)), "the positive term is expected to be NaN (B12)"
    theirs.criterion = ZeroTerm()
    ours = build_loss("nlnl", K, ln_neg=ln_neg, class_counts=counts.tolist())
    torch.manual_seed(5)
    v_theirs, g_theirs = value_and_grad(theirs, logits, labels)
    torch.manual_seed(5)
    v_ours, g_ours = value_and_grad(ours, logits, labels)
    # their weights are 1/(n_c / max n) = max n / n_c, as ours; their NLL mean over
    # batch*ln_neg terms times batch*ln_neg, divided by the batch, is our per-sample sum's mean
    assert torch.allclose(v_ours, v_theirs, rtol=1e-6, atol=1e-6), (v_ours, v_theirs)
    assert torch.allclose(g_ours, g_theirs, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------- models
MODELS = {"mnist": (cnn4, (1, 28, 28)), "cifar10": (cnn8, (3, 32, 32))}


def copy_weights(source: torch.nn.Module, dest: torch.nn.Module) -> None:
    """Their SCEModel and our ConvNet hold the same tensors in the same order (conv, BN, ...,
    FC, BN1d, FC); copy by position, checking every shape."""
    src, dst = list(source.state_dict().values()), dest.state_dict()
    assert len(src) == len(dst)
    for (name, tensor), value in zip(dst.items(), src, strict=False):
        assert tensor.shape == value.shape, name
        tensor.copy_(value)


@pytest.mark.parametrize("dataset", sorted(MODELS))
def test_models_compute_the_same_function(dataset):
    factory, shape = MODELS[dataset]
    theirs, ours = ref_model.SCEModel(type=dataset), factory()
    copy_weights(theirs, ours)
    x = torch.randn(16, *shape, generator=torch.Generator().manual_seed(0))
    for mode in ("train", "eval"):
        getattr(theirs, mode)(), getattr(ours, mode)()
        assert torch.allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-5), mode
    # train mode moved the BN running statistics of both by the same amount
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values(), strict=False):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)


@pytest.mark.parametrize("dataset", sorted(MODELS))
def test_models_initialise_identically_from_the_same_seed(dataset):
    """The same initialisation law, and more: the same random calls in the same order."""
    factory, _ = MODELS[dataset]
    torch.manual_seed(123)
    theirs = ref_model.SCEModel(type=dataset)
    torch.manual_seed(123)
    ours = factory()
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values(), strict=False):
        assert torch.equal(a, b)


# ----------------------------------------------------------------------------- training steps
class Loader(list):
    """A fixed list of batches standing in for their DataLoader (NLNL reads .dataset.targets)."""

    def __init__(self, batches):
        super().__init__(batches)
        self.dataset = types.SimpleNamespace(targets=torch.cat([y for _, y in batches]).numpy())


def fixed_batches(shape, n_batches: int, batch: int, K: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(batch, *shape, generator=g), torch.randint(0, K, (batch,), generator=g))
        for _ in range(n_batches)
    ]


def their_training(tmp_path, cfg, dataset, batches, init, stop_after=None):
    """Their train() itself (optimiser, weight decay, clipping, schedule and loop), fed our
    batches and our initial weights in place of its data set and its fresh model."""
    argv = official_apl.reference_argv(cfg, data_path=tmp_path / "data")
    module = official_apl.import_reference_train(
        argv, tmp_path, tuple(official_apl.optimiser_edits(cfg))
    )
    loaders = {"train_dataset": Loader(batches), "test_dataset": [batches[0]]}
    module.DatasetGenerator = lambda **kwargs: types.SimpleNamespace(getDataLoader=lambda: loaders)
    model = ref_model.SCEModel(type=dataset)
    model.load_state_dict(init)
    module.SCEModel = lambda type: model
    epochs_done, optimizers, sgd = [], [], module.torch.optim.SGD

    def optimizer(*args, **kwargs):  # their SGD, kept to check what it was built with
        optimizers.append(sgd(*args, **kwargs))
        return optimizers[-1]

    module.torch = types.SimpleNamespace(
        **{
            **vars(module.torch),
            "optim": types.SimpleNamespace(**{**vars(module.torch.optim), "SGD": optimizer}),
        }
    )

    def dump(history, handle, protocol=None):  # their epoch end
        epochs_done.append(len(history["test_acc"]))
        if stop_after and epochs_done[-1] >= stop_after:
            raise official_apl.StopAfter

    module.pickle = types.SimpleNamespace(dump=dump, HIGHEST_PROTOCOL=5)
    official_apl.run_their_train(module, tmp_path)
    return model, epochs_done[-1], module.args, optimizers[0]


def our_training(cfg, factory, batches, init, epochs):
    """This project's step (engine.step), optimiser and schedule (engine.optim), as train.py
    uses them, on the same batches in the same order."""
    model = factory()
    copy_weights(init, model)
    criterion = build_loss(cfg["loss.name"], 10, **loss_kwargs(cfg))
    optimizer, scaler = build_optimizer(model, cfg), torch.amp.GradScaler("cpu", enabled=False)
    scheduler = build_scheduler(optimizer, cfg)
    for _ in range(epochs):
        model.train()
        for x, y in batches:
            _, loss, _ = forward(model, criterion, x, y, "none")
            backward(loss, model, optimizer, scaler, cfg["optim.grad_clip"])
            optimizer_step(optimizer, scaler)
        scheduler.step()
    return model, optimizer


TRAINING_CASES = [
    ("mnist", loss, None, "paper") for loss in ("ce", "gce", "mae", "nce", "nce+rce", "nfl+mae")
]
TRAINING_CASES += [("cifar10", loss, 3, "paper") for loss in ("ce", "nce+rce")]
# The authors' release recipe (weight decay 1e-2, Nesterov), run through the harness's edits of
# their train.py; release-full adds NCE's scale 10 (their --alpha).
TRAINING_CASES += [
    ("mnist", "nce", None, "release"),
    ("mnist", "nce+rce", 5, "release"),
    ("mnist", "nce", 5, "release-full"),
]


@pytest.mark.slow
@pytest.mark.parametrize("dataset,loss,stop_after,recipe", TRAINING_CASES)
def test_training_equals_the_authors_train(tmp_path, dataset, loss, stop_after, recipe):
    """MNIST: their whole 50-epoch schedule over 2 batches an epoch (100 steps, lr from 0.01
    down to eta_min 0.001). CIFAR-10: the first 3 epochs of their 120-epoch schedule."""
    factory, shape = MODELS[dataset]
    cfg = load_config(
        REPO / "configs" / dataset / "sym" / f"{loss}.yaml",
        overrides={"noise.rate": 0.8 if dataset == "mnist" else 0.4, "recipe": recipe},
    )
    batches = fixed_batches(shape, 2 if dataset == "mnist" else 1, 32 if dataset == "mnist" else 8)
    torch.manual_seed(7)
    init = ref_model.SCEModel(type=dataset).state_dict()
    theirs, epochs, args, their_sgd = their_training(
        tmp_path, cfg, dataset, batches, init, stop_after
    )
    assert epochs == (stop_after or cfg["train.epochs"]) and args.epoch == cfg["train.epochs"]
    assert args.grad_bound == cfg["optim.grad_clip"]
    # what their SGD was built with, against the recipe's values written out by hand
    wd, nesterov = {"paper": (1e-3 if dataset == "mnist" else 1e-4, False)}.get(
        recipe, (1e-2, True)
    )
    group = their_sgd.param_groups[0]
    assert (group["weight_decay"], group["nesterov"], group["momentum"]) == (wd, nesterov, 0.9)
    assert (cfg["optim.weight_decay"], cfg["optim.nesterov"]) == (wd, nesterov)
    if recipe == "release-full":
        assert args.alpha == 10.0 == cfg["loss.scale"]
    ours, optimizer = our_training(cfg, factory, batches, _module_with(init, dataset), epochs)
    # The same arithmetic in another order drifts by rounding only: every tensor must agree to
    # 0.1 % of the distance training moved it (a bug in a loss, the optimiser, the clipping or
    # the schedule moves it by a different amount altogether).
    for (name, a), b, start in zip(
        ours.state_dict().items(), theirs.state_dict().values(), init.values(), strict=False
    ):
        moved = float((b.double() - start.double()).abs().max())
        diff = float((a.double() - b.double()).abs().max())
        assert diff <= 1e-3 * moved + 1e-6, f"{name}: differs by {diff:.2e}, moved {moved:.2e}"
    assert any(
        not torch.equal(b, start)
        for b, start in zip(theirs.state_dict().values(), init.values(), strict=False)
    ), "training did not move anything"
    if dataset == "mnist" and stop_after is None:
        assert optimizer.param_groups[0]["lr"] == pytest.approx(cfg["schedule.eta_min"])


def _module_with(state, dataset):
    model = ref_model.SCEModel(type=dataset)
    model.load_state_dict(state)
    return model


# --------------------------------------------------------------------------------- noisy labels
def their_noisy_targets(dataset: str, root: Path, rate: float, asym: bool, seed: int):
    """Their noisy training set, built as their DatasetGenerator builds it: the global NumPy
    generator seeded with `seed` first (their symmetric noise and CIFAR-10's asymmetric noise
    draw from it; MNIST and CIFAR-100 asymmetric noise use RandomState(seed))."""
    np.random.seed(seed)
    if dataset == "mnist":
        made = ref_dataset.MNISTNoisy(root=str(root), nosiy_rate=rate, asym=asym, seed=seed)
    elif dataset == "cifar10":
        made = ref_dataset.cifar10Nosiy(root=str(root), nosiy_rate=rate, asym=asym)
    else:
        made = ref_dataset.cifar100Nosiy(root=str(root), nosiy_rate=rate, asym=asym, seed=seed)
    return np.asarray(made.targets, dtype=np.int64)


def assert_same_noise(dataset, root, rate, asym, seed, clean, K):
    theirs = their_noisy_targets(dataset, root, rate, asym, seed)
    ours = make_noisy_labels(
        clean, "asymmetric" if asym else "symmetric", rate, K, dataset=dataset, seed=seed
    ).labels
    assert np.array_equal(ours, theirs), f"{(ours != theirs).sum()} labels differ"
    assert (theirs != clean).mean() > 0.3 * rate  # the comparison is not between clean sets


@pytest.fixture(scope="module")
def linked_real_data(real_data_root, tmp_path_factory):
    return official_apl.link_data(real_data_root, tmp_path_factory.mktemp("official-data"))


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
@pytest.mark.parametrize(
    "asym,rate,seed", [(False, 0.2, 0), (False, 0.8, 123), (True, 0.1, 0), (True, 0.4, 515)]
)
def test_noisy_labels_equal_the_authors_on_real_data(linked_real_data, dataset, asym, rate, seed):
    from datasets import load_dataset

    data = load_dataset(dataset, linked_real_data)
    assert_same_noise(
        dataset, linked_real_data, rate, asym, seed, data.train_labels, data.num_classes
    )


@pytest.mark.parametrize("asym,rate", [(False, 0.4), (True, 0.4), (True, 0.2)])
def test_noisy_labels_equal_the_authors_cifar100(tmp_path, asym, rate):
    """CIFAR-100 (not available here) from a small file set in its real layout, through their
    class mapping (blocks of 5 consecutive indices) and their per-sample noisifier."""
    from fake_data import write_fake_cifar100

    from datasets import load_dataset

    write_fake_cifar100(tmp_path, n_train=3000, n_test=100)
    data = load_dataset("cifar100", tmp_path)
    assert_same_noise("cifar100", tmp_path, rate, asym, 3, data.train_labels, 100)


# ------------------------------------------------------------------------------------ harness
def harness_run(out, root, stop_after, resume=False):
    cfg = load_config(
        REPO / "configs" / "mnist" / "sym" / "nce+rce.yaml",
        overrides={"noise.rate": 0.4, "train.seed": 3, "dataset.root": str(root)},
    )
    return official_apl.run(cfg, out, stop_after=stop_after, resume=resume)


def rows_without_time(out):
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in rows]


@pytest.mark.slow
def test_harness_records_their_run_and_resumes_bit_exactly(tmp_path):
    """Their train.py on a small MNIST in the real layout: stopped after 2 epochs and resumed
    to 3, it ends exactly where an uninterrupted 3-epoch run ends; the 50-epoch schedule is
    not shortened; the record says which code ran and that the noisy labels are ours."""
    from fake_data import write_fake_mnist

    root = write_fake_mnist(tmp_path / "data", n_train=300, n_test=60)
    straight = harness_run(tmp_path / "straight", root, stop_after=3)
    harness_run(tmp_path / "cut", root, stop_after=2)
    assert len(rows_without_time(tmp_path / "cut")) == 2
    resumed = harness_run(tmp_path / "cut", root, stop_after=3, resume=True)
    assert rows_without_time(tmp_path / "cut") == rows_without_time(tmp_path / "straight")
    a = torch.load(tmp_path / "straight" / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    for result in (straight, resumed):
        assert result["code"] == "official-apl" and result["status"] == "stopped_early"
        assert (result["epochs_run"], result["schedule_epochs"]) == (3, 50)
        assert result["noise"]["noise_match"] and result["noise"]["realised_rate"] > 0.35
        # MNIST's default recipe, release: their train.py edited for it, and recorded so
        assert (result["recipe"], result["edits"]) == (
            "release",
            [
                "MNIST weight decay 0.01 instead of the hard-coded 1e-3",
                "SGD with Nesterov momentum (their code has none)",
            ],
        )
    lrs = [r["lr"] for r in rows_without_time(tmp_path / "straight")]
    # cosine from 0.01 towards 0.001 over 50 epochs: lr of epoch 2 is eta + (lr0-eta)(1+cos(pi/50))/2
    assert lrs[0] == 0.01 and lrs[1] == pytest.approx(0.001 + 0.009 * (1 + np.cos(np.pi / 50)) / 2)


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_test_inputs_equal_their_transforms(linked_real_data, dataset):
    """The tensors the models see: their ToTensor + Normalize through their DataLoader against
    this project's uint8-on-device normaliser (datasets/device.py), on the real test set."""
    from datasets import load_dataset, make_data_source

    np.random.seed(0)
    theirs = ref_dataset.DatasetGenerator(
        batchSize=128,
        dataPath=str(linked_real_data),
        numOfWorkers=0,
        noise_rate=0.0,
        seed=0,
        dataset_type=dataset,
    ).getDataLoader()["test_dataset"]
    data = load_dataset(dataset, linked_real_data)
    ours = make_data_source("fast", data.test_images, data, "none", "cpu").eval_batches(256)
    for (x_theirs, y_theirs), (x_ours, index), _ in zip(theirs, ours, range(3), strict=False):
        assert torch.equal(y_theirs, torch.from_numpy(data.test_labels[index]))
        assert torch.allclose(x_ours, x_theirs, atol=2e-6), (x_ours - x_theirs).abs().max()


# ------------------------------------------------------------------------- recipes, refusals
def test_release_recipe_edits_their_optimiser_and_paper_recipe_edits_nothing():
    """The paper-era recipe runs their train.py as it is (no edits); release edits MNIST's
    hard-coded weight decay and their SGD call, each matching exactly once in the archive."""
    cfg = load_config(REPO / "configs/mnist/sym/nce.yaml", overrides={"recipe": "paper"})
    assert official_apl.optimiser_edits(cfg) == []
    release = load_config(REPO / "configs/mnist/sym/nce.yaml")  # MNIST's default recipe
    edits = official_apl.optimiser_edits(release)
    assert [why for *_, why in edits] == [
        "MNIST weight decay 0.01 instead of the hard-coded 1e-3",
        "SGD with Nesterov momentum (their code has none)",
    ]
    source = (official_apl.patched_copy(tuple(edits)) / "train.py").read_text()
    assert "args.l2_reg = 0.01\n" in source and "nesterov=True" in source
    assert "nesterov" not in (official_apl.patched_copy() / "train.py").read_text()


@pytest.mark.parametrize(
    "sets,match",
    [
        (["train.epochs=3"], r"cannot run train.epochs=3 \(it hard-codes 50 for mnist\)"),
        (["optim.momentum=0.5"], r"cannot run optim.momentum=0.5 \(it hard-codes 0.9"),
        (["train.amp=bf16"], r"cannot run train.amp='bf16'"),
        (["loss.logit_clip=1.0"], r"has no loss option logit_clip"),
    ],
)
def test_harness_refuses_a_setting_their_code_would_not_train(tmp_path, sets, match):
    cfg = load_config(REPO / "configs/mnist/sym/nce+rce.yaml", sets=sets)
    with pytest.raises(SystemExit, match=match):
        official_apl.run(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.fixture
def small_mnist(tmp_path):
    from fake_data import write_fake_mnist

    return write_fake_mnist(tmp_path / "data", n_train=300, n_test=60)


def harness_config(root, loss="nce+rce", seed=3):
    return load_config(
        REPO / "configs" / "mnist" / "sym" / f"{loss}.yaml",
        overrides={"noise.rate": 0.4, "train.seed": seed, "dataset.root": str(root)},
    )


@pytest.mark.slow
def test_harness_refuses_to_resume_or_skip_a_run_of_another_config(tmp_path, small_mnist, capsys):
    """Issue 25: --resume into the folder of another loss used to resume it (only the label hash
    was checked) and rewrite its config.yaml; a finished folder answered "nothing to do" to any
    config. Both are refused now, naming the keys that differ, and nothing is rewritten."""
    out = tmp_path / "run"
    official_apl.run(harness_config(small_mnist), out, stop_after=1)
    saved = (out / "config.yaml").read_text()
    with pytest.raises(SystemExit, match=r"refusing to resume .*loss.name: 'nce\+rce' -> 'ce'"):
        official_apl.run(harness_config(small_mnist, "ce"), out, stop_after=2, resume=True)
    assert (out / "config.yaml").read_text() == saved
    assert len(rows_without_time(out)) == 1
    base = [
        "--noise-rate",
        "0.4",
        "--seed",
        "3",
        "--data-root",
        str(small_mnist),
        "--out",
        str(out),
    ]
    finished = tmp_path / "finished"
    official_apl.run(harness_config(small_mnist), finished)  # the whole 50 epochs
    assert (
        official_cli.main(
            [
                "--config",
                str(REPO / "configs/mnist/sym/nce+rce.yaml"),
                *base[:-1],
                str(finished),
                "--resume",
            ]
        )
        == 0
    )
    assert "already finished" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"holds a different finished run; differences: .*loss"):
        official_cli.main(
            [
                "--config",
                str(REPO / "configs/mnist/sym/ce.yaml"),
                *base[:-1],
                str(finished),
                "--resume",
            ]
        )


@pytest.mark.slow
def test_harness_takes_the_run_lock(tmp_path, small_mnist):
    from engine.errors import OutputDirError
    from engine.rundir import RunLock

    out = tmp_path / "run"
    lock = RunLock(out).acquire()  # another process training this run
    try:
        with pytest.raises(OutputDirError, match="is in use by another process"):
            official_apl.run(harness_config(small_mnist), out, stop_after=1)
    finally:
        lock.release()
    assert not (out / "metrics.jsonl").exists()


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--config", "configs/mnist/sym/nope.yaml"], "config file not found"),
        (
            ["--config", "configs/mnist/sym/ce.yaml", "--noise-rate", "1.5"],
            r"noise.rate' must be in \[0, 1\)",
        ),
        (
            ["--config", "configs/mnist/sym/ce.yaml", "--set", "optim.lrr=1"],
            "unknown config key 'optim.lrr'",
        ),
        (["--config", "configs/mnist/sym/ce.yaml", "--recipe", "fast"], "has no recipe 'fast'"),
    ],
)
def test_harness_answers_bad_input_in_one_line(tmp_path, argv, match, capsys):
    argv = [a if not a.startswith("configs/") else str(REPO / a) for a in argv]
    with pytest.raises(SystemExit) as e:
        official_cli.main(argv + ["--out", str(tmp_path / "run")])
    assert e.value.code != 0 and "\n" not in str(e.value)
    assert e.value.code and __import__("re").search(match, str(e.value))
    assert not (tmp_path / "run").exists()


def test_harness_refuses_a_data_root_without_the_dataset_before_writing(tmp_path):
    with pytest.raises(SystemExit, match=r"error: .*MNIST"):
        official_cli.main(
            [
                "--config",
                str(REPO / "configs/mnist/sym/ce.yaml"),
                "--data-root",
                str(tmp_path / "empty"),
                "--out",
                str(tmp_path / "run"),
            ]
        )
    assert not (tmp_path / "run").exists()
