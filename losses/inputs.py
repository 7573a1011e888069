"""What a loss accepts when called, as torch.nn.CrossEntropyLoss does: logits (N, K) or
(N, K, d1, ..., dk) of any floating dtype, integer class indices (N,) or (N, d1, ..., dk) on the
same device, and optionally an `ignore_index` whose samples are left out.

`Rows` turns a call into the (N, K) logits and (N,) targets every loss computes on, and puts the
result back into the caller's shape. The common call, (N, K) logits with int64 targets and no
ignore_index, passes through untouched, so its values are exactly those of the plain code.
An ignored sample is dropped before the loss sees the batch: the mean is over the kept samples,
its gradient is 0, batch-level terms (DMI, entropy_reg) see only the kept samples, and with
reduction="none" its value is 0. Unlike torch's default (-100), ignore_index defaults to None:
nothing is ignored unless asked, and the plain call needs no host synchronisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def check_ignore_index(value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(
            f"ignore_index must be None or an integer (e.g. -100, as in "
            f"torch.nn.CrossEntropyLoss), got {value!r}"
        )
    return value


def check_tensors(logits, targets, num_classes: int) -> None:
    """Types, shapes and devices: metadata only, so the check costs no device work."""
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        what = logits.dtype if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise TypeError(f"logits must be a floating-point torch.Tensor, got {what}")
    if (
        not isinstance(targets, torch.Tensor)
        or targets.is_floating_point()
        or targets.is_complex()
        or targets.dtype == torch.bool
    ):
        what = targets.dtype if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise TypeError(
            f"targets must be an integer torch.Tensor of class indices (soft "
            f"labels are not supported), got {what}"
        )
    if logits.dim() < 2 or logits.shape[1] != num_classes:
        raise ValueError(
            f"logits must have shape (N, {num_classes}) or (N, {num_classes}, d1, "
            f"...) for num_classes={num_classes}, got {tuple(logits.shape)}"
        )
    expected = logits.shape[:1] + logits.shape[2:]
    if targets.shape != expected:
        raise ValueError(
            f"targets must have shape {tuple(expected)} for logits of shape "
            f"{tuple(logits.shape)}, got {tuple(targets.shape)}"
        )
    if targets.device != logits.device:
        raise ValueError(
            f"logits and targets must be on one device, got {logits.device} and {targets.device}"
        )


def check_target_values(targets: torch.Tensor, num_classes: int, ignore_index) -> None:
    """Class indices in [0, K) (or ignore_index). Checked on the CPU only: on a GPU reading them
    would synchronise every step; there an out-of-range index trips gather's device assert."""
    if targets.device.type != "cpu" or targets.numel() == 0:
        return
    counted = targets if ignore_index is None else targets[targets != ignore_index]
    if counted.numel() and (counted.min() < 0 or counted.max() >= num_classes):
        allowed = "" if ignore_index is None else f" (or ignore_index={ignore_index})"
        raise ValueError(
            f"targets must be class indices in [0, {num_classes}){allowed}, got "
            f"values from {int(counted.min())} to {int(counted.max())}"
        )


@dataclass
class Rows:
    logits: torch.Tensor  # (n, K): the kept samples, one per row
    targets: torch.Tensor  # (n,) int64
    shape: tuple  # the targets' shape in the call, for reduction="none"
    kept: torch.Tensor | None  # (N,) bool over the flattened call, when ignore_index is set

    @classmethod
    def of(cls, logits, targets, num_classes: int, ignore_index) -> Rows:
        check_tensors(logits, targets, num_classes)
        check_target_values(targets, num_classes, ignore_index)
        shape = tuple(targets.shape)
        if logits.dim() > 2:  # (N, K, d1, ...) -> (N d1 ..., K): one row per position
            logits = logits.movedim(1, -1).reshape(-1, num_classes)
            targets = targets.reshape(-1)
        targets = targets.long()  # a no-op for int64, the dtype gather and one_hot need
        kept = None
        if ignore_index is not None:
            kept = targets != ignore_index
            logits, targets = logits[kept], targets[kept]
        return cls(logits, targets, shape, kept)

    def restore(self, values: torch.Tensor, reduction: str) -> torch.Tensor:
        """Per-sample values back into the call's shape, 0 where a sample was ignored; a reduced
        value as it is."""
        if reduction != "none":
            return values
        if self.kept is not None:
            values = values.new_zeros(self.kept.shape).masked_scatter(self.kept, values)
        return values.reshape(self.shape)
