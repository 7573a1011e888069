"""Small helpers shared by the end-to-end tests."""

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

DEFAULT_LOSS = {"name": "nce+rce", "alpha": 1.0, "beta": 10.0}


def write_config(path: Path, dataset: str = "mnist", loss: dict | None = None, **blocks) -> Path:
    """A small, fast training config: 3 epochs, batch 32, 40 % symmetric noise."""
    cfg = {
        "dataset": {"name": dataset},
        "noise": {"kind": "symmetric", "rate": 0.4},
        "loss": dict(loss or DEFAULT_LOSS),
        "optim": {"lr": 0.05},
        "train": {"epochs": 3, "batch_size": 32, "eval_batch_size": 64, "progress": False},
    }
    for key, value in blocks.items():
        cfg.setdefault(key, {}).update(value)
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_interrupted(args, sig="SIGTERM", epoch=1, step=3, during_checkpoint=False):
    """Run train.py with `args` in a subprocess that sends itself a real `sig` at (epoch, step),
    or half-way through the checkpoint of `epoch` (see tests/interrupt_driver.py)."""
    cmd = [sys.executable, str(REPO / "tests" / "interrupt_driver.py"), sig, str(epoch), str(step)]
    if during_checkpoint:
        cmd.append("--during-checkpoint")
    return subprocess.run(cmd + ["--"] + list(args), capture_output=True, text=True, cwd=REPO)
