"""One epoch of training and its evaluation, and the state a checkpoint carries between epochs.

train.py calls, per epoch: `enter_epoch` (the optimiser phase), `train_epoch` (the steps, the
device-side metrics, the NaN policy, a stop request between steps) and `end_epoch` (schedule,
evaluation, the epoch's row). A Dist makes the same calls right in one process and under
torchrun: its collectives are no-ops in one process (engine/distributed.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from . import seeds
from .checkpoint import capture_rng, load_model_state, restore_rng
from .errors import NumericalFault
from .evaluation import evaluate
from .metrics import EpochAccumulator
from .optim import build_phase_optimiser, loss_phase, optim_phase
from .step import backward, forward, optimizer_step


@dataclass
class TrainState:
    """Everything besides the model that a checkpoint restores: the optimiser, its schedule and
    loss scaler and which phase they belong to, how far the run got (`epoch` epochs done,
    `step` steps of the next one), the rows so far, and the record of resumes."""

    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: torch.amp.GradScaler
    optim_phase: int = 0
    epoch: int = 0
    step: int = 0
    history: list = field(default_factory=list)
    partial: dict | None = None  # a mid-epoch checkpoint's metric sums and seconds
    resumes: list = field(default_factory=list)


def new_state(model, cfg: dict, device: torch.device) -> TrainState:
    optimizer, scheduler = build_phase_optimiser(model, cfg, 0)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg["train.amp"] == "fp16")
    return TrainState(optimizer, scheduler, scaler)


def restore_state(state: TrainState, model, ckpt: dict, cfg: dict, path) -> None:
    load_model_state(model, ckpt["model"], path)
    state.optim_phase = ckpt.get("optim_phase", 0)  # the states below belong to that optimiser
    if state.optim_phase:
        state.optimizer, state.scheduler = build_phase_optimiser(model, cfg, state.optim_phase)
    state.optimizer.load_state_dict(ckpt["optimizer"])
    state.scheduler.load_state_dict(ckpt["scheduler"])
    state.scaler.load_state_dict(ckpt["scaler"])
    state.epoch, state.step = ckpt["epoch"], ckpt.get("step", 0)
    state.history, state.partial, state.resumes = (
        ckpt["history"],
        ckpt.get("partial"),
        ckpt["resumes"],
    )


def restore_rng_streams(ckpt: dict, dist) -> None:
    """Each process continues its own RNG stream (NLNL draws from it); another number of
    processes than at the checkpoint continues rank 0's, re-derived per rank."""
    rngs = ckpt.get("rng_ranks")
    if rngs is not None and len(rngs) == dist.world:
        restore_rng(rngs[dist.rank])
        return
    restore_rng(ckpt["rng"])
    if dist.enabled:
        draw = int(torch.randint(2**62, (1,)))
        torch.manual_seed(seeds.rank_reseed(draw, dist.rank))


def checkpoint_payload(
    state: TrainState, model, cfg: dict, labels_sha256: str, rng_ranks, where=None
) -> dict:
    """What engine/checkpoint.py writes for this project's run; `where`: its coordinates."""
    return {
        "where": None if where is None else where._asdict(),
        "epoch": state.epoch,
        "step": state.step,
        "partial": state.partial,
        "model": model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "scaler": state.scaler.state_dict(),
        "optim_phase": state.optim_phase,
        "rng": capture_rng(),
        "rng_ranks": rng_ranks,
        "history": state.history,
        "config": cfg,
        "resumes": state.resumes,
        "noisy_labels_sha256": labels_sha256,
    }


def enter_epoch(state: TrainState, model, cfg: dict, epoch: int) -> None:
    """A fresh optimiser where its phase starts (DMI after its warm-up)."""
    phase = optim_phase(cfg, epoch)
    if phase != state.optim_phase:
        state.optim_phase = phase
        state.optimizer, state.scheduler = build_phase_optimiser(model, cfg, phase)


class FirstNonFinite:
    """The first step of the epoch whose loss or gradient was not finite, and its terms; kept on
    the device (no host sync per step) and checked once, at the epoch's end."""

    def __init__(self, term_names: tuple, device):
        self.term_names = term_names
        self.step = torch.full((), -1, device=device, dtype=torch.int64)
        self.values = torch.zeros(1 + len(term_names), device=device, dtype=torch.float64)

    def update(self, step: int, finite, loss, terms) -> None:
        self.step = torch.where((self.step < 0) & ~finite, step, self.step)
        self.values = torch.where(
            (self.step == step) & ~finite,
            torch.cat([loss.detach().double().view(1), terms.double()]),
            self.values,
        )

    def reduce(self, dist) -> None:
        """The first bad step of any process (a no-op in one process)."""
        if dist.enabled:
            big = torch.iinfo(torch.int64).max
            first = dist.all_reduce(
                torch.where(self.step < 0, big, self.step), op=torch.distributed.ReduceOp.MIN
            )
            self.step = torch.where(first == big, -1, first)

    def raise_if_any(self, epoch: int) -> None:
        step = int(self.step)
        if step < 0:
            return
        parts = ", ".join(
            f"{n}={v:.4g}"
            for n, v in zip(("loss",) + tuple(self.term_names), self.values.tolist(), strict=True)
        )
        raise NumericalFault(
            f"non-finite loss or gradient at epoch {epoch + 1}, step {step} "
            f"({parts}); the last good checkpoint was kept. Lower optim.lr, "
            f"check the loss parameters, or set train.nan_policy=skip"
        )


def train_epoch(exp, state: TrainState, model, batches, stop, dist):
    """The steps of epoch `state.epoch` from step `state.step` on, until its end or a stop
    request; each step reads in order: the forward pass, the loss, the backward pass with
    clipping, the optimiser step. Returns (the epoch's metric sums over all processes, the
    steps done, stopped)."""
    cfg, device = exp.cfg, exp.device
    criterion = exp.criteria[loss_phase(cfg, state.epoch)]
    amp, max_norm = cfg["train.amp"], cfg["optim.grad_clip"]
    skip_bad = cfg["train.nan_policy"] == "skip"
    model.train()
    sums, bad = epoch_meters(criterion, state, device, dist)
    step, stopped = state.step, False
    for x, index in batches:
        y = exp.noisy_t[index]
        logits, loss, terms = forward(model, criterion, x, y, amp)
        weight = batch_share(exp, dist, index, step)
        finite = backward(
            loss if weight == 1.0 else loss * weight, model, state.optimizer, state.scaler, max_norm
        )
        if skip_bad and dist.any(not bool(finite), device):
            if dist.is_main:  # the sums are added up over processes at the epoch's end
                sums.add_skipped()
        else:
            bad.update(step, finite, loss, terms)
            optimizer_step(state.optimizer, state.scaler)
            with torch.no_grad():
                sums.add(loss, terms, logits.argmax(dim=1), y, exp.clean_t[index])
        step += 1
        stopped = stop.agreed(step)
        if stopped:
            break
    bad.reduce(dist)
    dist.all_reduce(sums.values)
    if not skip_bad:
        bad.raise_if_any(state.epoch)
    return sums, step, stopped


def epoch_meters(criterion, state: TrainState, device, dist):
    """The epoch's metric sums (those of a mid-epoch checkpoint restored once, on rank 0) and
    the watch for the first non-finite step."""
    sums = EpochAccumulator(criterion.term_names, device)
    if state.partial is not None and dist.is_main:
        sums.load(state.partial["sums"])
    return sums, FirstNonFinite(criterion.term_names, device)


def batch_share(exp, dist, index, step: int) -> float:
    """This process's share of the step's batch as a gradient weight, so that the average over
    processes is the mean over the whole batch (1.0 in one process)."""
    batch_size = exp.cfg["train.batch_size"]
    return dist.shard_weight(index.numel(), min(batch_size, len(exp.noisy_t) - step * batch_size))


def end_epoch(
    exp, state: TrainState, eval_model, epoch: int, sums, seconds_before: float, dist
) -> dict:
    """Step the schedule, evaluate every evaluation set, and return the epoch's row."""
    cfg = exp.cfg
    lr = state.optimizer.param_groups[0]["lr"]
    state.scheduler.step()
    dist.broadcast_buffers(exp.model)  # every process evaluates (and rank 0 saves) one model
    row = {"epoch": epoch + 1, "lr": lr, **sums.row()}
    for name, (eval_set, labels) in exp.eval_sets.items():
        result = evaluate(
            eval_model,
            eval_set,
            labels,
            exp.num_classes,
            cfg["train.eval_batch_size"],
            cfg["train.amp"],
            dist=dist,
        )
        row.update(
            {
                f"{name}_top1": result["top1"],
                f"{name}_top5": result["top5"],
                f"{name}_loss": result["loss"],
            }
        )
    if exp.val_set is not None:
        row["val_noisy_top1"] = evaluate(
            eval_model,
            *exp.val_set,
            exp.num_classes,
            cfg["train.eval_batch_size"],
            cfg["train.amp"],
            dist=dist,
        )["top1"]
    row["epoch_seconds"] = time.time() - seconds_before
    # what ran, whatever config.yaml says now: a resume may change train.threads, and the
    # thread count changes results in the last digits (sweep.py --jobs sets it)
    row["threads"] = torch.get_num_threads()
    row["device"] = str(exp.device)  # likewise: a sweep may resume a run on another GPU
    return row


def tqdm_or_plain(iterable, total, initial, desc, enabled):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(
        iterable,
        total=total,
        initial=initial,
        desc=desc,
        leave=False,
        dynamic_ncols=True,
        disable=None,
    )
