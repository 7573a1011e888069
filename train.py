#!/usr/bin/env python
"""Train one model on noisy labels, the paper's way.

    python train.py --config configs/mnist/sym/nce+rce.yaml --noise-rate 0.4 --seed 0
    python train.py --config configs/quickstart.yaml --set loss.alpha=2 optim.lr=0.05
    python train.py --config ... --out runs/x --resume       # continue an interrupted run

The loop (spec §8): SGD with momentum, a per-epoch LR schedule, global grad-norm clipping at
5.0, evaluation on the clean test set after every epoch; the reported number is the
last-epoch top-1 (the best epoch is also written, flagged as selected on the test set).

Data path ("fast", the default): the training set is one uint8 tensor on the device and each
epoch's order and augmentation come from a generator seeded by (seed, epoch). Together with a
checkpoint holding every other state, an interrupted run resumes bit-exactly on the CPU, also
mid-epoch (a checkpoint written on SIGINT/SIGTERM records the step).
"""
from __future__ import annotations

import argparse
import math
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

from datasets import DatasetError, epoch_generator, load_dataset, make_data_source
from engine.checkpoint import (capture_rng, load_checkpoint, load_model_state, restore_rng,
                               save_checkpoint)
from engine.config import config_diff, load_config, loss_kwargs, to_yaml
from engine.errors import CheckpointError, NumericalFault, OutputDirError, UserError
from engine.evaluation import evaluate, predict_probs
from engine.io import numpy_save_atomic, write_json_atomic, write_text_atomic
from engine.metrics import EpochAccumulator
from engine.rundir import (CHECKPOINT, RunLock, read_result, remove_stale_temp_files,
                           write_metrics)
from engine.step import forward_backward, optimizer_step
from engine.setup import (build_optimizer, build_scheduler, check_writable,
                          configure_threads, default_run_dir, noise_inputs, noisy_val_split,
                          pick_device,
                          seed_everything, subset_indices, use_channels_last)
from losses import Combination, build_loss
from models import build_model
from noise import compare_estimate, estimate_noise, make_noisy_labels, realised_transition


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="YAML config (see configs/)")
    p.add_argument("--data-root", help="override dataset.root")
    p.add_argument("--out", help="run directory (default runs/<dataset>/<noise>/<loss>/seed<S>)")
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--noise-rate", type=float, help="override noise.rate")
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument("--train-subset", type=int, help="train on a fixed random subset of N samples")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--force-resume", action="store_true",
                   help="resume even if the config or noisy labels differ from the checkpoint")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. optim.lr=0.05 loss.beta=1")
    p.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    return p.parse_args(argv)


class StopRequest:
    """SIGINT/SIGTERM set a flag; the loop stops at the next step boundary and checkpoints.
    A second signal falls through to the default handler (immediate exit)."""

    def __init__(self):
        self.signal = None

    def install(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.signal = signum
        signal.signal(signum, signal.SIG_DFL)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return train(args)
    except (UserError, DatasetError) as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2


def train(args) -> int:
    t_start = time.time()
    overrides = {"dataset.root": args.data_root, "out": args.out, "train.epochs": args.epochs,
                 "noise.rate": args.noise_rate, "train.seed": args.seed,
                 "dataset.train_subset": args.train_subset}
    cfg = load_config(args.config, overrides=overrides, sets=args.set)
    out = Path(cfg["out"]) if cfg["out"] else default_run_dir(cfg)
    cfg["out"] = str(out)
    check_writable(out)

    # ---- is there already something in the run directory? (nothing is written yet) --------
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
            print(f"{out} is already finished (last-epoch test top-1 "
                  f"{finished['last']['test_top1']:.2f}); nothing to do")
            return 0

    # ---- data, noise, model, loss, optimiser ---------------------------------------------
    device = pick_device(cfg["train.device"])
    configure_threads(cfg["train.threads"])
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick kernels
    seed = cfg["train.seed"]
    seed_everything(seed)
    data = load_dataset(cfg["dataset.name"], cfg["dataset.root"], download=cfg["dataset.download"])
    train_images, clean = data.train_images, data.train_labels
    subset = subset_indices(len(clean), cfg["dataset.train_subset"])
    if subset is not None:
        train_images, clean = train_images[torch.from_numpy(subset)], clean[subset]
    K = data.num_classes
    noise_seed = seed if cfg["noise.seed"] is None else cfg["noise.seed"]
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
    all_noisy, all_clean = noisy.labels, clean
    if val_idx is not None:
        val_set = make_data_source(pipeline, train_images[torch.from_numpy(val_idx)], data,
                                   "none", device, channels_last, workers)
        val_noisy_t = torch.from_numpy(all_noisy[val_idx]).to(device)
        train_images = train_images[torch.from_numpy(train_idx)]
    train_noisy, clean = all_noisy[train_idx], all_clean[train_idx]
    train_set = make_data_source(pipeline, train_images, data, data.augment, device,
                                 channels_last, workers)
    test_set = make_data_source(pipeline, data.test_images, data, "none", device, channels_last,
                                workers)
    noisy_t = torch.from_numpy(train_noisy).to(device)
    clean_t = torch.from_numpy(clean).to(device)
    test_labels = torch.from_numpy(data.test_labels).to(device)

    model = build_model(cfg["model.name"], K, data.in_channels, data.image_size).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    params = loss_kwargs(cfg)
    if cfg["loss.name"] == "nlnl" and "class_counts" not in params:
        params["class_counts"] = np.bincount(train_noisy, minlength=K).clip(min=1).tolist()
    criterion = build_loss(cfg["loss.name"], K, **params).to(device)
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg["train.amp"] == "fp16")
    step_model = torch.compile(model) if cfg["train.compile"] else model

    # ---- resume ---------------------------------------------------------------------------
    start_epoch, start_step, history, partial = 0, 0, [], None
    if has_checkpoint:
        ckpt = load_checkpoint(out / CHECKPOINT, map_location=device)
        problems = config_diff(ckpt["config"], cfg)
        if ckpt["noisy_labels_sha256"] != noise_summary["labels_sha256"]:
            problems.append("the noisy training labels differ (noise seed, rate, kind or data)")
        if problems and not args.force_resume:
            raise CheckpointError(f"refusing to resume {out}: {'; '.join(problems)}. "
                                  f"Undo the change, or pass --force-resume")
        load_model_state(model, ckpt["model"], out / CHECKPOINT)
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        restore_rng(ckpt["rng"])
        start_epoch, start_step = ckpt["epoch"], ckpt.get("step", 0)
        history, partial = ckpt["history"], ckpt.get("partial")
        print(f"resuming {out} at epoch {start_epoch + 1}, step {start_step}")

    # ---- the run directory: from here on we write ------------------------------------------
    lock = RunLock(out).acquire()
    remove_stale_temp_files(out)
    write_text_atomic(out / "config.yaml", to_yaml(cfg))
    write_json_atomic(out / "noise.json", noise_summary)
    numpy_save_atomic(out / "noisy_labels.npy", noisy.labels)
    if val_idx is not None:
        numpy_save_atomic(out / "noisy_val_indices.npy", val_idx)
    from torch.utils.tensorboard import SummaryWriter
    tb = SummaryWriter(str(out / "tb"), purge_step=start_epoch + 1)
    print(f"{cfg['dataset.name']}: {len(clean)} train / {len(test_labels)} test, {K} classes | "
          f"noise {cfg['noise.kind']} {cfg['noise.rate']:g} (realised "
          f"{noisy.realised_rate:.4f}) | {cfg['model.name']} | loss {cfg['loss.name']} | "
          f"{device} | out {out}")

    stop = StopRequest()
    stop.install()
    epochs, batch_size = cfg["train.epochs"], cfg["train.batch_size"]
    term_names = criterion.term_names if isinstance(criterion, Combination) else ()
    n_batches = math.ceil(len(clean) / batch_size)
    skip_bad = cfg["train.nan_policy"] == "skip"

    def save(epoch_done, step_done, partial_state):
        save_checkpoint(out / CHECKPOINT, {
            "epoch": epoch_done, "step": step_done, "partial": partial_state,
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
            "rng": capture_rng(), "history": history, "config": cfg,
            "noisy_labels_sha256": noise_summary["labels_sha256"]})

    for epoch in range(start_epoch, epochs):
        t_epoch = time.time()
        step_model.train()
        # Device-side accumulators, read once per epoch: no host sync per step.
        sums = EpochAccumulator(term_names, device)
        first_bad = torch.full((), -1, device=device, dtype=torch.int64)
        bad_terms = torch.zeros(1 + len(term_names), device=device, dtype=torch.float64)
        if partial is not None and epoch == start_epoch:
            sums.load(partial["sums"])
            t_epoch -= partial["seconds"]
        first_step = start_step if epoch == start_epoch else 0
        batches = train_set.train_batches(batch_size, epoch_generator(seed, epoch), first_step)
        progress = tqdm_or_plain(batches, total=n_batches, initial=first_step,
                                 desc=f"epoch {epoch + 1}/{epochs}", enabled=cfg["train.progress"])
        step = first_step
        for x, index in progress:
            y, y_clean = noisy_t[index], clean_t[index]
            logits, loss, terms, finite = forward_backward(
                step_model, criterion, optimizer, scaler, x, y, cfg["train.amp"],
                cfg["optim.grad_clip"], cfg["optim.l1"])
            if skip_bad and not bool(finite):
                sums.add_skipped()
                step += 1
                continue
            first_bad = torch.where((first_bad < 0) & ~finite, step, first_bad)
            bad_terms = torch.where((first_bad == step) & ~finite,
                                    torch.cat([loss.detach().double().view(1), terms.double()]),
                                    bad_terms)
            optimizer_step(optimizer, scaler)
            with torch.no_grad():
                sums.add(loss, terms, logits.argmax(dim=1), y, y_clean)
            step += 1
            if stop.signal is not None:
                break
        check_finite(first_bad, bad_terms, epoch, term_names, stop_run=not skip_bad)

        if stop.signal is not None and step < n_batches:
            save(epoch, step, {"sums": sums.state(), "seconds": time.time() - t_epoch})
            lock.release()
            name = signal.Signals(stop.signal).name
            print(f"\n{name}: stopped at epoch {epoch + 1}, step {step}/{n_batches}; checkpoint "
                  f"saved. Resume with: python train.py --config {args.config} --out {out} "
                  f"--resume", file=sys.stderr)
            return 128 + stop.signal

        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        test = evaluate(step_model, test_set, test_labels, K, cfg["train.eval_batch_size"],
                        cfg["train.amp"])
        row = {"epoch": epoch + 1, "lr": lr, **sums.row(), "test_top1": test["top1"],
               "test_top5": test["top5"], "test_loss": test["loss"]}
        if val_idx is not None:
            row["val_noisy_top1"] = evaluate(step_model, val_set, val_noisy_t, K,
                                             cfg["train.eval_batch_size"], cfg["train.amp"])["top1"]
        row["epoch_seconds"] = time.time() - t_epoch
        history.append(row)
        partial, start_step = None, 0
        save(epoch + 1, 0, None)
        write_metrics(out, history)
        for key, value in row.items():
            if key != "epoch" and value is not None:
                tb.add_scalar(key, value, epoch + 1)
        tb.flush()
        print(f"epoch {epoch + 1:3d}/{epochs} lr {lr:.5f} loss {row['train_loss']:.4f} "
              f"train(noisy) {row['train_acc_noisy']:.2f} train(clean) "
              f"{row['train_acc_clean']:.2f} test {test['top1']:.2f} "
              f"({row['epoch_seconds']:.1f}s)")
        if stop.signal is not None:
            lock.release()
            print(f"{signal.Signals(stop.signal).name}: stopped after epoch {epoch + 1}; "
                  f"resume with --resume", file=sys.stderr)
            return 128 + stop.signal

    tb.close()
    # Estimated against injected noise, from the final model on the (unaugmented) train set.
    train_view = make_data_source(pipeline, train_images, data, "none", device, channels_last,
                                  workers)
    probs = predict_probs(step_model, train_view, len(clean), cfg["train.eval_batch_size"],
                          cfg["train.amp"])
    estimate = compare_estimate(estimate_noise(probs, train_noisy, K),
                                realised_transition(clean, train_noisy, K),
                                float(np.mean(train_noisy != clean)))
    best = max(history, key=lambda r: r["test_top1"])
    last = history[-1]
    best_val = (max(history, key=lambda r: r["val_noisy_top1"]) if val_idx is not None else None)
    result = {
        "status": "finished",
        "protocol": "last epoch (the paper's); best_on_test is test-selected and optimistic; "
                    "best_on_noisy_val is selected on a held-out split of the noisy training set",
        "last": {"epoch": last["epoch"], "test_top1": last["test_top1"],
                 "test_top5": last["test_top5"]},
        "best_on_test": {"epoch": best["epoch"], "test_top1": best["test_top1"],
                         "selected_on": "test set"},
        "best_on_noisy_val": None if best_val is None else {
            "epoch": best_val["epoch"], "test_top1": best_val["test_top1"],
            "val_noisy_top1": best_val["val_noisy_top1"],
            "selected_on": f"noisy validation split ({len(val_idx)} samples)"},
        "noise_estimate": estimate,
        "skipped_steps": sum(r["skipped_steps"] for r in history),
        "noise": {k: v for k, v in noise_summary.items() if k != "transition"},
        "device": str(device),
        "wall_seconds": time.time() - t_start,
        "config": cfg,
    }
    write_json_atomic(out / "result.json", result)
    lock.release()
    print(f"done: last-epoch test top-1 {last['test_top1']:.2f} (best {best['test_top1']:.2f} "
          f"at epoch {best['epoch']}, selected on test) -> {out / 'result.json'}")
    return 0


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
