"""The authors' code (../shared/reference/official-apl/archive) run as a baseline, into this
project's run layout (the command line is scripts/official_apl.py).

The authors' `train.py` runs unchanged apart from the compatibility fixes its README lists
(`COMPAT_FIXES`, applied to a patched copy in a temporary folder; the copy in ../shared stays
untouched) and, for a recipe other than the paper-era one, the edits of its optimiser that the
recipe needs (`optimiser_edits`; both listed in result.json). This project's config chooses
what the authors' command line can express (the dataset, the loss and its parameters, the noise,
the seed, lr, weight decay, clipping); what their `train()` fixes otherwise must agree with the
config or the run is refused (`check_expressible`). Its own seeding is used
(`torch.manual_seed(seed)`, `np.random.seed(seed)` before the noise), so the noisy labels equal
this project's for the same seed (checked here; `noise_match` in result.json).

Hooks, all outside its code: `model_eval` is wrapped to keep the top-1/top-5 of each epoch; the
per-epoch `pickle.dump` of its history is the epoch-end hook that writes `metrics.jsonl`, a
checkpoint (model, optimiser, schedule, RNG states) and, after `--stop-after N` epochs, stops
without touching the cosine schedule's T_max; `train_fixed` is wrapped so that `--resume`
continues from that checkpoint bit-exactly (its DataLoader draws its order from the torch
generator, which the checkpoint holds). Accuracies are written in percent.

`import_reference("loss")` etc. give the authors' modules with the fixes, for the
side-by-side tests (tests/test_official.py) and scripts/benchmark.py.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import os
import pickle
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ARCHIVE = Path(
    os.environ.get(
        "OFFICIAL_APL", ROOT.parent / "shared" / "reference" / "official-apl" / "archive"
    )
)
CODE_NAME = "official-apl"

# (file, text, replacement, why): the fixes the reference README lists, nothing else.
COMPAT_FIXES = [
    (
        "utils/utils.py",
        "correct[:k].view(-1)",
        "correct[:k].reshape(-1)",
        "top-k on a transposed tensor: .view raises on current torch",
    ),
    (
        "dataset.py",
        "new_y[idx] = np.where(flipped == 1)[0]",
        "new_y[idx] = np.where(flipped == 1)[0][0]",
        "numpy 2 refuses to assign a 1-element array to one element (multiclass_noisify)",
    ),
    (
        "dataset.py",
        "from torchvision import datasets, transforms\n",
        "from torchvision import datasets, transforms\nimport torchvision.datasets.cifar as _cifar\n"
        "_cifar.check_integrity = lambda *args, **kwargs: True\n",
        "torchvision's CIFAR md5 check rejects the locally prepared pickles",
    ),
]
# Their train() hard-codes MNIST's weight decay (1e-3) and builds SGD without Nesterov, for
# every dataset. A config that asks otherwise (the authors' release recipe: 1e-2 with Nesterov,
# configs/base/mnist.yaml) is run by editing those two statements in the temporary copy, like
# the compatibility fixes; result.json lists each edit under `departures`.
MNIST_WEIGHT_DECAY = "eta_min = 0.001\n        args.l2_reg = 1e-3\n"
SGD_CALL = (
    "momentum=0.9,\n                                         weight_decay=args.l2_reg)\n\n"
    "    fixed_cnn_scheduler = CosineAnnealingLR"
)
# What their train() fixes per dataset and no flag or edit above changes: a config that differs
# is refused, so a run is never recorded under a setting it did not train with.
THEIR_FIXED = {
    "mnist": {"train.epochs": 50, "schedule.eta_min": 0.001, "model.name": "cnn4"},
    "cifar10": {"train.epochs": 120, "schedule.eta_min": 0.0, "model.name": "cnn8"},
    "cifar100": {
        "train.epochs": 200,
        "schedule.eta_min": 0.0,
        "model.name": "resnet34",
        "optim.lr": 0.1,
    },
}
NLNL_EPOCHS = {"mnist": 720, "cifar10": 1000, "cifar100": 2000}
THEIR_COMMON = {
    "optim.momentum": 0.9,
    "schedule.name": "cosine",
    "train.amp": "none",
    "dataset.train_subset": None,
    "dataset.noisy_val_fraction": 0.0,
    "noise.variant": "reference",
    "noise.seed": None,
    "optim.lr_after_warmup": None,
    "loss.warmup_epochs": 0,
}
# The module names the authors' files import each other by; ours ("train") must not clash.
REFERENCE_MODULES = ("loss", "model", "dataset", "train_util", "train", "utils", "utils.utils")

# This project's loss name -> the authors' --loss choice.
LOSS_NAMES = {
    "ce": "CE",
    "fl": "FocalLoss",
    "mae": "MAE",
    "rce": "RCE",
    "gce": "GCE",
    "sce": "SCE",
    "nlnl": "NLNL",
    "nce": "NCE",
    "nfl": "NFL",
    "ngce": "NGCE",
    "nmae": "NMAE",
    "nrce": "NRCE",
    "nce+rce": "NCEandRCE",
    "nce+mae": "NCEandMAE",
    "nfl+rce": "NFLandRCE",
    "nfl+mae": "NFLandMAE",
    "gce+mae": "GCEandMAE",
    "gce+rce": "GCEandRCE",
    "gce+nce": "GCEandNCE",
    "mae+rce": "MAEandRCE",
    "nfl+nce": "NFLandNCE",
    "ngce+nce": "NGCEandNCE",
    "ngce+mae": "NGCEandMAE",
    "ngce+rce": "NGCEandRCE",
}
DATASETS = ("mnist", "cifar10", "cifar100")
# The folders its loaders look in, under --data_path; MNISTNoisy is its MNIST subclass.
DATA_LINKS = {
    "MNIST": "MNIST",
    "MNISTNoisy": "MNIST",
    "cifar-10-batches-py": "cifar-10-batches-py",
    "cifar-100-python": "cifar-100-python",
}


class ReferenceMissing(RuntimeError):
    pass


def archive_dir() -> Path:
    if not (ARCHIVE / "train.py").is_file():
        raise ReferenceMissing(
            f"the authors' code is not at {ARCHIVE}; place "
            f"shared/reference/official-apl beside the repository or set "
            f"OFFICIAL_APL to its archive/ folder"
        )
    return ARCHIVE


_PATCHED: dict[tuple, Path] = {}


def patched_copy(edits: tuple = ()) -> Path:
    """The archive copied once per process (and per set of `edits`) into a temporary folder,
    with COMPAT_FIXES and then `edits` (the same (file, text, replacement, why) form) applied.
    Each must match exactly once, so a changed archive fails loudly instead of silently."""
    edits = tuple(edits)
    if edits in _PATCHED:
        return _PATCHED[edits]
    dest = Path(tempfile.mkdtemp(prefix="official-apl-")) / "archive"
    atexit.register(shutil.rmtree, dest.parent, ignore_errors=True)
    shutil.copytree(archive_dir(), dest, ignore=shutil.ignore_patterns("__pycache__"))
    for name, text, replacement, why in COMPAT_FIXES + list(edits):
        path = dest / name
        source = path.read_text()
        if source.count(text) != 1:
            raise ReferenceMissing(
                f"edit of {name} ({why}) expects {text!r} exactly once; the "
                f"archive at {ARCHIVE} has changed"
            )
        path.write_text(source.replace(text, replacement))
    _PATCHED[edits] = dest
    return dest


def optimiser_edits(cfg: dict) -> list[tuple]:
    """The edits of their train.py that make it use this config's weight decay (MNIST, where
    it is hard-coded) and Nesterov momentum; none for the paper-era recipe."""
    edits = []
    wd = cfg["optim.weight_decay"]
    if cfg["dataset.name"] == "mnist" and wd != 1e-3:
        edits.append(
            (
                "train.py",
                MNIST_WEIGHT_DECAY,
                MNIST_WEIGHT_DECAY.replace("1e-3", repr(wd)),
                f"MNIST weight decay {wd!r} instead of the hard-coded 1e-3",
            )
        )
    if cfg["optim.nesterov"]:
        edits.append(
            (
                "train.py",
                SGD_CALL,
                SGD_CALL.replace(
                    "weight_decay=args.l2_reg)", "weight_decay=args.l2_reg, nesterov=True)"
                ),
                "SGD with Nesterov momentum (their code has none)",
            )
        )
    return edits


def check_expressible(cfg: dict) -> None:
    """Refuse a config whose setting their train() cannot run (it would silently train
    another one), naming the key, their value and the fix."""
    dataset = cfg["dataset.name"]
    fixed = {**THEIR_COMMON, **THEIR_FIXED.get(dataset, {})}
    if cfg["loss.name"] == "nlnl" and dataset in NLNL_EPOCHS:
        fixed["train.epochs"] = NLNL_EPOCHS[dataset]
    if cfg["optim.grad_clip"] is None:
        raise SystemExit(
            "error: the authors' code always clips the gradient norm; set "
            "optim.grad_clip to a number (the paper's 5.0)"
        )
    for key, theirs in fixed.items():
        if cfg.get(key, theirs) != theirs:
            raise SystemExit(
                f"error: the authors' code cannot run {key}={cfg[key]!r} (it "
                f"hard-codes {theirs!r} for {dataset}); drop that setting, or use "
                f"--stop-after N to stop early with their schedule unchanged"
            )
    extra = sorted(
        set(loss_kwargs_of(cfg))
        - {"alpha", "beta", "q", "gamma", "scale", "normalizer", "ln_neg", "A", "prob_clamp"}
    )
    options = [k for k in extra if cfg[f"loss.{k}"] not in (None, 0, 0.0)]
    if options:
        raise SystemExit(
            f"error: the authors' code has no loss option {', '.join(options)}; "
            f"drop loss.{options[0]} to run it"
        )


def loss_kwargs_of(cfg: dict) -> dict:
    from engine.config import loss_kwargs

    return loss_kwargs(cfg)


@contextlib.contextmanager
def reference_namespace(edits: tuple = ()):
    """Import the authors' modules by their own names, then give those names back: this
    project's `train` module and theirs never meet in sys.modules."""
    path = str(patched_copy(edits))
    saved = {name: sys.modules.pop(name) for name in REFERENCE_MODULES if name in sys.modules}
    sys.path.insert(0, path)
    try:
        yield
    finally:
        sys.path.remove(path)
        for name in REFERENCE_MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def import_reference(*names: str, edits: tuple = ()):
    """The authors' modules ("loss", "model", "dataset", ...), freshly imported with the fixes
    (and `edits`, see optimiser_edits)."""
    with reference_namespace(tuple(edits)):
        modules = [importlib.import_module(name) for name in names]
    return modules[0] if len(modules) == 1 else modules


class StopAfter(Exception):
    """Raised by a hook to end their train() early (their code has no epoch cap)."""


@contextlib.contextmanager
def working_directory(path: Path):
    """Their train.py writes logs/ and checkpoints/ (relative paths) where it runs."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def import_reference_train(argv: list[str], workdir: Path, edits: tuple = ()):
    """Their train.py parses sys.argv and makes logs/ and checkpoints/ in the working directory
    when imported; both are pointed at `workdir` for the import."""
    workdir.mkdir(parents=True, exist_ok=True)
    old_argv = sys.argv
    sys.argv = ["train.py", *argv]
    try:
        with working_directory(workdir):
            return import_reference("train", edits=edits)
    finally:
        sys.argv = old_argv


def run_their_train(module, workdir: Path) -> bool:
    """Their train(), run in `workdir`; True when a hook ended it early (StopAfter)."""
    with working_directory(workdir):
        try:
            module.train()
        except StopAfter:
            return True
    return False


# ---------------------------------------------------------------------------------------------
# From this project's config to the authors' command line
# ---------------------------------------------------------------------------------------------
def reference_argv(cfg: dict, data_path: Path, workers: int = 0) -> list[str]:
    dataset, loss = cfg["dataset.name"], cfg["loss.name"]
    if dataset not in DATASETS:
        raise SystemExit(
            f"error: the authors' code has no dataset {dataset!r}; use one of {', '.join(DATASETS)}"
        )
    if loss not in LOSS_NAMES:
        raise SystemExit(
            f"error: loss {loss!r} has no counterpart in the authors' code; use one "
            f"of {', '.join(sorted(LOSS_NAMES))}"
        )
    kind = cfg["noise.kind"]
    if kind not in ("symmetric", "asymmetric", "none"):
        raise SystemExit(
            f"error: the authors' code has only symmetric and asymmetric noise, not {kind!r}"
        )
    rate = 0.0 if kind == "none" else cfg["noise.rate"]
    single = "+" not in loss
    # For a single loss its --alpha is the loss's scale; for a pair, alpha and beta.
    alpha = cfg.get("loss.scale", 1.0) if single else cfg.get("loss.alpha", 1.0)
    argv = [
        "--dataset_type",
        dataset,
        "--loss",
        LOSS_NAMES[loss],
        "--nr",
        repr(rate),
        "--seed",
        str(cfg["train.seed"]),
        "--alpha",
        repr(alpha),
        "--beta",
        repr(cfg.get("loss.beta", 1.0)),
        "--q",
        repr(cfg.get("loss.q", 0.7)),
        "--gamma",
        repr(cfg.get("loss.gamma", 2.0)),
        "--data_path",
        str(data_path),
        "--data_nums_workers",
        str(workers),
        "--batch_size",
        str(cfg["train.batch_size"]),
        "--lr",
        repr(cfg["optim.lr"]),
        "--l2_reg",
        repr(cfg["optim.weight_decay"]),
        "--grad_bound",
        repr(cfg["optim.grad_clip"]),
        "--run_version",
        "harness",
    ]
    return argv + (["--asym"] if kind == "asymmetric" else [])


def link_data(data_root: Path, dest: Path) -> Path:
    """A data folder in the layout its loaders expect, made of links to the prepared one."""
    dest.mkdir(parents=True, exist_ok=True)
    for link, target in DATA_LINKS.items():
        if (data_root / target).exists() and not (dest / link).exists():
            (dest / link).symlink_to((data_root / target).resolve())
    return dest


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------
class Harness:
    """State shared by the hooks around one run of the authors' train()."""

    def __init__(self, module, cfg: dict, out: Path, stop_after: int | None, resume: bool, where):
        self.module, self.cfg, self.out, self.where = module, cfg, out, where
        self.stop_after, self.resume = stop_after, resume
        self.history: list[dict] = []
        self.resumes: list[dict] = []
        self.last_eval = (float("nan"), float("nan"))
        self.objects = None  # (model, optimizer, scheduler) once train_fixed is called
        self.lr = None
        self.t_epoch = time.time()
        self.noise: dict = {}

    # -- hooks -------------------------------------------------------------------------------
    def model_eval(self, original):
        def wrapped(*args, **kwargs):
            self.last_eval = original(*args, **kwargs)
            return self.last_eval

        return wrapped

    def train_fixed(self, original):
        def wrapped(starting_epoch, data_loader, model, criterion, optimizer, scheduler, util):
            if self.objects is not None:
                raise SystemExit(
                    "error: a second training phase (DMI) is not supported by the "
                    "harness; run DMI with the authors' train.py directly"
                )
            self.objects = (model, optimizer, scheduler)
            self.record_noise(data_loader["train_dataset"].dataset)
            self.lr = optimizer.param_groups[0]["lr"]
            if self.resume and (self.out / "checkpoints" / "last.pt").is_file():
                starting_epoch = self.restore()
            from engine.config import to_yaml
            from engine.io import write_text_atomic

            write_text_atomic(self.out / "config.yaml", to_yaml(self.cfg))  # checked: ours now
            self.t_epoch = time.time()
            return original(
                starting_epoch, data_loader, model, criterion, optimizer, scheduler, util
            )

        return wrapped

    def dump(self, history, handle, protocol=None):
        """Their epoch end: after the schedule step and the evaluation."""
        pickle.dump(history, handle, protocol=protocol)
        epoch = len(history["test_acc"])
        top1, top5 = self.last_eval
        optimizer = self.objects[1]
        self.history.append(
            {
                "epoch": epoch,
                "lr": self.lr,
                "train_loss": history["train_loss"][-1],
                "train_acc_noisy": 100.0 * history["train_acc"][-1],
                "test_top1": 100.0 * top1,
                "test_top5": 100.0 * top5,
                "epoch_seconds": time.time() - self.t_epoch,
            }
        )
        self.lr = optimizer.param_groups[0]["lr"]
        self.save(epoch, history)
        print(
            f"[{CODE_NAME}] epoch {epoch} test {100.0 * top1:.2f} "
            f"({self.history[-1]['epoch_seconds']:.1f}s)",
            flush=True,
        )
        self.t_epoch = time.time()
        if self.stop_after is not None and epoch >= self.stop_after:
            raise StopAfter

    # -- state -------------------------------------------------------------------------------
    def record_noise(self, train_dataset) -> None:
        import numpy as np

        from datasets import load_dataset
        from engine.experiment import make_noise
        from noise import labels_hash

        noisy = np.asarray(train_dataset.targets, dtype=np.int64)
        data = load_dataset(self.cfg["dataset.name"], self.cfg["dataset.root"])
        clean = data.train_labels
        # this project's noisy labels for the same setting (the harness requires the config's
        # noise seed to be the training seed and the "reference" variant, as their code does)
        ours = make_noise(
            self.cfg, None, clean, None, data.num_classes, self.cfg["train.seed"]
        ).labels
        self.noise = {
            "labels_sha256": labels_hash(noisy),
            "realised_rate": float(np.mean(noisy != clean)),
            "noise_match": bool(np.array_equal(noisy, ours)),
        }
        from engine.io import numpy_save_atomic

        numpy_save_atomic(self.out / "noisy_labels.npy", noisy)

    def save(self, epoch: int, history) -> None:
        from engine.checkpoint import CHECKPOINT, capture_rng, save_checkpoint
        from engine.record import write_metrics

        model, optimizer, scheduler = self.objects
        m = self.module
        save_checkpoint(
            self.out / CHECKPOINT,
            {
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": capture_rng(),
                "history": self.history,
                "reference_history": {k: list(v) for k, v in history.items()},
                "globals": [m.GLOBAL_STEP, m.EVAL_STEP, m.EVAL_BEST_ACC],
                "noisy_labels_sha256": self.noise["labels_sha256"],
                "config": self.cfg,
                "where": self.where._asdict(),
                "resumes": self.resumes,
            },
        )
        write_metrics(self.out, self.history)

    def restore(self) -> int:
        """Their run from the checkpoint, checked as train.py checks one: the same config
        (every key that changes what trains) and the same noisy labels, or a refusal."""
        from engine.checkpoint import CHECKPOINT, read_checkpoint, restore_rng
        from engine.errors import CheckpointError

        try:
            ckpt = read_checkpoint(
                self.out / CHECKPOINT, self.cfg, self.noise["labels_sha256"], force=False
            )
        except CheckpointError as e:
            raise SystemExit(f"error: {e}") from None
        model, optimizer, scheduler = self.objects
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        restore_rng(ckpt["rng"])
        m = self.module
        m.GLOBAL_STEP, m.EVAL_STEP, m.EVAL_BEST_ACC = ckpt["globals"]
        m.TRAIN_HISTORY.clear()
        m.TRAIN_HISTORY.update(ckpt["reference_history"])
        self.history, self.resumes = ckpt["history"], ckpt["resumes"]
        self.lr = optimizer.param_groups[0]["lr"]
        print(f"[{CODE_NAME}] resuming {self.out} after epoch {ckpt['epoch']}", flush=True)
        return ckpt["epoch"]


def run(
    cfg: dict,
    out: Path,
    stop_after: int | None = None,
    resume: bool = False,
    threads: int | None = None,
    where=None,
) -> dict:
    """Train with the authors' code into the run directory `out` (locked as train.py locks
    one); returns (and writes) result.json. `where`: the run's coordinates (default: from the
    config, no variant)."""
    import torch

    from engine.experiment import run_coordinates
    from engine.io import write_json_atomic
    from engine.record import validate_result
    from engine.rundir import RunLock

    check_expressible(cfg)
    if threads:
        torch.set_num_threads(threads)
    out = out.resolve()  # their train.py runs in `work`; every path handed to it is absolute
    lock = RunLock(out).acquire()
    try:
        work = out / "official_work"  # their logs/ and checkpoints/ (history pickles)
        data_path = link_data(Path(cfg["dataset.root"]).resolve(), work / "data")
        argv = reference_argv(cfg, data_path)
        edits = optimiser_edits(cfg)
        module = import_reference_train(argv, work, tuple(edits))
        harness = Harness(module, cfg, out, stop_after, resume, where or run_coordinates(cfg))
        module.model_eval = harness.model_eval(module.model_eval)
        module.train_fixed = harness.train_fixed(module.train_fixed)
        module.pickle = argparse.Namespace(
            dump=harness.dump, HIGHEST_PROTOCOL=pickle.HIGHEST_PROTOCOL
        )
        t0 = time.time()
        stopped = run_their_train(module, work)
        result = build_result(
            harness, argv, edits, module.args.epoch, stopped, time.time() - t0, threads
        )
        assert not validate_result(result), validate_result(result)
        write_json_atomic(out / "result.json", result)
    finally:
        lock.release()
    return result


def build_result(
    harness: Harness, argv, edits, schedule_epochs: int, stopped: bool, seconds: float, threads
) -> dict:
    """result.json in engine/record.py's one schema, with what is particular to their code."""
    import torch

    from engine.record import result_document

    return result_document(
        code=CODE_NAME,
        status="stopped_early" if stopped else "finished",
        where=harness.where,
        history=harness.history,
        schedule_epochs=schedule_epochs,
        cfg=harness.cfg,
        noise=harness.noise,
        wall_seconds=seconds,
        resumes=harness.resumes,
        provenance={
            "device": "cpu" if not torch.cuda.is_available() else "cuda",
            "threads": threads or torch.get_num_threads(),
            "source": str(ARCHIVE),
        },
        extra={
            "compat_fixes": [why for _, _, _, why in COMPAT_FIXES],
            "edits": [why for _, _, _, why in edits],  # beyond the fixes: the recipe's
            "reference_args": argv,
        },
    )


class StepTimer:
    """Stands in for their training DataLoader: hands out its batches, starts a clock when
    batch `warmup` is asked for and stops it when batch `warmup + steps` is, so exactly `steps`
    of their steps (data loading included) are timed; then it ends their run."""

    def __init__(self, loader, warmup: int, steps: int):
        self.loader, self.dataset = loader, loader.dataset
        self.warmup, self.steps = warmup, steps
        self.seconds = None

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        count = 0
        while True:
            for batch in self.loader:
                if count == self.warmup:
                    start = time.perf_counter()
                if count == self.warmup + self.steps:
                    self.seconds = time.perf_counter() - start
                    raise StopAfter
                count += 1
                yield batch


def time_training_steps(
    cfg: dict, data_root: Path, warmup: int, steps: int, workers: int = 0
) -> float:
    """Seconds for `steps` training steps of their own train() (their data loader, model,
    loss, optimiser, clipping and per-step metrics) on the real data under `data_root`."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        argv = reference_argv(cfg, link_data(Path(data_root).resolve(), work / "data"), workers)
        module = import_reference_train(argv, work, tuple(optimiser_edits(cfg)))
        original = module.DatasetGenerator
        timers = []

        def generator(**kwargs):
            made = original(**kwargs)
            loaders = made.getDataLoader()  # the dict their train() reads next
            timers.append(StepTimer(loaders["train_dataset"], warmup, steps))
            loaders["train_dataset"] = timers[-1]
            return made

        module.DatasetGenerator = generator
        run_their_train(module, work)
    if not timers or timers[0].seconds is None:
        raise RuntimeError("their training ended before the timed steps were done")
    return timers[0].seconds
