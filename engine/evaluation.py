"""Evaluation on a clean set: top-1, top-5 and mean CE, accumulated on the device."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .distributed import Dist
from .runtime import autocast


@torch.no_grad()
def evaluate(
    model,
    data,
    labels: torch.Tensor,
    num_classes: int,
    batch_size: int,
    amp: str = "none",
    dist=None,
) -> dict:
    """`data` is a DeviceDataset (or anything with eval_batches); labels a device int64 tensor.
    Under torchrun (`dist`, an engine.distributed.Dist) each process evaluates its share and the
    counts are summed, so every process returns the metrics of the whole set."""
    model.eval()
    device = labels.device
    k = min(5, num_classes)
    correct1 = torch.zeros((), device=device, dtype=torch.int64)
    correct5 = torch.zeros((), device=device, dtype=torch.int64)
    ce_sum = torch.zeros((), device=device, dtype=torch.float64)
    dist = dist or Dist()
    for x, index in data.eval_batches(batch_size, shard=dist):
        y = labels[index]
        with autocast(device, amp):
            logits = model(x)
        logits = logits.float()
        top = logits.topk(k, dim=1).indices
        hit = top == y.view(-1, 1)
        correct1 += hit[:, 0].sum()
        correct5 += hit.any(dim=1).sum()
        ce_sum += F.cross_entropy(logits, y, reduction="sum").double()
    if dist.enabled:
        totals = torch.stack([correct1.double(), correct5.double(), ce_sum])
        correct1, correct5, ce_sum = dist.all_reduce(totals)
    n = labels.numel()
    return {
        "top1": 100.0 * correct1.item() / n,
        "top5": 100.0 * correct5.item() / n,
        "loss": ce_sum.item() / n,
    }


@torch.no_grad()
def predict_probs(model, data, n: int, batch_size: int, amp: str = "none"):
    """Softmax outputs (numpy, n x K) over a batch source in order (no augmentation)."""
    model.eval()
    out = []
    for x, _ in data.eval_batches(batch_size):
        with autocast(x.device, amp):
            logits = model(x)
        out.append(torch.softmax(logits.float(), dim=1).cpu())
    probs = torch.cat(out).numpy()
    assert len(probs) == n
    return probs
