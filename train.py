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
import shlex
import sys
import time
from pathlib import Path

from engine.cli import HelpFormatter, add_set_option


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    p.add_argument(
        "--config",
        help="YAML config (see configs/); with --resume --out DIR it "
        "defaults to DIR/config.yaml, the run's resolved config",
    )
    p.add_argument("--data-root", help="override dataset.root")
    p.add_argument(
        "--out",
        help="run directory (unset: runs/<dataset>/<kind>/<rate>/<loss>/seed<S>, "
        "<loss>@<variant> for a run that changes its config: "
        "engine/record.py)",
    )
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--noise-rate", type=float, help="override noise.rate")
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument(
        "--recipe",
        help="a named recipe of the config's `recipes:` table, or paper for the values "
        "it lists (configs/base/mnist.yaml); unset: the config's default (MNIST: release)",
    )
    p.add_argument("--train-subset", type=int, help="train on a fixed random subset of N samples")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument(
        "--force-resume",
        action="store_true",
        help="resume even if the config or noisy labels differ from the checkpoint "
        "(the changes and the epoch/step are recorded in result.json)",
    )
    add_set_option(p, "override any config key, e.g. optim.lr=0.05 loss.beta=1 (repeatable)")
    p.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    args = p.parse_args(argv)
    if args.config is None and not (args.resume and args.out):
        p.error("--config is required (or --resume --out DIR, which reads DIR/config.yaml)")
    return args


if __name__ == "__main__":
    parse_args()  # --help and usage errors answer here, before torch is imported (seconds)

import torch  # noqa: E402

from datasets import DatasetError  # noqa: E402
from datasets.device import train_batch_bounds  # noqa: E402
from engine import seeds  # noqa: E402
from engine.checkpoint import CHECKPOINT, read_checkpoint  # noqa: E402
from engine.distributed import init_distributed, shutdown, wrap_ddp  # noqa: E402
from engine.errors import ConfigError, UserError  # noqa: E402
from engine.experiment import build_experiment, load_config, noise_estimate, run_coordinates  # noqa: E402
from engine.record import RunCoordinates, run_path  # noqa: E402
from engine.result import build_result  # noqa: E402
from engine.rundir import RunDirectory, inspect_run_dir  # noqa: E402
from engine.runtime import (  # noqa: E402
    configure_kernels,
    configure_threads,
    epoch_generator,
    pick_device,
    seed_everything,
)
from engine.stop import STOP_SIGNALS, StopRequest, signal_handlers_restored  # noqa: E402,F401
from engine.training import (  # noqa: E402
    checkpoint_payload,
    end_epoch,
    enter_epoch,
    new_state,
    restore_rng_streams,
    restore_state,
    tqdm_or_plain,
    train_epoch,
)


def main(argv=None) -> int:
    args = parse_args(argv)
    dist = None
    try:
        notes = []
        cfg = load_config(
            config_path(args),
            overrides={
                "dataset.root": args.data_root,
                "out": args.out,
                "train.epochs": args.epochs,
                "noise.rate": args.noise_rate,
                "train.seed": args.seed,
                "recipe": args.recipe,
                "dataset.train_subset": args.train_subset,
            },
            sets=args.set,
            notes=notes,
        )
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


def train(args, cfg: dict, dist, device_name: str) -> int:
    t_start = time.time()
    log = print if dist.is_main else (lambda *a, **k: None)
    out, where, finished, has_checkpoint = locate_run(args, cfg, dist)
    if finished is not None:
        log(
            f"{out} is already finished (last-epoch test top-1 "
            f"{finished['last']['test_top1']:.2f}); nothing to do"
        )
        return 0

    # ---- the experiment (data, noise, batch sources, model, loss), the optimiser, a resume ----
    device = pick_device(device_name)
    configure_threads(cfg["train.threads"])
    configure_kernels(device, cfg["train.deterministic"])
    seed_everything(cfg["train.seed"])
    exp = build_experiment(cfg, device, dist)
    state = new_state(exp.model, cfg, device)
    step_model, eval_model = process_models(exp.model, cfg, dist, device)
    if has_checkpoint:
        where = resume(state, exp, out, args.force_resume, dist, log) or where

    # ---- the run directory: from here on rank 0 writes ---------------------------------------
    run = RunDirectory(out, dist)
    run.open(cfg, state.resumes, exp.noise_summary, exp.noisy.labels, exp.val_idx, state.history)
    log(run_line(exp, dist, out))
    stop = StopRequest(dist, device).install()
    epochs, batch_size = cfg["train.epochs"], cfg["train.batch_size"]
    n_batches = sum(1 for _ in train_batch_bounds(len(exp.noisy_t), batch_size, shard=dist))

    def save():
        run.save(
            lambda rng_ranks: checkpoint_payload(
                state, exp.model, cfg, exp.noise_summary["labels_sha256"], rng_ranks, where
            )
        )

    for epoch in range(state.epoch, epochs):
        started = time.time() - (state.partial["seconds"] if state.partial else 0.0)
        enter_epoch(state, exp.model, cfg, epoch)
        batches = epoch_batches(exp, state, epoch, n_batches, dist)
        sums, state.step, stopped = train_epoch(exp, state, step_model, batches, stop, dist)
        if stopped and state.step < n_batches:
            state.partial = {"sums": sums.state(), "seconds": time.time() - started}
            save()
            return stop_run(
                run,
                stop,
                log,
                f"stopped at epoch {epoch + 1}, step {state.step}/"
                f"{n_batches}; checkpoint saved. Resume with",
                out,
            )
        row = end_epoch(exp, state, eval_model, epoch, sums, started, dist)
        state.history.append(row)
        state.epoch, state.step, state.partial = epoch + 1, 0, None
        save()
        run.log_epoch(state.history)
        log(epoch_line(row, epochs, exp.eval_sets))
        if stopped or stop.agreed(0):  # a request that came after the last check of the epoch
            return stop_run(run, stop, log, f"stopped after epoch {epoch + 1}; resume with", out)

    try:
        if dist.is_main:
            finish(run, exp, state, dist, time.time() - t_start, log, where)
    finally:
        dist.barrier()  # the other ranks wait for rank 0's result.json (or its failure)
    return 0


def locate_run(args, cfg: dict, dist):
    """(run directory, its coordinates, its finished result or None, has a checkpoint): rank 0
    inspects the directory, every rank gets its verdict (or its error)."""
    where = run_coordinates(cfg, args.config)
    out = Path(cfg["out"]) if cfg["out"] else run_path("runs", where)
    cfg["out"] = str(out)
    finished, has_checkpoint = dist.on_main(
        inspect_run_dir, out, cfg, args.resume, args.force_resume
    )
    if dist.enabled and cfg["dataset.pipeline"] == "reference":
        raise UserError(
            "dataset.pipeline=reference runs in one process only; use the default "
            "fast pipeline with torchrun"
        )
    return out, where, finished, has_checkpoint


def epoch_batches(exp, state, epoch: int, n_batches: int, dist):
    """The epoch's batches from step `state.step` on (order and augmentation from its own
    generator), behind a progress bar when the config asks for one."""
    cfg = exp.cfg
    batches = exp.train_set.train_batches(
        cfg["train.batch_size"], epoch_generator(cfg["train.seed"], epoch), state.step, shard=dist
    )
    return tqdm_or_plain(
        batches,
        total=n_batches,
        initial=state.step,
        desc=f"epoch {epoch + 1}/{cfg['train.epochs']}",
        enabled=cfg["train.progress"] and dist.is_main,
    )


def config_path(args) -> Path:
    """--config, or the resolved config.yaml of the run being resumed (which holds every flag
    it was started with: noise rate, epochs, subset, seed, --set)."""
    if args.config is not None:
        return Path(args.config)
    saved = Path(args.out) / "config.yaml"
    if not saved.is_file():
        raise ConfigError(
            f"{args.out} holds no config.yaml to resume from; start the run with "
            f"--config FILE --out {args.out}"
        )
    return saved


def resume_command(out: Path) -> str:
    """A command that resumes this run as it was started: its config.yaml is resolved."""
    return f"python train.py --resume --out {shlex.quote(str(out))}"


def process_models(model, cfg: dict, dist, device):
    """(the module this process steps, the one it evaluates): DDP averages gradients across
    processes; evaluation runs the plain module (no collectives, each process its share)."""
    if dist.enabled:
        # Losses that draw random numbers (NLNL's complementary labels) use the global RNG:
        # equal states on every process would draw the same numbers for different samples.
        # (After the model is built: every rank starts from the same weights anyway.) Each
        # process's state goes into the checkpoint.
        torch.manual_seed(seeds.rank_seed(cfg["train.seed"], dist.rank))
    step_model = wrap_ddp(model, dist, device)
    if cfg["train.compile"]:
        step_model = torch.compile(step_model)
    return step_model, (step_model if not dist.enabled else model)


def resume(state, exp, out: Path, force: bool, dist, log) -> RunCoordinates | None:
    """The checkpoint's model, optimiser, schedule, progress and RNG streams. Rank 0 reads and
    checks it, every rank gets it: no shared filesystem needed. Returns where the run was
    filed when it started (its variant is known only to the command that started it)."""
    ckpt = dist.on_main(
        read_checkpoint, out / CHECKPOINT, exp.cfg, exp.noise_summary["labels_sha256"], force, "cpu"
    )
    restore_state(state, exp.model, ckpt, exp.cfg, out / CHECKPOINT)
    restore_rng_streams(ckpt, dist)
    log(f"resuming {out} at epoch {state.epoch + 1}, step {state.step}")
    last = state.resumes[-1] if state.resumes else None
    if last and last["epoch"] == state.epoch and last["step"] == state.step:
        log(f"recorded in result.json ('resumes'): {'; '.join(last['changes'])}")
    return RunCoordinates(**ckpt["where"]) if ckpt.get("where") else None


def stop_run(run, stop, log, what: str, out: Path) -> int:
    run.release()
    log(f"\n{stop.name}: {what}: {resume_command(out)}", file=sys.stderr)
    return stop.exit_code


def finish(run, exp, state, dist, wall_seconds: float, log, where: RunCoordinates) -> None:
    """Rank 0: the noise estimate and result.json."""
    result = build_result(
        state.history,
        exp.eval_sets,
        None if exp.val_idx is None else len(exp.val_idx),
        noise_estimate(exp, exp.model),
        state.resumes,
        exp.noise_summary,
        str(exp.device),
        dist.world,
        wall_seconds,
        exp.cfg,
        where,
    )
    run.finish(result)
    best, last = result["best_on_test"], result["last"]
    log(
        f"done: last-epoch test top-1 {last['test_top1']:.2f} (best {best['test_top1']:.2f} "
        f"at epoch {best['epoch']}, selected on test) -> {run.out / 'result.json'}"
    )


def run_line(exp, dist, out: Path) -> str:
    cfg = exp.cfg
    return (
        f"{cfg['dataset.name']}: {len(exp.noisy_t)} train / {len(exp.eval_sets['test'][1])} "
        f"test, {exp.num_classes} classes | noise {cfg['noise.kind']} {cfg['noise.rate']:g} "
        f"(realised {exp.noisy.realised_rate:.4f}) | {cfg['model.name']} | loss "
        f"{cfg['loss.name']}{warmup_note(cfg)} | "
        f"{exp.device}{f' x {dist.world} processes' if dist.enabled else ''} | out {out}"
    )


def epoch_line(row: dict, epochs: int, eval_sets) -> str:
    extra = "".join(f" {name} {row[name + '_top1']:.2f}" for name in eval_sets if name != "test")
    return (
        f"epoch {row['epoch']:3d}/{epochs} lr {row['lr']:.5f} loss {row['train_loss']:.4f} "
        f"train(noisy) {row['train_acc_noisy']:.2f} train(clean) "
        f"{row['train_acc_clean']:.2f} test {row['test_top1']:.2f}{extra} "
        f"({row['epoch_seconds']:.1f}s)"
    )


def warmup_note(cfg: dict) -> str:
    if not cfg["loss.warmup_epochs"]:
        return ""
    lr = cfg["optim.lr_after_warmup"]
    return f" after {cfg['loss.warmup_epochs']} epochs of {cfg['loss.warmup_loss']}" + (
        f" (then a fresh SGD at lr {lr:g})" if lr is not None else ""
    )


if __name__ == "__main__":
    sys.exit(main())
