"""Checkpoints, the one place they are written and read: atomically, with clear errors, every RNG
state inside, and checked against the command that resumes them (train.py and the authors'-code
harness alike).

`checkpoints/last.pt` holds the model, optimizer, scheduler and grad-scaler states, the number
of completed epochs, Python/NumPy/torch(+CUDA) RNG states, the metric history, the noisy-label
hash and the resolved config. Everything is plain tensors/containers so that it loads with
`torch.load(weights_only=True)`: a checkpoint never executes code when it is opened.
"""

from __future__ import annotations

import pickle
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

from . import io as atomic_io
from .config import config_diff, with_defaults
from .errors import CheckpointError

CHECKPOINT = Path("checkpoints") / "last.pt"  # in a run directory
FORMAT = 1
REQUIRED = (
    "format",
    "epoch",
    "model",
    "optimizer",
    "scheduler",
    "rng",
    "history",
    "noisy_labels_sha256",
    "config",
)


def capture_rng() -> dict:
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {
            "key": np_state[0],
            "state": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state(
        (
            n["key"],
            n["state"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict) -> None:
    """Written to a temporary file and renamed: a crash (or a full disk) leaves the previous
    checkpoint as it was."""
    payload = {"format": FORMAT, **state}
    try:
        atomic_io.atomic_write(path, lambda f: torch.save(payload, f))
    except OSError as e:
        if e.errno == 28:  # ENOSPC
            raise CheckpointError(
                f"disk full while writing {path}; the previous checkpoint "
                f"is intact: free space and resume the run"
            ) from None
        raise


def load_checkpoint(path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (
        RuntimeError,
        EOFError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        ValueError,
        OSError,
    ) as e:
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt ({first_sentence(e)}); "
            f"delete it to start over, or restore it from a backup"
        ) from None
    if not isinstance(state, dict) or any(k not in state for k in REQUIRED):
        missing = [k for k in REQUIRED if not isinstance(state, dict) or k not in state]
        raise CheckpointError(
            f"{path} is not a checkpoint of this codebase (missing {', '.join(missing)})"
        )
    if state["format"] != FORMAT:
        raise CheckpointError(
            f"{path} has checkpoint format {state['format']}, this code reads format {FORMAT}"
        )
    state["config"] = with_defaults(state["config"])
    return state


def first_sentence(error: Exception) -> str:
    """The first sentence of an exception's message, whole: torch's messages run on for a
    paragraph, and cutting them at a character count left half a sentence in ours."""
    text = str(error).strip().splitlines()[0].strip() if str(error).strip() else ""
    sentence = text.split(". ", 1)[0].rstrip(".")
    return sentence or type(error).__name__


def load_model_state(model: torch.nn.Module, state_dict: dict, path) -> None:
    """Load weights, turning a shape/key mismatch into a one-line CheckpointError."""
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else lines[0]
        raise CheckpointError(
            f"checkpoint {path} does not fit this model/dataset: {detail}"
        ) from None


# Keys that differ between commands without changing the run: not worth a record.
COSMETIC = {"out", "train.progress"}


def read_checkpoint(path: Path, cfg: dict, labels_sha256: str, force: bool, device="cpu") -> dict:
    """The checkpoint, checked against the command that resumes it: its config (every key but
    the harmless ones of config.RESUME_MAY_DIFFER) and its noisy labels must be this command's,
    unless `force`. This resume's record is appended to ckpt["resumes"]: what changed (also
    harmless keys such as train.threads) at which epoch/step, and whether `force` let a change
    that matters through."""
    ckpt = load_checkpoint(path, map_location=device)
    labels = (
        []
        if ckpt["noisy_labels_sha256"] == labels_sha256
        else ["the noisy training labels differ (noise seed, rate, kind or data)"]
    )
    problems = config_diff(ckpt["config"], cfg) + labels
    if problems and not force:
        raise CheckpointError(
            f"refusing to resume {Path(path).parent.parent}: "
            f"{'; '.join(problems)}. Undo the change, or pass --force-resume"
        )
    changes = config_diff(ckpt["config"], cfg, ignore=COSMETIC) + labels
    ckpt["resumes"] = list(ckpt.get("resumes", []))
    if changes:
        ckpt["resumes"].append(
            {
                "epoch": ckpt["epoch"],
                "step": ckpt.get("step", 0),
                "changes": changes,
                "forced": bool(problems),
            }
        )
    return ckpt
