"""One SGD step, shared by train.py and scripts/benchmark.py so that what is timed is what trains."""
from __future__ import annotations

import torch

from .runtime import autocast


def grad_norm_and_clip(model: torch.nn.Module, max_norm: float | None) -> torch.Tensor:
    """Clip the global gradient norm to max_norm (spec §8.1: 5.0 for every method); returns the
    pre-clip norm as a device tensor (no host sync)."""
    params = [p for p in model.parameters() if p.grad is not None]
    if max_norm is None:
        return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad)
                                                     for p in params]))
    return torch.nn.utils.clip_grad_norm_(params, max_norm)


def forward_backward(model, criterion, optimizer, scaler, x, y, amp: str,
                     grad_clip: float | None, l1: float = 0.0, grad_weight: float = 1.0):
    """Forward, loss (fp32, outside autocast), backward, unscale, clip. The optimizer step is
    left to the caller so that it can skip a non-finite step. `grad_weight` scales the
    gradient only (a process's share of a distributed batch, engine/distributed.py).

    Returns (logits, loss, weighted loss terms or an empty tensor, finite flag), all on device.
    """
    with autocast(x.device, amp):
        logits = model(x)
    loss, terms = criterion.components(logits, y)
    terms = torch.stack(list(terms.values())) if terms else torch.zeros(0, device=x.device)
    if l1:
        # ANL's explicit L1 penalty over *all* parameters, BN and biases included (spec §15.2);
        # part of the objective, so it is part of the logged loss too.
        loss = loss + l1 * sum(p.abs().sum() for p in model.parameters())
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss if grad_weight == 1.0 else loss * grad_weight).backward()
    scaler.unscale_(optimizer)
    grad_norm = grad_norm_and_clip(model, grad_clip)
    # fp16: an inf gradient is the scaler's business (it skips the step and lowers the scale).
    finite = torch.isfinite(loss)
    if not scaler.is_enabled():
        finite = finite & torch.isfinite(grad_norm)
    return logits, loss, terms, finite


def optimizer_step(optimizer, scaler) -> None:
    scaler.step(optimizer)
    scaler.update()
