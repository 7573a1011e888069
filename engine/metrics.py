"""Per-epoch training metrics, accumulated on the device and read once per epoch.

Besides loss and accuracy (against the noisy and the true labels) it tracks memorisation
(issue: what did the network fit?): on the training samples whose label was flipped, the
fraction predicted as the noisy label ("memorised"), as the true label ("corrected") or as
anything else; and on the samples whose label was kept, the accuracy. These come from the
training forward pass itself (train mode, augmented inputs, like train accuracy), so they cost
nothing extra and are on by default.
"""

from __future__ import annotations

import torch

SLOTS = (
    "loss",
    "correct_noisy",
    "correct_clean",
    "samples",
    "skipped",
    "flipped",
    "flipped_fit_noisy",
    "flipped_fit_true",
    "kept",
    "kept_correct",
)
INDEX = {name: i for i, name in enumerate(SLOTS)}


def memorisation_counts(pred, noisy, clean) -> torch.Tensor:
    """[flipped, flipped predicted as noisy label, flipped predicted as true label,
    kept, kept predicted correctly] for one batch (device tensor, no sync)."""
    flipped = noisy != clean
    kept = ~flipped
    return torch.stack(
        [
            flipped.sum(),
            (flipped & (pred == noisy)).sum(),
            (flipped & (pred == clean)).sum(),
            kept.sum(),
            (kept & (pred == clean)).sum(),
        ]
    )


class EpochAccumulator:
    def __init__(self, term_names, device):
        self.term_names = tuple(term_names)
        self.values = torch.zeros(
            len(SLOTS) + len(self.term_names), device=device, dtype=torch.float64
        )

    def add(self, loss, terms, pred, noisy, clean) -> None:
        n = noisy.numel()
        v = self.values
        v[INDEX["loss"]] += loss.detach().double() * n
        v[INDEX["correct_noisy"]] += (pred == noisy).sum()
        v[INDEX["correct_clean"]] += (pred == clean).sum()
        v[INDEX["samples"]] += n
        v[INDEX["flipped"] : INDEX["kept_correct"] + 1] += memorisation_counts(pred, noisy, clean)
        if self.term_names:
            v[len(SLOTS) :] += terms.detach().double() * n

    def add_skipped(self) -> None:
        self.values[INDEX["skipped"]] += 1

    def state(self) -> torch.Tensor:
        return self.values.cpu()

    def load(self, values: torch.Tensor) -> None:
        self.values.copy_(values.to(self.values.device))

    def row(self) -> dict:
        """The epoch's metrics as plain floats (one host sync)."""
        v = dict(zip(SLOTS, self.values[: len(SLOTS)].tolist(), strict=True))
        terms = self.values[len(SLOTS) :].tolist()
        seen = max(v["samples"], 1.0)

        def pct(num, den):
            return 100.0 * num / den if den > 0 else None

        row = {"train_loss": v["loss"] / seen}
        row.update(
            {f"train_loss_{n}": t / seen for n, t in zip(self.term_names, terms, strict=True)}
        )
        row.update(
            {
                "train_acc_noisy": pct(v["correct_noisy"], seen),
                "train_acc_clean": pct(v["correct_clean"], seen),
                "mem_flipped_fit_noisy": pct(v["flipped_fit_noisy"], v["flipped"]),
                "mem_flipped_fit_true": pct(v["flipped_fit_true"], v["flipped"]),
                "mem_flipped_other": pct(
                    v["flipped"] - v["flipped_fit_noisy"] - v["flipped_fit_true"], v["flipped"]
                ),
                "mem_kept_acc": pct(v["kept_correct"], v["kept"]),
                "skipped_steps": int(v["skipped"]),
            }
        )
        return row
