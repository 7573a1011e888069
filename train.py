#!/usr/bin/env python
"""Train one model on noisy labels, the paper's way.

    python train.py --config configs/mnist/sym/nce+rce.yaml --noise-rate 0.4 --seed 0
    python train.py --config configs/quickstart.yaml --set loss.alpha=2 optim.lr=0.05
    python train.py --config ... --out runs/x --resume       # continue an interrupted run
    torchrun --nproc_per_node=4 train.py --config ...         # 4 GPUs (engine/distributed.py)

The loop (spec §8): SGD with momentum, a per-epoch LR schedule, global grad-norm clipping at
5.0, evaluation on the clean test set after every epoch; the reported number is the
last-epoch top-1 (the best epoch is also written, flagged as selected on the test set).

Data path ("fast", the default): the training set is one uint8 tensor on the device and each
epoch's order and augmentation come from a generator seeded by (seed, epoch). Together with a
checkpoint holding every other state, an interrupted run resumes bit-exactly on the CPU, also
mid-epoch (a checkpoint written on SIGINT/SIGTERM records the step). Datasets too big for
memory (mini-WebVision) are read as files through a DataLoader (datasets/files.py).

Under torchrun every process runs this script; `train.batch_size` stays the total batch, each
process takes its share of every batch, and only rank 0 writes (engine/distributed.py).
"""
from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import time
from pathlib import Path

from engine.cli import HelpFormatter


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--config", help="YAML config (see configs/); with --resume --out DIR it "
                                    "defaults to DIR/config.yaml, the run's resolved config")
    p.add_argument("--data-root", help="override dataset.root")
    p.add_argument("--out", help="run directory (unset: runs/<dataset>/<kind>/<rate>/<loss>/seed<S>)")
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--noise-rate", type=float, help="override noise.rate")
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument("--train-subset", type=int, help="train on a fixed random subset of N samples")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--force-resume", action="store_true",
                   help="resume even if the config or noisy labels differ from the checkpoint "
                        "(the changes and the epoch/step are recorded in result.json)")
    p.add_argument("--set", nargs="*", default=[], action="extend", metavar="KEY=VALUE",
                   help="override any config key, e.g. optim.lr=0.05 loss.beta=1 (repeatable)")
    p.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    args = p.parse_args(argv)
    if args.config is None and not (args.resume and args.out):
        p.error("--config is required (or --resume --out DIR, which reads DIR/config.yaml)")
    return args


if __name__ == "__main__":
    parse_args()  # --help and usage errors answer here, before torch is imported (seconds)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from datasets import DatasetError, epoch_generator, load_dataset, make_data_source  # noqa: E402
from datasets.device import train_batch_bounds  # noqa: E402
from engine import rundir, seeds  # noqa: E402
from engine.checkpoint import (capture_rng, load_checkpoint, load_model_state,  # noqa: E402
                               restore_rng, save_checkpoint)
from engine.config import config_diff, load_config, loss_kwargs, to_yaml  # noqa: E402
from engine.distributed import (convert_sync_batchnorm, init_distributed, shutdown,  # noqa: E402
                                wrap_ddp)
from engine.errors import (CheckpointError, ConfigError, NumericalFault,  # noqa: E402
                           OutputDirError, UserError)
from engine.evaluation import evaluate, predict_probs  # noqa: E402
from engine.io import numpy_save_atomic, write_json_atomic, write_text_atomic  # noqa: E402
from engine.metrics import EpochAccumulator  # noqa: E402
from engine.rundir import (CHECKPOINT, RunLock, read_result, remove_stale_temp_files,  # noqa: E402
                           write_metrics)
from engine.step import forward_backward, optimizer_step  # noqa: E402
from engine.setup import (build_phase_optimiser, check_writable,  # noqa: E402
                          configure_kernels, configure_threads, dataset_options,
                          loss_phase, noise_inputs, noisy_val_split,
                          optimiser_phase, pick_device, seed_everything, subset_indices,
                          use_channels_last)
from losses import Combination, build_loss  # noqa: E402
from models import build_model  # noqa: E402
from noise import (compare_estimate, estimate_noise, make_noisy_labels,  # noqa: E402
                   realised_transition)


STOP_CHECK_EVERY = 10  # steps between the processes' agreement on a stop request (torchrun)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """SIGINT/SIGTERM set a flag; the loop stops at the next step boundary and checkpoints.
    A second signal falls through to the default handler (immediate exit)."""

    def __init__(self):
        self.signal = None

    def install(self):
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.signal = signum
        signal.signal(signum, signal.SIG_DFL)


@contextlib.contextmanager
def signal_handlers_restored(signals=STOP_SIGNALS):
    """StopRequest replaces the handlers for the whole run; the caller gets its own back when
    training ends, however it ends (in a notebook or a test, Ctrl-C would be swallowed once)."""
    saved = {sig: signal.getsignal(sig) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:  # None: installed outside Python, cannot be put back
                signal.signal(sig, handler)


def main(argv=None) -> int:
    args = parse_args(argv)
    dist = None
    try:
        notes = []
        cfg = load_config(config_path(args), overrides={
            "dataset.root": args.data_root, "out": args.out, "train.epochs": args.epochs,
            "noise.rate": args.noise_rate, "train.seed": args.seed,
            "dataset.train_subset": args.train_subset}, sets=args.set, notes=notes)
        # cfg keeps the device as configured ("auto"), so a run resumes on another number of
        # processes; the device this process uses is passed on its own
        dist, device_name = init_distributed(cfg["train.device"])
        for note in notes if dist.is_main else ():
            print(note)
        with signal_handlers_restored():
            return train(args, cfg, dist, device_name)
    except (UserError, DatasetError) as e:
        if args.debug:
            raise
        # An error rank 0 found reached every rank (Dist.on_main): print it once. An error of
        # another rank alone (its shard of the data) is printed by that rank.
        if dist is None or dist.is_main or not getattr(e, "from_rank0", False):
            rank = f"[rank {dist.rank}] " if dist is not None and dist.enabled else ""
            print(f"{rank}error: {e}", file=sys.stderr)
        return 2
    finally:
        if dist is not None:
            shutdown(dist)


def config_path(args) -> Path:
    """--config, or the resolved config.yaml of the run being resumed (which holds every flag
    it was started with: noise rate, epochs, subset, seed, --set)."""
    if args.config is not None:
        return Path(args.config)
    saved = Path(args.out) / "config.yaml"
    if not saved.is_file():
        raise ConfigError(f"{args.out} holds no config.yaml to resume from; start the run with "
                          f"--config FILE --out {args.out}")
    return saved


def resume_command(out: Path) -> str:
    """A command that resumes this run as it was started: its config.yaml is resolved."""
    return f"python train.py --resume --out {shlex.quote(str(out))}"


def inspect_run_dir(out: Path, cfg: dict, args):
    """(finished result or None, has a checkpoint); errors if the directory holds a run that
    this command must not touch. Reads only: nothing is written yet."""
    check_writable(out)
    finished = read_result(out)
    has_checkpoint = (out / CHECKPOINT).is_file()
    if finished is not None or has_checkpoint:
        if not args.resume:
            what = "a finished run (result.json)" if finished else "an unfinished run (checkpoint)"
            raise OutputDirError(f"{out} already holds {what}; pass --resume to continue it, "
                                 f"or choose another --out")
        if finished is not None:
            diff = config_diff(finished.get("config", {}), cfg)
            if diff and not args.force_resume:
                raise OutputDirError(f"{out} holds a different finished run; differences: "
                                     f"{'; '.join(diff)}. Choose another --out")
    elif args.resume:
        # sweeps pass --resume to every run, so a fresh start is right; but say so
        print(f"note: {out} holds nothing to resume (no checkpoint); starting a fresh run")
    return finished, has_checkpoint


# Keys that differ between commands without changing the run: not worth a record.
COSMETIC = {"out", "train.progress"}


def read_checkpoint(path: Path, cfg: dict, labels_sha256: str, force: bool, device) -> dict:
    """The checkpoint, checked against this command, with this resume's record appended to
    ckpt["resumes"]: what changed (also harmless keys such as train.threads) at which
    epoch/step, and whether --force-resume let a change that matters through."""
    ckpt = load_checkpoint(path, map_location=device)
    labels = ([] if ckpt["noisy_labels_sha256"] == labels_sha256 else
              ["the noisy training labels differ (noise seed, rate, kind or data)"])
    problems = config_diff(ckpt["config"], cfg) + labels
    if problems and not force:
        raise CheckpointError(f"refusing to resume {path.parent.parent}: {'; '.join(problems)}. "
                              f"Undo the change, or pass --force-resume")
    changes = config_diff(ckpt["config"], cfg, ignore=COSMETIC) + labels
    ckpt["resumes"] = list(ckpt.get("resumes", []))
    if changes:
        ckpt["resumes"].append({"epoch": ckpt["epoch"], "step": ckpt.get("step", 0),
                                "changes": changes, "forced": bool(problems)})
    return ckpt


def train(args, cfg: dict, dist, device_name: str) -> int:
    t_start = time.time()
    log = print if dist.is_main else (lambda *a, **k: None)
    out = Path(cfg["out"]) if cfg["out"] else rundir.run_dir("runs", cfg)
    cfg["out"] = str(out)
    # Rank 0 inspects the run directory; every rank gets its verdict (or its error).
    finished, has_checkpoint = dist.on_main(inspect_run_dir, out, cfg, args)
    if finished is not None:
        log(f"{out} is already finished (last-epoch test top-1 "
            f"{finished['last']['test_top1']:.2f}); nothing to do")
        return 0
    if dist.enabled and cfg["dataset.pipeline"] == "reference":
        raise UserError("dataset.pipeline=reference runs in one process only; use the default "
                        "fast pipeline with torchrun")

    # ---- data, noise, model, loss, optimiser ---------------------------------------------
    device = pick_device(device_name)
    configure_threads(cfg["train.threads"])
    configure_kernels(device, cfg["train.deterministic"])
    seed = cfg["train.seed"]
    seed_everything(seed)
    data = load_dataset(cfg["dataset.name"], cfg["dataset.root"], download=cfg["dataset.download"],
                        options=dataset_options(cfg))
    train_images, clean = data.train_images, data.train_labels
    subset = subset_indices(len(clean), cfg["dataset.train_subset"])
    if subset is not None:
        train_images, clean = train_images[torch.from_numpy(subset)], clean[subset]
    K = data.num_classes
    noise_seed = seeds.noise_seed(seed, cfg["noise.seed"])
    try:
        noisy = make_noisy_labels(clean, cfg["noise.kind"], cfg["noise.rate"], K,
                                  dataset=cfg["dataset.name"], seed=noise_seed,
                                  variant=cfg["noise.variant"],
                                  **noise_inputs(cfg, train_images, subset))
    except ValueError as e:
        raise UserError(f"noise config: {e}") from None
    noise_summary = noisy.summary()  # hashes the labels: computed once, used at every save

    train_idx, val_idx = noisy_val_split(len(clean), cfg["dataset.noisy_val_fraction"], noise_seed)
    channels_last = use_channels_last(cfg["train.channels_last"], device)
    pipeline, workers = cfg["dataset.pipeline"], cfg["dataset.workers"]

    def source(images, augment):
        return make_data_source(pipeline, images, data, augment, device, channels_last, workers,
                                rank=dist.rank)

    all_noisy, all_clean = noisy.labels, clean
    if val_idx is not None:
        val_set = source(train_images[torch.from_numpy(val_idx)], "none")
        val_noisy_t = torch.from_numpy(all_noisy[val_idx]).to(device)
        train_images = train_images[torch.from_numpy(train_idx)]
    train_noisy, clean = all_noisy[train_idx], all_clean[train_idx]
    train_set = source(train_images, data.augment)
    # The test set, then any further evaluation sets (WebVision val), each reported every epoch.
    eval_sets = {"test": (source(data.test_images, "none"),
                          torch.from_numpy(data.test_labels).to(device))}
    for name, (images, labels) in data.extra_eval.items():
        eval_sets[name] = (source(images, "none"), torch.from_numpy(labels).to(device))
    noisy_t = torch.from_numpy(train_noisy).to(device)
    clean_t = torch.from_numpy(clean).to(device)

    model = build_model(cfg["model.name"], K, data.in_channels, data.image_size)
    if cfg["train.sync_bn"] and dist.enabled:
        model = convert_sync_batchnorm(model, device)
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    params = loss_kwargs(cfg)
    if cfg["loss.name"] == "nlnl" and "class_counts" not in params:
        params["class_counts"] = np.bincount(train_noisy, minlength=K).clip(min=1).tolist()
    # Phase 0 trains the warm-up loss (loss.warmup_epochs; DMI's CE stage), phase 1 the loss.
    criteria = {1: build_loss(cfg["loss.name"], K, **params).to(device)}
    if cfg["loss.warmup_epochs"]:
        criteria[0] = build_loss(cfg["loss.warmup_loss"], K).to(device)
    opt_phase = 0
    optimizer, scheduler = build_phase_optimiser(model, cfg, opt_phase)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg["train.amp"] == "fp16")
    if dist.enabled:
        # Losses that draw random numbers (NLNL's complementary labels) use the global RNG:
        # equal states on every process would draw the same numbers for different samples.
        # (After the model is built: every rank starts from the same weights anyway.) Each
        # process's state goes into the checkpoint.
        torch.manual_seed(seeds.rank_seed(seed, dist.rank))
    step_model = wrap_ddp(model, dist, device)  # DDP averages gradients across processes
    if cfg["train.compile"]:
        step_model = torch.compile(step_model)
    # Evaluation runs the plain module: no DDP collectives, each process evaluates its share.
    eval_model = step_model if not dist.enabled else model

    # ---- resume ---------------------------------------------------------------------------
    start_epoch, start_step, history, partial, resumes = 0, 0, [], None, []
    if has_checkpoint:
        # Rank 0 reads and checks it, every rank gets it: no shared filesystem needed.
        ckpt = dist.on_main(read_checkpoint, out / CHECKPOINT, cfg,
                            noise_summary["labels_sha256"], args.force_resume, "cpu")
        load_model_state(model, ckpt["model"], out / CHECKPOINT)
        opt_phase = ckpt.get("optim_phase", 0)  # the states below belong to that optimiser
        if opt_phase:
            optimizer, scheduler = build_phase_optimiser(model, cfg, opt_phase)
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        # each process continues its own RNG stream (NLNL draws from it); another number of
        # processes than at the checkpoint continues rank 0's, re-derived per rank
        rngs = ckpt.get("rng_ranks")
        if rngs is not None and len(rngs) == dist.world:
            restore_rng(rngs[dist.rank])
        else:
            restore_rng(ckpt["rng"])
            if dist.enabled:
                draw = int(torch.randint(2**62, (1,)))
                torch.manual_seed(seeds.rank_reseed(draw, dist.rank))
        start_epoch, start_step = ckpt["epoch"], ckpt.get("step", 0)
        history, partial, resumes = ckpt["history"], ckpt.get("partial"), ckpt["resumes"]
        log(f"resuming {out} at epoch {start_epoch + 1}, step {start_step}")
        if resumes and resumes[-1]["epoch"] == start_epoch and resumes[-1]["step"] == start_step:
            log(f"recorded in result.json ('resumes'): {'; '.join(resumes[-1]['changes'])}")

    # ---- the run directory: from here on rank 0 writes ---------------------------------------
    run_dir = {}  # rank 0's lock and TensorBoard writer

    def open_run_dir():
        run_dir["lock"] = RunLock(out).acquire()
        remove_stale_temp_files(out)
        write_text_atomic(out / "config.yaml", config_header(resumes) + to_yaml(cfg))
        write_json_atomic(out / "noise.json", noise_summary)
        numpy_save_atomic(out / "noisy_labels.npy", noisy.labels)
        if val_idx is not None:
            numpy_save_atomic(out / "noisy_val_indices.npy", val_idx)
        run_dir["tb"] = fresh_tensorboard(out / "tb", history)

    dist.on_main(open_run_dir)  # a failure there (the run is locked) stops every rank
    lock, tb = run_dir.get("lock"), run_dir.get("tb")
    test_n = len(eval_sets["test"][1])
    log(f"{cfg['dataset.name']}: {len(clean)} train / {test_n} test, {K} classes | "
        f"noise {cfg['noise.kind']} {cfg['noise.rate']:g} (realised "
        f"{noisy.realised_rate:.4f}) | {cfg['model.name']} | loss {cfg['loss.name']}"
        f"{warmup_note(cfg)} | "
        f"{device}{f' x {dist.world} processes' if dist.enabled else ''} | out {out}")

    stop = StopRequest()
    stop.install()
    epochs, batch_size = cfg["train.epochs"], cfg["train.batch_size"]
    n_train = len(clean)
    skip_bad = cfg["train.nan_policy"] == "skip"
    shard = dist if dist.enabled else None
    n_batches = sum(1 for _ in train_batch_bounds(n_train, batch_size, shard=shard))

    def save(epoch_done, step_done, partial_state):
        """Called on every rank (it gathers each process's RNG state); rank 0 writes."""
        rng_ranks = dist.gather_object(capture_rng()) if dist.enabled else None
        if not dist.is_main:
            return
        save_checkpoint(out / CHECKPOINT, {
            "epoch": epoch_done, "step": step_done, "partial": partial_state,
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
            "optim_phase": opt_phase,
            "rng": capture_rng(), "rng_ranks": rng_ranks, "history": history, "config": cfg,
            "resumes": resumes,
            "noisy_labels_sha256": noise_summary["labels_sha256"]})

    def stopping(step: int) -> bool:
        """Has a stop been requested? Processes agree on it (every STOP_CHECK_EVERY steps, a
        collective), so they all stop after the same step."""
        if not dist.enabled:
            return stop.signal is not None
        if step % STOP_CHECK_EVERY:
            return False
        if dist.any(stop.signal is not None, device):
            stop.signal = stop.signal or signal.SIGTERM  # a rank the signal did not reach
            return True
        return False

    for epoch in range(start_epoch, epochs):
        t_epoch = time.time()
        if optimiser_phase(cfg, epoch) != opt_phase:
            opt_phase = optimiser_phase(cfg, epoch)
            optimizer, scheduler = build_phase_optimiser(model, cfg, opt_phase)
        criterion = criteria[loss_phase(cfg, epoch)]
        term_names = criterion.term_names if isinstance(criterion, Combination) else ()
        step_model.train()
        # Device-side accumulators, read once per epoch: no host sync per step.
        sums = EpochAccumulator(term_names, device)
        first_bad = torch.full((), -1, device=device, dtype=torch.int64)
        bad_terms = torch.zeros(1 + len(term_names), device=device, dtype=torch.float64)
        if partial is not None and epoch == start_epoch and dist.is_main:
            sums.load(partial["sums"])  # the sums of all processes, restored once
        if partial is not None and epoch == start_epoch:
            t_epoch -= partial["seconds"]
        first_step = start_step if epoch == start_epoch else 0
        batches = train_set.train_batches(batch_size, epoch_generator(seed, epoch), first_step,
                                          shard=shard)
        progress = tqdm_or_plain(batches, total=n_batches, initial=first_step,
                                 desc=f"epoch {epoch + 1}/{epochs}",
                                 enabled=cfg["train.progress"] and dist.is_main)
        step, stopped = first_step, False
        for x, index in progress:
            y, y_clean = noisy_t[index], clean_t[index]
            # this process's share of the step's batch, weighted so that the average over
            # processes is the mean over the whole batch (engine/distributed.py)
            weight = 1.0 if shard is None else dist.shard_weight(
                index.numel(), min(batch_size, n_train - step * batch_size))
            logits, loss, terms, finite = forward_backward(
                step_model, criterion, optimizer, scaler, x, y, cfg["train.amp"],
                cfg["optim.grad_clip"], cfg["optim.l1"], grad_weight=weight)
            if skip_bad and dist.any(not bool(finite), device):
                if dist.is_main:  # the sums are added up over processes at the epoch's end
                    sums.add_skipped()
            else:
                first_bad = torch.where((first_bad < 0) & ~finite, step, first_bad)
                bad_terms = torch.where((first_bad == step) & ~finite,
                                        torch.cat([loss.detach().double().view(1),
                                                   terms.double()]), bad_terms)
                optimizer_step(optimizer, scaler)
                with torch.no_grad():
                    sums.add(loss, terms, logits.argmax(dim=1), y, y_clean)
            step += 1
            stopped = stopping(step)
            if stopped:
                break
        if shard is not None:
            # the first bad step of any process; the metric sums of all processes
            big = torch.iinfo(torch.int64).max
            first_bad = dist.all_reduce(torch.where(first_bad < 0, big, first_bad),
                                        op=torch.distributed.ReduceOp.MIN)
            first_bad = torch.where(first_bad == big, -1, first_bad)
            dist.all_reduce(sums.values)
        check_finite(first_bad, bad_terms, epoch, term_names, stop_run=not skip_bad)

        if stopped and step < n_batches:
            save(epoch, step, {"sums": sums.state(), "seconds": time.time() - t_epoch})
            if dist.is_main:
                lock.release()
            name = signal.Signals(stop.signal).name
            log(f"\n{name}: stopped at epoch {epoch + 1}, step {step}/{n_batches}; checkpoint "
                f"saved. Resume with: {resume_command(out)}", file=sys.stderr)
            return 128 + stop.signal

        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        dist.broadcast_buffers(model)  # every process evaluates (and rank 0 saves) one model
        row = {"epoch": epoch + 1, "lr": lr, **sums.row()}
        for name, (eval_set, labels) in eval_sets.items():
            result = evaluate(eval_model, eval_set, labels, K, cfg["train.eval_batch_size"],
                              cfg["train.amp"], dist=dist)
            row.update({f"{name}_top1": result["top1"], f"{name}_top5": result["top5"],
                        f"{name}_loss": result["loss"]})
        if val_idx is not None:
            row["val_noisy_top1"] = evaluate(eval_model, val_set, val_noisy_t, K,
                                             cfg["train.eval_batch_size"], cfg["train.amp"],
                                             dist=dist)["top1"]
        row["epoch_seconds"] = time.time() - t_epoch
        # what ran, whatever config.yaml says now: a resume may change train.threads, and the
        # thread count changes results in the last digits (sweep.py --jobs sets it)
        row["threads"] = torch.get_num_threads()
        row["device"] = str(device)  # likewise: a sweep may resume a run on another GPU
        history.append(row)
        partial, start_step = None, 0
        save(epoch + 1, 0, None)
        if dist.is_main:
            write_metrics(out, history)
            tensorboard_row(tb, row)
            tb.flush()
        extra = "".join(f" {name} {row[name + '_top1']:.2f}" for name in eval_sets if name != "test")
        log(f"epoch {epoch + 1:3d}/{epochs} lr {lr:.5f} loss {row['train_loss']:.4f} "
            f"train(noisy) {row['train_acc_noisy']:.2f} train(clean) "
            f"{row['train_acc_clean']:.2f} test {row['test_top1']:.2f}{extra} "
            f"({row['epoch_seconds']:.1f}s)")
        if stopped or stopping(0):  # a request that came after the last check of the epoch
            if dist.is_main:
                lock.release()
            log(f"{signal.Signals(stop.signal).name}: stopped after epoch {epoch + 1}; "
                f"resume with: {resume_command(out)}", file=sys.stderr)
            return 128 + stop.signal

    def finish_run():
        """Rank 0: the noise estimate and result.json."""
        tb.close()
        estimate = None
        if not data.labels_are_noisy and val_idx is not None:
            # out of sample, as confident learning assumes: the held-out noisy split
            estimate = estimate_against_injected(
                model, val_set, all_noisy[val_idx], all_clean[val_idx], K, cfg,
                f"noisy validation split ({len(val_idx)} held-out samples)", True)
        elif not data.labels_are_noisy:
            # no held-out noisy data: the training set, marked as in-sample (K-fold
            # cross-validation would cost K more trainings)
            estimate = estimate_against_injected(
                model, source(train_images, "none"), train_noisy, clean, K, cfg,
                "IN-SAMPLE: the training set the model fitted (set dataset.noisy_val_fraction "
                "for an out-of-sample estimate); memorised flips look clean, so the rate is "
                "under-estimated", False)
        best = max(history, key=lambda r: r["test_top1"])
        last = history[-1]
        best_val = (max(history, key=lambda r: r["val_noisy_top1"])
                    if val_idx is not None else None)
        result = {
            "status": "finished",
            "protocol": "last epoch (the paper's); best_on_test is test-selected and "
                        "optimistic; best_on_noisy_val is selected on a held-out split of the "
                        "noisy training set",
            "last": {"epoch": last["epoch"], **{f"{name}_{m}": last[f"{name}_{m}"]
                                                for name in eval_sets for m in ("top1", "top5")}},
            "best_on_test": {"epoch": best["epoch"], "test_top1": best["test_top1"],
                             "selected_on": "test set"},
            "best_on_noisy_val": None if best_val is None else {
                "epoch": best_val["epoch"], "test_top1": best_val["test_top1"],
                "val_noisy_top1": best_val["val_noisy_top1"],
                "selected_on": f"noisy validation split ({len(val_idx)} samples)"},
            "noise_estimate": estimate,
            "resumes": resumes,
            "forced_resume": any(r["forced"] for r in resumes),
            "skipped_steps": sum(r["skipped_steps"] for r in history),
            "noise": {k: v for k, v in noise_summary.items() if k != "transition"},
            "device": str(device),
            "processes": dist.world,
            "wall_seconds": time.time() - t_start,
            "config": cfg,
        }
        write_json_atomic(out / "result.json", result)
        lock.release()
        log(f"done: last-epoch test top-1 {last['test_top1']:.2f} (best {best['test_top1']:.2f} "
            f"at epoch {best['epoch']}, selected on test) -> {out / 'result.json'}")

    try:
        if dist.is_main:
            finish_run()
    finally:
        dist.barrier()  # the other ranks wait for rank 0's result.json (or its failure)
    return 0


def warmup_note(cfg: dict) -> str:
    if not cfg["loss.warmup_epochs"]:
        return ""
    lr = cfg["optim.lr_after_warmup"]
    return (f" after {cfg['loss.warmup_epochs']} epochs of {cfg['loss.warmup_loss']}"
            + (f" (then a fresh SGD at lr {lr:g})" if lr is not None else ""))


def config_header(resumes: list) -> str:
    """config.yaml holds the config in force now; a run resumed with changes says so on top."""
    if not resumes:
        return ""
    lines = [f"# resumed at epoch {r['epoch']} step {r['step']}"
             f"{' with --force-resume' if r['forced'] else ''}: {'; '.join(r['changes'])}"
             for r in resumes]
    return "\n".join(lines + ["# (also in result.json 'resumes'; threads per epoch in "
                               "metrics.jsonl)"]) + "\n"


def fresh_tensorboard(folder: Path, history: list):
    """A TensorBoard writer over a clean folder, replaying the epochs already done: a killed
    run's event file would otherwise stay beside the resumed one, with its stale epochs."""
    from torch.utils.tensorboard import SummaryWriter
    for stale in folder.glob("events.out.tfevents.*"):
        stale.unlink()
    tb = SummaryWriter(str(folder))
    for row in history:
        tensorboard_row(tb, row)
    return tb


def tensorboard_row(tb, row: dict) -> None:
    for key, value in row.items():
        # numbers only: the row also names the device its epoch ran on
        if key != "epoch" and isinstance(value, (int, float)):
            tb.add_scalar(key, value, row["epoch"])


def estimate_against_injected(model, images, noisy, clean, K, cfg, sample, out_of_sample):
    """The confident-joint estimate from the final model's predictions on `images`, next to the
    noise injected into those samples (rank 0 alone: datasets with injected noise are small)."""
    probs = predict_probs(model, images, len(clean), cfg["train.eval_batch_size"],
                          cfg["train.amp"])
    return compare_estimate(estimate_noise(probs, noisy, K), realised_transition(clean, noisy, K),
                            float(np.mean(noisy != clean)), sample, out_of_sample)


def check_finite(first_bad, bad_terms, epoch, term_names, stop_run: bool):
    step = int(first_bad)
    if step < 0 or not stop_run:
        return
    values = bad_terms.tolist()
    parts = ", ".join(f"{n}={v:.4g}" for n, v in zip(("loss",) + tuple(term_names), values))
    raise NumericalFault(f"non-finite loss or gradient at epoch {epoch + 1}, step {step} "
                         f"({parts}); the last good checkpoint was kept. Lower optim.lr, check "
                         f"the loss parameters, or set train.nan_policy=skip")


def tqdm_or_plain(iterable, total, initial, desc, enabled):
    if not enabled:
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True,
                disable=None)


if __name__ == "__main__":
    sys.exit(main())
