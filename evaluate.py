#!/usr/bin/env python
"""Evaluate a checkpoint on the clean test set (and the dataset's further evaluation sets, e.g.
WebVision val): top-1, top-5 and CE, printed and written as JSON.

    python evaluate.py --checkpoint runs/.../checkpoints/last.pt [--data-root DIR] [--output F]

The checkpoint carries its resolved config, so the dataset, model and normalisation are rebuilt
from it. The JSON goes to --output, or next to the run as <run>/eval.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli import HelpFormatter


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--checkpoint", required=True, help="a checkpoints/last.pt written by train.py")
    p.add_argument("--data-root", help="override the dataset root stored in the checkpoint")
    p.add_argument("--test-root", help="override dataset.test_root (webvision_mini: ImageNet root)")
    p.add_argument("--output", help="JSON file to write (unset: <run>/eval.json)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    return p.parse_args(argv)


if __name__ == "__main__":
    parse_args()  # --help and usage errors answer here, before torch is imported (seconds)

import torch  # noqa: E402

from datasets import DatasetError, load_dataset, make_data_source  # noqa: E402
from engine.checkpoint import load_checkpoint, load_model_state  # noqa: E402
from engine.errors import CheckpointError, UserError  # noqa: E402
from engine.evaluation import evaluate  # noqa: E402
from engine.io import write_json_atomic  # noqa: E402
from engine.setup import dataset_options, pick_device, use_channels_last  # noqa: E402
from models import build_model  # noqa: E402


def run(args) -> dict:
    path = Path(args.checkpoint)
    device = pick_device(args.device)
    ckpt = load_checkpoint(path, map_location=device)
    cfg = ckpt["config"]
    root = args.data_root or cfg["dataset.root"]
    data = load_dataset(cfg["dataset.name"], root, options=dataset_options(cfg, args.test_root))
    if cfg["dataset.num_classes"] is not None and data.num_classes != cfg["dataset.num_classes"]:
        raise CheckpointError(f"checkpoint {path} was trained with {cfg['dataset.num_classes']} "
                              f"classes but {cfg['dataset.name']} at {root} has {data.num_classes}")
    model = build_model(cfg["model.name"], data.num_classes, data.in_channels, data.image_size)
    load_model_state(model, ckpt["model"], path)
    channels_last = use_channels_last(cfg["train.channels_last"], device)
    model = model.to(device, memory_format=torch.channels_last if channels_last
                     else torch.contiguous_format)
    result = {"checkpoint": str(path), "epoch": ckpt["epoch"], "dataset": cfg["dataset.name"],
              "data_root": str(root)}
    # the test set, then any further evaluation set of the dataset (WebVision val)
    sets = {"test": (data.test_images, data.test_labels), **data.extra_eval}
    for name, (images, labels) in sets.items():
        source = make_data_source("fast", images, data, "none", device, channels_last,
                                  cfg.get("dataset.workers", 0))
        labels = torch.from_numpy(labels).to(device)
        metrics = evaluate(model, source, labels, data.num_classes, cfg["train.eval_batch_size"],
                           cfg["train.amp"])
        result.update({f"{name}_top1": metrics["top1"], f"{name}_top5": metrics["top5"],
                       f"{name}_loss": metrics["loss"], f"num_{name}": int(labels.numel())})
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except (UserError, DatasetError) as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    output = Path(args.output) if args.output else Path(args.checkpoint).parent.parent / "eval.json"
    write_json_atomic(output, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
