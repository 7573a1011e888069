"""The parts of one SGD step, in the order train_epoch (engine/training.py) calls them; shared
with scripts/benchmark.py and the side-by-side tests, so that what is timed and compared is
what trains."""

from __future__ import annotations

import torch

from .runtime import autocast


def forward(model, criterion, x, y, amp: str):
    """The model under autocast, the loss outside it (losses compute in fp32 at least).
    Returns (logits, loss, the loss's named terms stacked, or an empty tensor)."""
    with autocast(x.device, amp):
        logits = model(x)
    loss, terms = criterion.components(logits, y)
    terms = torch.stack(list(terms.values())) if terms else torch.zeros(0, device=x.device)
    return logits, loss, terms


def backward(loss, model, optimizer, scaler, max_norm: float | None) -> torch.Tensor:
    """Fresh gradients of `loss` (scaled under fp16, then unscaled) with their global norm
    clipped to max_norm (spec §8.1: 5.0 for every method). Returns whether the loss and the
    gradient norm are finite, as a device tensor (no host sync)."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    grad_norm = grad_norm_and_clip(model, max_norm)
    finite = torch.isfinite(loss)
    # fp16: an inf gradient is the scaler's business (it skips the step and lowers the scale)
    return finite if scaler.is_enabled() else finite & torch.isfinite(grad_norm)


def grad_norm_and_clip(model: torch.nn.Module, max_norm: float | None) -> torch.Tensor:
    """Clip the global gradient norm to max_norm; returns the pre-clip norm."""
    params = [p for p in model.parameters() if p.grad is not None]
    if max_norm is None:
        return torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(p.grad) for p in params])
        )
    return torch.nn.utils.clip_grad_norm_(params, max_norm)


def optimizer_step(optimizer, scaler) -> None:
    scaler.step(optimizer)
    scaler.update()
