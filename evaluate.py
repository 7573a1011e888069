#!/usr/bin/env python
"""Evaluate a checkpoint on the clean test set (and the dataset's further evaluation sets, e.g.
WebVision val): top-1, top-5 and CE, printed and written as JSON.

    python evaluate.py --checkpoint runs/.../checkpoints/last.pt [--data-root DIR] [--output F]

The checkpoint carries its resolved config, so the dataset, model and normalisation are rebuilt
from it. The JSON goes to --output, or next to the run as <run>/eval.json (an existing file
that evaluate.py did not write is never replaced). A checkpoint written mid-epoch (a run
stopped by a signal) is reported as such: its position says which step of which epoch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli import HelpFormatter


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    p.add_argument("--checkpoint", required=True, help="a checkpoints/last.pt written by train.py")
    p.add_argument("--data-root", help="override the dataset root stored in the checkpoint")
    p.add_argument("--test-root", help="override dataset.test_root (webvision_mini: ImageNet root)")
    p.add_argument("--output", help="JSON file to write (unset: <run>/eval.json)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    return p.parse_args(argv)


if __name__ == "__main__":
    parse_args()  # --help and usage errors answer here, before torch is imported (seconds)

from datasets import DatasetError  # noqa: E402
from engine.checkpoint import load_checkpoint, load_model_state  # noqa: E402
from engine.errors import CheckpointError, UserError  # noqa: E402
from engine.evaluation import evaluate  # noqa: E402
from engine.experiment import SourceFactory, build_network, eval_sources, load_data  # noqa: E402
from engine.io import write_json_atomic  # noqa: E402
from engine.runtime import pick_device  # noqa: E402


def run(args) -> dict:
    path = Path(args.checkpoint)
    device = pick_device(args.device)
    ckpt = load_checkpoint(path, map_location=device)
    cfg = ckpt["config"]
    root = args.data_root or cfg["dataset.root"]
    data = load_data(cfg, root, args.test_root)
    if cfg["dataset.num_classes"] is not None and data.num_classes != cfg["dataset.num_classes"]:
        raise CheckpointError(
            f"checkpoint {path} was trained with {cfg['dataset.num_classes']} "
            f"classes but {cfg['dataset.name']} at {root} has {data.num_classes}"
        )
    model = build_network(cfg, data, device)
    load_model_state(model, ckpt["model"], path)
    step = ckpt.get("step", 0)
    result = {
        "checkpoint": str(path),
        "epoch": ckpt["epoch"],
        "step": step,
        "position": (
            f"after epoch {ckpt['epoch']}"
            if not step
            else f"MID-EPOCH: epoch {ckpt['epoch'] + 1}, after step {step} (a run "
            f"stopped between epochs; not an end-of-epoch model)"
        ),
        "dataset": cfg["dataset.name"],
        "data_root": str(root),
    }
    # the fast path whatever the run trained with: the same images, batched on the device
    source = SourceFactory(cfg, data, device, pipeline="fast")
    for name, (images, labels) in eval_sources(data, source).items():
        metrics = evaluate(
            model, images, labels, data.num_classes, cfg["train.eval_batch_size"], cfg["train.amp"]
        )
        result.update(
            {
                f"{name}_top1": metrics["top1"],
                f"{name}_top5": metrics["top5"],
                f"{name}_loss": metrics["loss"],
                f"num_{name}": int(labels.numel()),
            }
        )
    return result


def check_output(output: Path) -> None:
    """An existing file is replaced only if it is an evaluation this command wrote."""
    if not output.exists():
        return
    try:
        ours = "checkpoint" in json.loads(output.read_text())
    except (ValueError, OSError, TypeError):
        ours = False
    if not ours:
        raise UserError(
            f"{output} exists and is not an evaluation written by evaluate.py; "
            f"pass --output to write elsewhere"
        )


def main(argv=None) -> int:
    args = parse_args(argv)
    output = Path(args.output) if args.output else Path(args.checkpoint).parent.parent / "eval.json"
    try:
        check_output(output)
        result = run(args)
    except (UserError, DatasetError) as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_json_atomic(output, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
