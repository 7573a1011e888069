"""The experiment builder: the one module of engine/ that reaches into the domain packages
(datasets, noise, models, losses). Everything else in engine/ is machinery.

    cfg = load_config("configs/mnist/sym/nce+rce.yaml", overrides={"noise.rate": 0.8})
    exp = build_experiment(cfg, device)      # data, noisy labels, batch sources, model, loss

train.py trains `exp`; evaluate.py rebuilds the data, model and evaluation sets of a checkpoint
with `load_data`, `build_network` and `eval_sources`; scripts/benchmark.py times a step of the
model and loss that `build_network` and `build_criteria` make.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from datasets import DATASETS, load_dataset, make_data_source
from losses import build_loss, loss_label, train_label_params
from models import MODELS, build_model
from noise import (
    NOISE_KINDS,
    compare_estimate,
    estimate_noise,
    kind_inputs,
    make_noisy_labels,
    realised_transition,
)

from . import seeds
from .config import closest, loss_kwargs, resolve_config
from .distributed import Dist, convert_sync_batchnorm
from .errors import ConfigError, UserError
from .evaluation import predict_probs
from .record import RunCoordinates, baseline_config, coordinates, variant_label
from .runtime import use_channels_last

__all__ = [
    "Experiment",
    "SourceFactory",
    "build_experiment",
    "load_config",
    "load_data",
    "build_network",
    "build_criteria",
    "eval_sources",
    "noise_estimate",
    "run_coordinates",
    "subset_indices",
    "noisy_val_split",
    "dataset_options",
]


# ---- the config, checked against the registries ----------------------------------------------


def load_config(
    path=None,
    overrides: dict | None = None,
    sets: list[str] | None = None,
    notes: list | None = None,
) -> dict:
    """engine.config.resolve_config (schema, inheritance, overrides), then the names checked
    against the registries, and the loss and the warm-up loss built once: build_loss is the one
    check of a loss's name, parameters and their ranges."""
    resolved = resolve_config(path, overrides=overrides, sets=sets, notes=notes)
    check_names(resolved)
    K = resolved["dataset.num_classes"]
    try:
        build_loss(resolved["loss.name"], K, **loss_kwargs(resolved))
        if resolved["loss.warmup_epochs"]:
            build_loss(resolved["loss.warmup_loss"], K)
    except ValueError as e:
        raise ConfigError(f"loss config: {e}") from None
    return resolved


def run_coordinates(cfg: dict, config_path=None) -> RunCoordinates:
    """Where a run of `cfg` belongs (engine/record.py): its loss with its options, and what it
    changed against its config file `config_path` (the recipe, --set, --epochs, ...) as the
    variant; no variant without a config file."""
    variant = (
        ""
        if config_path is None
        else variant_label(cfg, baseline_config(config_path, cfg, load_config))
    )
    return coordinates(cfg, loss_label(cfg["loss.name"], loss_kwargs(cfg)), variant)


def check_names(resolved: dict) -> None:
    """Dataset, noise kind and model names; fills in the dataset's class count and model."""
    if resolved["dataset.name"] is None:
        raise ConfigError(
            f"config key 'dataset.name' is required (one of {', '.join(sorted(DATASETS))})"
        )
    for key, registry in {"dataset.name": DATASETS, "noise.kind": NOISE_KINDS}.items():
        if resolved[key] not in registry:
            raise ConfigError(
                f"config key {key!r}: unknown value {resolved[key]!r}"
                f"{closest(resolved[key], registry)} "
                f"(valid: {', '.join(sorted(registry))})"
            )
    if resolved["model.name"] is not None and resolved["model.name"] not in MODELS:
        raise ConfigError(
            f"config key 'model.name': unknown model {resolved['model.name']!r}"
            f"{closest(resolved['model.name'], MODELS)} "
            f"(valid: {', '.join(sorted(MODELS))})"
        )
    spec = DATASETS[resolved["dataset.name"]]
    if resolved["dataset.num_classes"] not in (None, spec.num_classes):
        raise ConfigError(
            f"config key 'dataset.num_classes' is {resolved['dataset.num_classes']} "
            f"but {resolved['dataset.name']} has {spec.num_classes} classes; "
            f"remove the key or set it to {spec.num_classes}"
        )
    resolved["dataset.num_classes"] = spec.num_classes
    if resolved["model.name"] is None:
        resolved["model.name"] = spec.default_model


# ---- data -----------------------------------------------------------------------------------


def dataset_options(cfg: dict, test_root: str | None = None) -> dict:
    """load_dataset's options for datasets read as files (webvision_mini)."""
    return {
        "test_root": test_root or cfg["dataset.test_root"],
        "image_size": cfg["dataset.image_size"],
        "decode": cfg["dataset.decode"],
    }


def load_data(cfg: dict, root=None, test_root: str | None = None):
    """The dataset of a config (its root, or `root`), as datasets.load_dataset returns it."""
    return load_dataset(
        cfg["dataset.name"],
        root or cfg["dataset.root"],
        download=cfg["dataset.download"],
        options=dataset_options(cfg, test_root),
    )


def subset_indices(n: int, size: int | None) -> np.ndarray | None:
    if size is None:
        return None
    if size > n:
        raise ConfigError(
            f"dataset.train_subset is {size} but the training set has only {n} samples"
        )
    return np.sort(np.random.RandomState(seeds.SUBSET_SEED).permutation(n)[:size])


def noisy_val_split(n: int, fraction: float, seed: int):
    """(train indices, validation indices): a fixed random split of the noisy training set,
    a function of (n, fraction, noise seed) only. Validation samples keep their noisy labels
    and are excluded from training (the paper's selection protocol, spec §4.1, used 20 %)."""
    if fraction <= 0:
        return np.arange(n), None
    order = np.random.RandomState(seeds.val_split_seed(seed)).permutation(n)
    size = int(round(fraction * n))
    if size < 1 or size >= n:
        raise ConfigError(
            f"dataset.noisy_val_fraction {fraction} leaves no validation or no "
            f"training samples out of {n}"
        )
    return np.sort(order[size:]), np.sort(order[:size])


def make_noise(cfg: dict, images, clean: np.ndarray, subset, num_classes: int, seed: int):
    """The noisy training labels (noise.NoisyLabels) of the config's kind, rate and seed."""
    settings = {
        "dataset": cfg["dataset.name"],
        "root": cfg["dataset.root"],
        "label_file": cfg["noise.label_file"],
        "label_set": cfg["noise.label_set"],
        "norm_std": cfg["noise.norm_std"],
    }
    try:
        extra = kind_inputs(cfg["noise.kind"], settings, images, subset)
        return make_noisy_labels(
            clean,
            cfg["noise.kind"],
            cfg["noise.rate"],
            num_classes,
            dataset=cfg["dataset.name"],
            seed=seed,
            variant=cfg["noise.variant"],
            **extra,
        )
    except ValueError as e:
        raise UserError(f"noise config: {e}") from None


def eval_sources(data, source) -> dict:
    """{name: (batch source, labels on the device)}: the test set, then any further evaluation
    set of the dataset (WebVision val), each reported every epoch."""
    sets = {"test": (data.test_images, data.test_labels), **data.extra_eval}
    return {
        name: (source(images, "none"), torch.from_numpy(labels).to(source.device))
        for name, (images, labels) in sets.items()
    }


# ---- model and loss ---------------------------------------------------------------------------


def build_network(cfg: dict, data, device: torch.device, dist: Dist | None = None):
    """The config's model for the dataset, on the device, in its memory format (global-batch
    BatchNorm with train.sync_bn under torchrun)."""
    model = build_model(cfg["model.name"], data.num_classes, data.in_channels, data.image_size)
    if dist is not None and dist.enabled and cfg["train.sync_bn"]:
        model = convert_sync_batchnorm(model, device)
    model = model.to(device)
    if use_channels_last(cfg["train.channels_last"], device):
        model = model.to(memory_format=torch.channels_last)
    return model


def build_criteria(cfg: dict, num_classes: int, train_labels, device, model=None) -> dict:
    """{phase: loss}: phase 1 the configured loss, phase 0 the warm-up loss when
    loss.warmup_epochs is set (DMI's CE stage). A loss that derives parameters from the noisy
    training labels (NLNL's class counts) gets them here, unless the config sets them; a loss
    with a penalty on the model (ANL's l1) gets `model`'s parameters."""
    params = {**train_label_params(cfg["loss.name"], train_labels, num_classes), **loss_kwargs(cfg)}
    criteria = {1: build_loss(cfg["loss.name"], num_classes, **params).to(device)}
    if model is not None:
        criteria[1].penalise(model.parameters())
    if cfg["loss.warmup_epochs"]:
        criteria[0] = build_loss(cfg["loss.warmup_loss"], num_classes).to(device)
    return criteria


# ---- the whole experiment -------------------------------------------------------------------


@dataclass
class Experiment:
    """What a run trains on and with. `noisy.labels` and `clean_all` cover the whole (subset)
    training set; `train_idx` is the part trained on (all of it unless a noisy validation split
    is held out) and `val_idx` the held-out part."""

    cfg: dict
    device: torch.device
    data: object  # datasets.DatasetArrays
    noisy: object  # noise.NoisyLabels of the whole training set
    noise_summary: dict
    clean_all: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray | None
    train_images: object
    train_set: object  # batch source of the trained-on part
    eval_sets: dict  # name -> (batch source, labels on the device)
    noisy_t: torch.Tensor  # noisy labels of the trained-on part, on the device
    clean_t: torch.Tensor
    model: torch.nn.Module
    criteria: dict
    source: object = field(repr=False, default=None)  # (images, augment) -> batch source
    val_set: object = None  # (batch source, noisy labels on the device)

    @property
    def num_classes(self) -> int:
        return self.data.num_classes


class SourceFactory:
    """make_data_source with the run's pipeline, device, memory format, workers and rank."""

    def __init__(self, cfg: dict, data, device, rank: int = 0, pipeline: str | None = None):
        self.data, self.device, self.rank = data, device, rank
        self.pipeline = pipeline or cfg["dataset.pipeline"]
        self.channels_last = use_channels_last(cfg["train.channels_last"], device)
        self.workers = cfg["dataset.workers"]

    def __call__(self, images, augment: str):
        return make_data_source(
            self.pipeline,
            images,
            self.data,
            augment,
            self.device,
            self.channels_last,
            self.workers,
            rank=self.rank,
            step_seed=seeds.decode_step_seed,
        )


def build_experiment(cfg: dict, device: torch.device, dist: Dist | None = None) -> Experiment:
    """Data (with the subset), noisy labels, the held-out noisy split, batch sources, model and
    loss, in the order that fixes what the global RNG draws (the model's initial weights)."""
    dist = dist or Dist()
    data = load_data(cfg)
    images, clean = data.train_images, data.train_labels
    subset = subset_indices(len(clean), cfg["dataset.train_subset"])
    if subset is not None:
        images, clean = images[torch.from_numpy(subset)], clean[subset]
    noise_seed = seeds.noise_seed(cfg["train.seed"], cfg["noise.seed"])
    noisy = make_noise(cfg, images, clean, subset, data.num_classes, noise_seed)
    train_idx, val_idx = noisy_val_split(len(clean), cfg["dataset.noisy_val_fraction"], noise_seed)
    source = SourceFactory(cfg, data, device, dist.rank)
    val_set = None
    if val_idx is not None:
        val_set = (
            source(images[torch.from_numpy(val_idx)], "none"),
            torch.from_numpy(noisy.labels[val_idx]).to(device),
        )
        images = images[torch.from_numpy(train_idx)]
    train_set = source(images, data.augment)
    evaluation_sets = eval_sources(data, source)
    model = build_network(cfg, data, device, dist)
    train_noisy = noisy.labels[train_idx]
    return Experiment(
        cfg=cfg,
        device=device,
        data=data,
        noisy=noisy,
        noise_summary=noisy.summary(),
        clean_all=clean,
        train_idx=train_idx,
        val_idx=val_idx,
        train_images=images,
        train_set=train_set,
        eval_sets=evaluation_sets,
        noisy_t=torch.from_numpy(train_noisy).to(device),
        clean_t=torch.from_numpy(clean[train_idx]).to(device),
        model=model,
        criteria=build_criteria(cfg, data.num_classes, train_noisy, device, model),
        source=source,
        val_set=val_set,
    )


# ---- after training -------------------------------------------------------------------------


def noise_estimate(exp: Experiment, model) -> dict | None:
    """The confident-joint estimate of the noise from the final model, beside the injected
    noise: out of sample on the held-out noisy split when there is one, else on the training
    set, marked in-sample. None for real-world noisy labels (nothing injected to compare)."""
    if exp.data.labels_are_noisy:
        return None
    if exp.val_idx is not None:
        idx, images = exp.val_idx, exp.val_set[0]
        sample = f"noisy validation split ({len(idx)} held-out samples)"
        out_of_sample = True
    else:
        # K-fold cross-validation would cost K more trainings
        idx, images = exp.train_idx, exp.source(exp.train_images, "none")
        sample = (
            "IN-SAMPLE: the training set the model fitted (set dataset.noisy_val_fraction "
            "for an out-of-sample estimate); memorised flips look clean, so the rate is "
            "under-estimated"
        )
        out_of_sample = False
    noisy, clean, K = exp.noisy.labels[idx], exp.clean_all[idx], exp.num_classes
    probs = predict_probs(
        model, images, len(clean), exp.cfg["train.eval_batch_size"], exp.cfg["train.amp"]
    )
    return compare_estimate(
        estimate_noise(probs, noisy, K),
        realised_transition(clean, noisy, K),
        float(np.mean(noisy != clean)),
        sample,
        out_of_sample,
    )
