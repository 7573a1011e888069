"""Data-parallel training across processes (torchrun), with one process as the special case.

    torchrun --nproc_per_node=4 train.py --config ...          # one machine, 4 GPUs
    torchrun --nproc_per_node=2 train.py --set train.device=cpu  # CPU, gloo (how it is tested)

How N processes reproduce one process (the meaning of every setting is kept):
- `train.batch_size` is the *total* batch. Every rank draws the same global order from the
  epoch generator and takes its contiguous share of each global batch (`shard`), so the samples
  of a step, and their augmentation parameters, are exactly those of one process.
- DDP averages gradients over ranks. Each rank scales its mean loss by n_rank * N / n_batch
  (`shard_weight`), so the average is the mean over the whole batch even when the last batch
  does not split evenly. The learning rate therefore needs no change.
- Gradient clipping runs after the all-reduce, on the global gradient.
- BatchNorm: by default each rank normalises with the statistics of its own share (standard
  DDP); with `train.sync_bn` the statistics are those of the whole batch, as in one process
  (torch.nn.SyncBatchNorm on CUDA; on the CPU, where SyncBatchNorm is not implemented,
  GlobalBatchNorm below). Without it, N processes are a slightly different (smaller per-BN
  batch) experiment; that is the only reason they differ by more than float rounding.
- Evaluation shards the test set and sums the counts; rank 0's BN running statistics are
  broadcast first, so all ranks evaluate the same model, the one rank 0 checkpoints.
- Only rank 0 writes (run dir, logs, checkpoints). Rank 0 reads a checkpoint and broadcasts
  it, so resuming needs the run directory on rank 0's machine only.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # ---- collectives (no-ops in one process) --------------------------------------------
    def all_reduce(self, tensor: torch.Tensor, op=dist.ReduceOp.SUM) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(tensor, op=op)
        return tensor

    def broadcast_object(self, obj=None):
        """Rank 0's `obj` on every rank."""
        if not self.enabled:
            return obj
        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def on_main(self, fn, *args, **kwargs):
        """Run fn on rank 0 only and give every rank its result; an exception raised there is
        raised on every rank (so no rank is left waiting in a collective)."""
        if not self.enabled:
            return fn(*args, **kwargs)
        outcome = None
        if self.is_main:
            try:
                outcome = ("ok", fn(*args, **kwargs))
            except Exception as e:  # re-raised below, on all ranks
                outcome = ("error", e)
        status, value = self.broadcast_object(outcome)
        if status == "error":
            value.from_rank0 = True  # train.main prints such an error on rank 0 only
            raise value
        return value

    def gather_object(self, obj):
        """[obj of rank 0, obj of rank 1, ...] on rank 0; None on the other ranks."""
        if not self.enabled:
            return [obj]
        out = [None] * self.world if self.is_main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def any(self, flag: bool, device) -> bool:
        """True on every rank if it is true on any rank."""
        if not self.enabled:
            return bool(flag)
        t = torch.tensor([int(bool(flag))], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def broadcast_buffers(self, module: nn.Module) -> None:
        """Rank 0's buffers (BN running statistics) on every rank."""
        if self.enabled:
            for buf in module.buffers():
                dist.broadcast(buf, src=0)

    # ---- sharding ---------------------------------------------------------------------------
    def shard_bounds(self, n: int) -> tuple[int, int]:
        """[start, stop) of this rank's contiguous share of n items (sizes differ by <= 1)."""
        base, extra = divmod(n, self.world)
        start = self.rank * base + min(self.rank, extra)
        return start, start + base + (1 if self.rank < extra else 0)

    def min_batch(self) -> int:
        """The smallest global batch that is trained on: every process needs 2 samples (BatchNorm
        cannot train on one). A smaller final batch of an epoch is dropped; in one process that
        is a final batch of 1, which the paper's datasets never have."""
        return 2 * self.world

    def shard_weight(self, n_local: int, n_global: int) -> float:
        """Factor on this rank's mean loss that makes DDP's gradient average the global mean."""
        return n_local * self.world / n_global


def init_distributed(device_setting: str) -> tuple[Dist, str]:
    """Read torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); start the process group.
    Returns the Dist and the device string to use (cuda:LOCAL_RANK on GPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), device_setting
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = (
        torch.cuda.is_available()
        and device_setting in ("auto", "cuda")
        or device_setting.startswith("cuda")
    )
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device_setting = f"cuda:{local_rank}"
    elif device_setting == "auto":
        device_setting = "cpu"
    if not dist.is_initialized():
        dist.init_process_group(
            "nccl" if use_cuda else "gloo", timeout=datetime.timedelta(minutes=30)
        )
    return Dist(rank=rank, world=world, local_rank=local_rank), device_setting


def shutdown(d: Dist) -> None:
    if d.enabled and dist.is_initialized():
        dist.destroy_process_group()


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes, differentiable: the gradient of each input is the sum over processes
    of the output's gradient (every process's loss depends on the global sum)."""

    @staticmethod
    def forward(ctx, tensor):
        out = tensor.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the whole global batch (all ranks),
    for devices where torch.nn.SyncBatchNorm does not run (the CPU with gloo).

    Three small all-reduces per layer (count, mean, then the centred sum of squares, as one
    process computes them); all differentiable, so the backward pass is that of BN
    over the global batch. Statistics are computed in fp32 also under autocast. Checked against
    one process by tests/test_distributed.py.
    """

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        all_reduce = _AllReduceSum.apply
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.float()
        count = torch.tensor([xf.numel() // xf.shape[1]], dtype=torch.float32, device=x.device)
        count = all_reduce(count)
        mean = all_reduce(xf.sum(dims)) / count
        centred = xf - mean.view(shape)
        var = all_reduce((centred * centred).sum(dims)) / count
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = (
                    self.momentum
                    if self.momentum is not None
                    else 1.0 / float(self.num_batches_tracked)
                )
                unbiased = var * (count / (count - 1).clamp(min=1))
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(unbiased.detach(), alpha=m)
        return y.to(x.dtype)


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Replace every BatchNorm layer with one that uses global-batch statistics."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _to_global_bn(module)


def _to_global_bn(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        new = GlobalBatchNorm(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
        ).to(device=module.weight.device if module.affine else None)
        new.load_state_dict(module.state_dict())
        return new
    for name, child in module.named_children():
        setattr(module, name, _to_global_bn(child))
    return module


def wrap_ddp(model: nn.Module, d: Dist, device: torch.device) -> nn.Module:
    if not d.enabled:
        return model
    ids = [device.index] if device.type == "cuda" else None
    # No buffer sync in every forward: rank 0's BN buffers are broadcast explicitly before
    # evaluation and checkpoints; between, each rank tracks its own (identical with sync_bn).
    # (torch 2.14 renamed broadcast_buffers to forward_sync_buffers.)
    import inspect

    params = inspect.signature(nn.parallel.DistributedDataParallel).parameters
    key = "forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers"
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, **{key: False})


__all__ = [
    "Dist",
    "GlobalBatchNorm",
    "convert_sync_batchnorm",
    "init_distributed",
    "shutdown",
    "wrap_ddp",
]
