"""Configs: plain nested YAML, one schema, inheritance, command-line overrides, strict validation.

A config file may start with `inherit: <path>` (relative to the file); the child's values are
merged over the parent's, recursively, except that a child's `loss:` block replaces the
parent's (so it must name its loss; one that does not is an error saying so). Every key must be
in SCHEMA, except the free-form loss parameters under `loss:`, which are checked against the
chosen loss's own parameters.
Overrides use dotted keys: `--set optim.lr=0.05 loss.alpha=10` (values parsed as YAML).

A recipe is a named set of values from the config's `recipes:` table (configs/base/mnist.yaml
holds the MNIST ones): `recipe: release` (or `--recipe release`) applies that entry over the
file's values; explicit overrides still win. `paper`, the default, is the file's own values.
The resolved config keeps the name (`recipe`) and the values, not the table.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


@dataclass(frozen=True)
class Field:
    type: type | tuple  # accepted Python type(s) after YAML parsing
    default: Any
    check: Callable[[Any], str | None] | None = None  # returns an error message or None
    help: str = ""
    choices: tuple | None = None
    nullable: bool = False


def positive(v):
    return None if v > 0 else "must be > 0"


def non_negative(v):
    return None if v >= 0 else "must be >= 0"


def noise_rate(v):
    return None if 0 <= v < 1 else "must be in [0, 1) (a fraction of labels, e.g. 0.4)"


SCHEMA: dict[str, Field] = {
    # --- data ---
    "dataset.name": Field(str, None, help="dataset registry name (datasets.DATASETS)"),
    "dataset.root": Field(str, "data", help="folder holding the standard layouts"),
    "dataset.download": Field(bool, False, help="fetch through torchvision (needs internet)"),
    "dataset.num_classes": Field(
        int, None, positive, nullable=True, help="optional; must agree with the dataset"
    ),
    "dataset.train_subset": Field(
        int,
        None,
        positive,
        nullable=True,
        help="train on a fixed seeded random subset of this size",
    ),
    "dataset.pipeline": Field(
        str,
        "fast",
        choices=("fast", "reference"),
        help="fast: uint8 tensor on the device + batched augmentation; "
        "reference: the official Dataset/PIL/DataLoader pipeline",
    ),
    "dataset.noisy_val_fraction": Field(
        float,
        0.0,
        lambda v: None if 0 <= v < 1 else "must be in [0, 1)",
        help="hold out this fraction of the noisy training set "
        "for model selection (excluded from training)",
    ),
    "dataset.workers": Field(
        int, 0, non_negative, help="DataLoader workers (reference pipeline, datasets read as files)"
    ),
    "dataset.test_root": Field(
        str,
        None,
        nullable=True,
        help="webvision_mini: the ImageNet root holding ILSVRC2012 val "
        "(null: <dataset.root>/imagenet)",
    ),
    "dataset.decode": Field(
        str,
        "cpu",
        choices=("cpu", "device"),
        help="datasets read as files: decode+augment with PIL in the "
        "workers (cpu), or batched on the training device (device: "
        "torchvision.io.decode_jpeg, on the GPU under CUDA)",
    ),
    "dataset.image_size": Field(
        int,
        None,
        positive,
        nullable=True,
        help="datasets read as files: crop size (null: 224, the paper's)",
    ),
    # --- label noise ---
    "noise.kind": Field(str, "none", help="noise registry name (noise.NOISE_KINDS)"),
    "noise.rate": Field(float, 0.0, noise_rate),
    "noise.variant": Field(
        str,
        "reference",
        choices=("reference", "exact"),
        help="reference: what the official code produced; exact: nominal rates",
    ),
    "noise.label_set": Field(
        str,
        None,
        nullable=True,
        help="kind human: aggre|random1|random2|random3|worse (CIFAR-10N), noisy (CIFAR-100N)",
    ),
    "noise.label_file": Field(
        str,
        None,
        nullable=True,
        help="kind human: null = <dataset.root>/cifar-n/CIFAR-{10,100}_human.pt",
    ),
    "noise.norm_std": Field(
        float,
        0.1,
        positive,
        help="kind instance: std of the per-sample flip rate (Xia et al. 2020)",
    ),
    "noise.seed": Field(
        int,
        None,
        non_negative,
        nullable=True,
        help="null: use train.seed, so every seed has its own noise draw (D21)",
    ),
    # --- model ---
    "model.name": Field(str, None, nullable=True, help="null: the dataset's paper model"),
    # --- loss (other keys under loss: are the loss's parameters) ---
    "loss.name": Field(str, "ce"),
    "loss.warmup_epochs": Field(
        int,
        0,
        non_negative,
        help="train loss.warmup_loss for this many epochs first (DMI's CE pre-training, spec §3.6)",
    ),
    "loss.warmup_loss": Field(str, "ce", help="the warm-up loss, with its default parameters"),
    # --- optimiser and schedule ---
    "optim.lr": Field(float, 0.01, positive),
    "optim.momentum": Field(float, 0.9, lambda v: None if 0 <= v < 1 else "must be in [0, 1)"),
    "optim.weight_decay": Field(float, 1e-4, non_negative),
    "optim.nesterov": Field(bool, False),
    "optim.lr_after_warmup": Field(
        float,
        None,
        positive,
        nullable=True,
        help="null: one optimiser and schedule for the whole run; a "
        "number: the schedule spans the warm-up, then a fresh "
        "optimiser (momentum reset) at this constant lr (DMI: "
        "1e-6, spec §3.6)",
    ),
    "optim.grad_clip": Field(
        float,
        5.0,
        positive,
        nullable=True,
        help="global grad-norm clip (5.0 for every method in the paper)",
    ),
    "schedule.name": Field(str, "cosine", choices=("cosine", "step", "constant")),
    "schedule.eta_min": Field(float, 0.0, non_negative, help="cosine floor"),
    "schedule.gamma": Field(float, 0.97, positive, help="step decay factor"),
    "schedule.step_size": Field(int, 1, positive, help="epochs between step decays"),
    # --- training ---
    "train.epochs": Field(int, 120, positive),
    "train.batch_size": Field(int, 128, positive),
    "train.eval_batch_size": Field(int, 256, positive),
    "train.seed": Field(int, 0, non_negative),
    "train.device": Field(str, "auto", help="auto (cuda if available), cpu, cuda, cuda:N"),
    "train.amp": Field(str, "none", choices=("none", "bf16", "fp16")),
    "train.channels_last": Field(str, "auto", choices=("auto", "on", "off")),
    "train.compile": Field(bool, False),
    "train.deterministic": Field(
        bool,
        False,
        help="deterministic CUDA kernels (cuDNN without benchmark, "
        "cuBLAS workspace): bit-exact reruns, a little slower",
    ),
    "train.nan_policy": Field(
        str,
        "stop",
        choices=("stop", "skip"),
        help="stop: abort on a NaN/Inf loss or gradient; skip: skip the step",
    ),
    "train.threads": Field(
        int, None, positive, nullable=True, help="CPU threads (null: all cores)"
    ),
    "train.progress": Field(bool, True, help="tqdm progress bar"),
    "train.sync_bn": Field(
        bool,
        False,
        help="under torchrun: BatchNorm statistics over the whole batch of "
        "all processes (as in one process) instead of each process's "
        "share (see engine/distributed.py)",
    ),
    # --- the recipe: a named entry of the config's `recipes:` table ---
    "recipe": Field(
        str,
        "paper",
        help="paper: the config's own values; another name applies "
        "that entry of the config's `recipes:` table",
    ),
    # --- output ---
    "out": Field(str, None, nullable=True, help="run directory (null: runs/<derived name>)"),
}

# Keys whose value may change between an interrupted run and its resume.
# train.device too: a sweep that packs jobs onto GPUs (scripts/sweep.py --devices) may resume a
# run on another GPU than it started on; each epoch's device is in metrics.jsonl.
RESUME_MAY_DIFFER = {
    "dataset.root",
    "dataset.test_root",
    "dataset.download",
    "out",
    "train.progress",
    "dataset.workers",
    "train.threads",
    "train.device",
    "noise.label_file",
}


# Top-level entries that hold tables of dotted keys, consumed while resolving a config.
TABLES = ("per_rate", "recipes")


def flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if dotted in TABLES:
            flat[dotted] = value
        elif isinstance(value, dict) and dotted != "loss" and not dotted.startswith("loss."):
            flat.update(flatten(value, dotted + "."))
        elif isinstance(value, dict) and dotted == "loss":
            for k, v in value.items():
                flat[f"loss.{k}"] = v
        else:
            flat[dotted] = value
    return flat


def unflatten(flat: dict) -> dict:
    tree: dict = {}
    for dotted, value in flat.items():
        node = tree
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


def deep_merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        # A loss's parameters belong to that loss: a child's `loss:` block replaces the whole
        # parent block, so a CE twin of an NCE+RCE config does not inherit alpha/beta.
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "loss":
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def read_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"config file {path} is not a text (UTF-8) YAML file (byte {e.start} "
            f"is {e.object[e.start : e.start + 1]!r}); pass a .yaml config such "
            f"as configs/quickstart.yaml"
        ) from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        loc = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(
            f"malformed YAML in {path}{loc}: {problem}. Fix the syntax "
            f"(indentation, colons, quotes)"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config {path} must be a mapping of keys to values, got a {type(data).__name__}"
        )
    return data


def load_tree(path: str | Path, _seen: tuple = ()) -> dict:
    """Read a config file with its `inherit:` chain, merged, as a nested dict."""
    path = Path(path).resolve()
    if path in _seen:
        raise ConfigError(f"config inheritance loops through {path}")
    data = read_yaml(path)
    parent = data.pop("inherit", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"'inherit' in {path} must be a path string, got {parent!r}")
    base = load_tree(path.parent / parent, _seen + (path,))
    check_loss_block(path, data.get("loss"), base.get("loss"))
    return deep_merge(base, data)


def check_loss_block(path: Path, child, parent) -> None:
    """A child's `loss:` block replaces its parent's whole block (deep_merge): one that names
    only parameters would silently train the default loss with them, so say why it fails."""
    if not isinstance(child, dict) or not isinstance(parent, dict) or "name" in child:
        return
    if "name" not in parent:
        return
    given = ", ".join(f"loss.{k}" for k in child)
    raise ConfigError(
        f"config {path} sets {given or 'an empty loss block'} without loss.name, but "
        f"a child's `loss:` block replaces its parent's whole block (so the "
        f"parent's loss.name {parent['name']!r} and its parameters are not "
        f"inherited); repeat name and every parameter in the child's loss block, "
        f"or use --set {given.split(', ')[0] if given else 'loss.alpha'}=VALUE"
    )


def parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise ConfigError(f"--set expects key=value (e.g. optim.lr=0.05), got {item!r}")
    key, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def closest(key: str, candidates) -> str:
    match = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.5)
    return f"; did you mean {match[0]!r}?" if match else ""


NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)", re.IGNORECASE)


def as_number(value: Any) -> Any:
    """The one number parser of every key and loss parameter: PyYAML reads 1e-3 (no dot) as
    the string "1e-3"; a string that is a number becomes that number."""
    if isinstance(value, str) and NUMBER.fullmatch(value.strip()):
        number = float(value)
        return (
            int(number)
            if number.is_integer() and re.fullmatch(r"[+-]?\d+", value.strip())
            else number
        )
    return value


def coerce(key: str, value: Any, spec: Field) -> Any:
    if value is None:
        if spec.nullable or spec.default is None:
            return None
        raise ConfigError(f"config key {key!r} must not be null ({spec.type.__name__} expected)")
    expected = spec.type
    if expected in (float, int):
        value = as_number(value)
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key {key!r} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"config key {key!r} must be finite, got {value}")
    elif expected is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key {key!r} must be an integer, got {value!r}")
    elif expected is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key {key!r} must be true or false, got {value!r}")
    elif expected is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key {key!r} must be a string, got {value!r}")
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(
            f"config key {key!r} must be one of {list(spec.choices)}, "
            f"got {value!r}{closest(str(value), spec.choices)}"
        )
    if spec.check is not None:
        problem = spec.check(value)
        if problem:
            raise ConfigError(f"config key {key!r} {problem}, got {value!r}")
    return value


def validate(flat: dict) -> dict:
    """Check every schema key, type and value; return a complete flat config with defaults
    filled in and the loss parameters (loss.<param>, free-form here) passed through. The names
    (dataset, model, loss, noise kind) and the loss parameters are checked against the
    registries by engine.experiment.load_config."""
    resolved = {}
    for key, _value in flat.items():
        if is_loss_param(key):
            continue
        if key not in SCHEMA:
            raise ConfigError(
                f"unknown config key {key!r}{closest(key, SCHEMA)} "
                f"(valid keys: see engine/config.py SCHEMA)"
            )
    for key, spec in SCHEMA.items():
        resolved[key] = coerce(key, flat.get(key, spec.default), spec)
    if resolved["noise.kind"] == "none" and resolved["noise.rate"] != 0:
        raise ConfigError(
            f"noise.rate is {resolved['noise.rate']} but noise.kind is 'none'; "
            f"set noise.kind (e.g. symmetric) or noise.rate: 0"
        )
    warmup, epochs = resolved["loss.warmup_epochs"], resolved["train.epochs"]
    if warmup and warmup >= epochs:
        raise ConfigError(
            f"loss.warmup_epochs ({warmup}) must be below train.epochs ({epochs}): "
            f"train.epochs counts the warm-up too"
        )
    resolved.update({k: as_number(v) for k, v in flat.items() if is_loss_param(k)})
    return resolved


# Keys that decide what an experiment is; a config that leaves them out gets their defaults
# (clean-label CE) with a note saying so, rather than an error (README "Run a paper setting").
ESSENTIAL_KEYS = ("loss.name", "noise.kind")


def defaults_note(flat: dict) -> str | None:
    missing = [k for k in ESSENTIAL_KEYS if k not in flat]
    if not missing:
        return None
    used = ", ".join(f"{k}={SCHEMA[k].default}" for k in missing)
    return (
        f"note: the config names no {' / '.join(missing)}; using the default(s) {used} "
        f"(noise.kind=none is clean labels). Set them in the config or with --set"
    )


def resolve_config(
    path: str | Path | None = None,
    overrides: dict | None = None,
    sets: list[str] | None = None,
    notes: list | None = None,
) -> dict:
    """Load, merge and check against the schema. Returns the flat resolved config (dotted keys);
    a note on defaults filled in for essential keys is appended to `notes` when given.
    Use engine.experiment.load_config, which also checks the names against the registries."""
    tree = load_tree(path) if path is not None else {}
    flat = renamed(flatten(tree))
    explicit = {}
    for item in sets or []:
        key, value = parse_override(item)
        explicit[key] = value
    explicit.update({k: v for k, v in (overrides or {}).items() if v is not None})
    explicit = renamed(explicit)
    flat.update(explicit)
    apply_per_rate(flat, explicit)
    apply_recipe(flat, explicit, path)
    resolved = validate(flat)
    note = defaults_note(flat)
    if note and notes is not None:
        notes.append(note)
    return resolved


def apply_per_rate(flat: dict, explicit: dict) -> None:
    """`per_rate: {0.4: {loss.alpha: 0.1}}` sets values that the sources tie to one noise rate
    (e.g. CIFAR-10 asymmetric SCE, spec §4.3). Explicit --set/CLI values still win."""
    table = flat.pop("per_rate", None)
    if table is None:
        return
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise ConfigError(
            "'per_rate' must map a noise rate to a mapping of dotted keys to values, "
            "e.g. per_rate: {0.4: {loss.alpha: 0.1}}"
        )
    try:
        rate = float(flat.get("noise.rate", SCHEMA["noise.rate"].default))
        entries = {float(k): v for k, v in table.items()}
    except (TypeError, ValueError):
        raise ConfigError("'per_rate' keys and noise.rate must be numbers") from None
    for key, value in entries.get(rate, {}).items():
        if key not in explicit:
            flat[key] = value


PAPER_RECIPE = "paper"


def apply_recipe(flat: dict, explicit: dict, path) -> None:
    """`recipe: NAME` applies the entry NAME of the `recipes:` table (dotted keys to values)
    over the file's values; explicit --set/CLI values still win. A resolved config.yaml (every
    schema key present, the table gone) already holds its recipe's values and is left as is."""
    table = flat.pop("recipes", None)
    name = flat.get("recipe", PAPER_RECIPE)
    if table is not None and (
        not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values())
    ):
        raise ConfigError(
            "'recipes' must map a recipe name to a mapping of dotted keys to "
            "values, e.g. recipes: {release: {optim.weight_decay: 0.01}}"
        )
    if name == PAPER_RECIPE:
        return
    if not isinstance(name, str):
        raise ConfigError(f"config key 'recipe' must be a recipe name, got {name!r}")
    if table is None and "recipe" not in explicit and set(SCHEMA) <= set(flat):
        return
    available = [PAPER_RECIPE, *sorted(table or {})]
    if name not in (table or {}):
        where = f"config {path}" if path is not None else "the config"
        raise ConfigError(
            f"{where} has no recipe {name!r}{closest(name, available)} (its "
            f"recipes: {', '.join(available)}); pick one of them"
        )
    for key, value in flatten(table[name]).items():
        if key in ("recipe", *TABLES) or not (key in SCHEMA or is_loss_param(key)):
            raise ConfigError(
                f"recipe {name!r} sets {key!r}, which is not a config key{closest(key, SCHEMA)}"
            )
        if key not in explicit:
            flat[key] = value


def is_loss_param(key: str) -> bool:
    """A free-form key under loss: (a parameter of the chosen loss), not a SCHEMA key."""
    return key.startswith("loss.") and key not in SCHEMA


def loss_kwargs(cfg: dict) -> dict:
    return {k[len("loss.") :]: v for k, v in cfg.items() if is_loss_param(k)}


# Keys of earlier versions -> (where the value lives now, the old default, which is dropped).
RENAMED = {"optim.l1": ("loss.l1", 0.0)}  # ANL's L1 penalty became a loss option


def renamed(flat: dict) -> dict:
    """`flat` with the keys of earlier versions under their names of today."""
    flat = dict(flat)
    for old, (new, default) in RENAMED.items():
        if old in flat:
            value = flat.pop(old)
            if value != default:
                flat.setdefault(new, value)
    return flat


def with_defaults(cfg: dict) -> dict:
    """A config written by an older version of this code, renamed keys moved and every key
    added to SCHEMA since at the default it held then: the one place such configs are
    upgraded (checkpoints, run records)."""
    cfg = renamed(cfg)
    return {**{k: f.default for k, f in SCHEMA.items() if k not in cfg}, **cfg}


def config_diff(old: dict, new: dict, ignore=RESUME_MAY_DIFFER) -> list[str]:
    # a run from an older version resumes as long as each newer key keeps its default
    old = with_defaults(old)
    keys = sorted((set(old) | set(new)) - set(ignore))
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]


def to_yaml(cfg: dict) -> str:
    return yaml.safe_dump(unflatten(cfg), sort_keys=False)
