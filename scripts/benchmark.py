#!/usr/bin/env python
"""Training throughput of this project's data path against the official pipeline, per model.

    python scripts/benchmark.py --steps 30                  # CPU: a few minutes
    python scripts/benchmark.py --steps 200 --json          # one JSON object on stdout
    python scripts/benchmark.py --models mnist --data-root data

For MNIST's 4-layer CNN, CIFAR-10's 8-layer CNN and CIFAR-100's ResNet-34 it times the same
training step (engine/step.py: forward, fp32 loss, backward, clip 5.0, SGD) fed by
  reference: torchvision-style Dataset + per-sample PIL transforms + DataLoader, fp32, NCHW
             (what the official code runs; DataLoader workers from --workers),
  fast:      uint8 tensor on the device + batched augmentation, channels_last
             (+ bf16 autocast on CUDA, the setting a GPU user would run),
  fast_bf16: the fast path with bf16 autocast (also on the CPU, where it is optional),
  official:  the authors' own train() (../shared/reference/official-apl, through
             scripts/official_apl.py): their DataLoader, model, loss, SGD step and per-step
             metrics, on the same real data, batch and threads; timed from their loader's side,
             so exactly --steps of their steps are counted (MNIST and CIFAR-10 only: it needs
             the real files; skipped with the reason where they or the code are missing),
each in a fresh subprocess (so peak memory is that pipeline's own), after --warmup steps.
Real data is used when found under --data-root (MNIST, CIFAR-10); otherwise, and always for
CIFAR-100 (not available offline), random uint8 images of the right shape, which cost the
same to load and augment. Epoch time is the training-set size divided by the throughput.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODELS = {  # benchmark name -> (paper config, training-set size)
    "mnist": ("configs/mnist/sym/nce+rce.yaml", 60000),
    "cifar10": ("configs/cifar10/sym/nce+rce.yaml", 50000),
    "cifar100": ("configs/cifar100/sym/nce+rce.yaml", 50000),
}


def measure_official(model_key: str, steps: int, warmup: int, data_root: str,
                     workers: int) -> dict:
    """Runs in a worker subprocess: time `steps` of the authors' own training steps."""
    import torch

    from engine.config import load_config
    from scripts import official_apl
    cfg = load_config(ROOT / MODELS[model_key][0])
    try:
        seconds = official_apl.time_training_steps(cfg, Path(data_root), warmup, steps, workers)
    except official_apl.ReferenceMissing as e:
        return {"skipped": str(e)}
    batch = cfg["train.batch_size"]
    return {"images_per_s": steps * batch / seconds, "step_ms": 1000 * seconds / steps,
            "epoch_s": MODELS[model_key][1] * seconds / (steps * batch),
            "peak_mem_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "device": f"{'cuda' if torch.cuda.is_available() else 'cpu'} "
                      f"({torch.get_num_threads()} threads)"}


def measure(model_key: str, pipeline: str, steps: int, warmup: int, data_root: str,
            workers: int, device_name: str) -> dict:
    """Runs in a worker subprocess: time `steps` training steps of one pipeline."""
    import numpy as np
    import torch

    from datasets import DATASETS, DatasetError, load_dataset, make_data_source, epoch_generator
    from datasets.base import DatasetArrays
    from engine.config import load_config, loss_kwargs
    from engine.setup import build_optimizer, pick_device
    from engine.step import forward_backward, optimizer_step
    from losses import build_loss
    from models import build_model

    cfg = load_config(ROOT / MODELS[model_key][0])
    device = pick_device(device_name)
    spec = DATASETS[cfg["dataset.name"]]
    source = "real"
    try:
        data = load_dataset(cfg["dataset.name"], data_root)
    except DatasetError:
        source = "synthetic"
        n = MODELS[model_key][1]
        g = torch.Generator().manual_seed(0)
        shape = (n, spec.in_channels, spec.image_size, spec.image_size)
        data = DatasetArrays(
            name=spec.name, train_images=torch.randint(0, 256, shape, dtype=torch.uint8, generator=g),
            train_labels=np.arange(n) % spec.num_classes, test_images=torch.zeros((1,) + shape[1:], dtype=torch.uint8),
            test_labels=np.zeros(1, dtype=np.int64), num_classes=spec.num_classes, mean=spec.mean,
            std=spec.std, augment=spec.augment, class_names=None, source="synthetic", spec=spec)
    fast = pipeline.startswith("fast")
    channels_last = fast
    amp = "bf16" if pipeline == "fast_bf16" or (fast and device.type == "cuda") else "none"
    torch.manual_seed(0)
    model = build_model(cfg["model.name"], spec.num_classes, spec.in_channels, spec.image_size)
    model = model.to(device, memory_format=torch.channels_last if channels_last
                     else torch.contiguous_format)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    criterion = build_loss(cfg["loss.name"], spec.num_classes, **loss_kwargs(cfg))
    optimizer = build_optimizer(model, cfg)
    scaler = torch.amp.GradScaler(device.type, enabled=False)
    images = data.train_images
    source_data = make_data_source("fast" if fast else "reference", images, data, data.augment,
                                   device, channels_last, workers)
    labels = torch.from_numpy(data.train_labels).to(device)
    batch = cfg["train.batch_size"]
    total = warmup + steps

    def batches():
        epoch = 0
        while True:
            yield from source_data.train_batches(batch, epoch_generator(0, epoch))
            epoch += 1

    model.train()
    it = batches()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for i in range(total):
        if i == warmup:
            sync()
            start = time.perf_counter()
        x, index = next(it)
        _, loss, _, _ = forward_backward(model, criterion, optimizer, scaler, x, labels[index],
                                         amp, cfg["optim.grad_clip"])
        optimizer_step(optimizer, scaler)
    sync()
    seconds = time.perf_counter() - start
    images_per_s = steps * batch / seconds
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"images_per_s": images_per_s, "step_ms": 1000 * seconds / steps,
            "epoch_s": MODELS[model_key][1] / images_per_s, "peak_mem_mib": peak,
            "peak_mem_kind": "cuda max allocated" if device.type == "cuda" else "process max RSS",
            "amp": amp, "channels_last": channels_last, "data": source,
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else
            f"cpu ({torch.get_num_threads()} threads)"}


def run_worker(args, model_key, pipeline) -> dict:
    cmd = [sys.executable, __file__, "--worker", model_key, pipeline, "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--data-root", args.data_root, "--workers",
           str(args.workers), "--device", args.device]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"benchmark worker failed ({model_key}, {pipeline}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="mnist,cifar10,cifar100")
    p.add_argument("--steps", type=int, default=30, help="timed training steps per measurement")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--data-root", default="data")
    p.add_argument("--workers", type=int, default=0,
                   help="DataLoader workers of the reference pipeline (the official runs used 0 "
                        "on this CPU: more was slower, ../shared/docs/hardware-and-baselines.md)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, help="torch threads in every measurement (default: "
                                               "torch's own, the same for all)")
    p.add_argument("--repeats", type=int, default=1,
                   help="rounds of all pipelines, interleaved; the median round is reported")
    p.add_argument("--no-official", action="store_true",
                   help="skip the authors' own training step")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--worker", nargs=2, metavar=("MODEL", "PIPELINE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        if args.threads:
            import torch
            torch.set_num_threads(args.threads)
        if args.worker[1] == "official":
            row = measure_official(args.worker[0], args.steps, args.warmup, args.data_root,
                                   args.workers)
        else:
            row = measure(*args.worker, args.steps, args.warmup, args.data_root, args.workers,
                          args.device)
        print(json.dumps(row))
        return 0
    report = {}
    for model_key in args.models.split(","):
        if model_key not in MODELS:
            raise SystemExit(f"unknown model key {model_key!r}; choose from {list(MODELS)}")
        rows, official = measure_interleaved(args, model_key)
        ref, fast, fast_bf16 = rows["reference"], rows["fast"], rows["fast_bf16"]
        report[model_key] = {
            "model": load_model_name(model_key),
            "fast_images_per_s": fast["images_per_s"],
            "reference_images_per_s": ref["images_per_s"],
            "ratio": fast["images_per_s"] / ref["images_per_s"],
            "fast_bf16_images_per_s": fast_bf16["images_per_s"],
            "ratio_bf16": fast_bf16["images_per_s"] / ref["images_per_s"],
            "epoch_s": {k: v["epoch_s"] for k, v in rows.items()},
            "peak_mem_mib": {k: v["peak_mem_mib"] for k, v in rows.items()},
            "peak_mem_kind": fast["peak_mem_kind"], "data": fast["data"],
            "device": fast["device"], "steps": args.steps, "repeats": args.repeats,
            "images_per_s_spread": {k: v["spread"] for k, v in rows.items()},
            **official_fields(official, fast, ref),
        }
        if not args.json:
            r = report[model_key]
            print(f"{model_key:9s} {r['model']:9s} [{r['data']} data, {r['device']}, "
                  f"{args.steps} steps, median of {args.repeats} interleaved rounds]\n"
                  f"  reference {ref['images_per_s']:8.0f} img/s  epoch {ref['epoch_s']:7.1f} s  "
                  f"peak {ref['peak_mem_mib']:6.0f} MiB\n"
                  f"  fast      {fast['images_per_s']:8.0f} img/s  epoch {fast['epoch_s']:7.1f} s  "
                  f"peak {fast['peak_mem_mib']:6.0f} MiB  ratio {r['ratio']:.2f}x\n"
                  f"  fast+bf16 {fast_bf16['images_per_s']:8.0f} img/s  epoch "
                  f"{fast_bf16['epoch_s']:7.1f} s  peak {fast_bf16['peak_mem_mib']:6.0f} MiB  "
                  f"ratio {r['ratio_bf16']:.2f}x", flush=True)
            print(official_line(official, r), flush=True)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


def measure_interleaved(args, model_key: str):
    """Every pipeline once per round, --repeats rounds: a shared machine's load drifts, and
    interleaving spreads it over all pipelines alike. Each pipeline keeps its median round
    (by images/s), with the spread of all rounds."""
    rounds = []
    for _ in range(args.repeats):
        row = {pipe: run_worker(args, model_key, pipe) for pipe in ("reference", "fast", "fast_bf16")}
        row["official"] = official_row(args, model_key, row["fast"]["data"])
        rounds.append(row)
    chosen = {pipe: median_round([r[pipe] for r in rounds]) for pipe in rounds[0]}
    official = chosen.pop("official")
    return chosen, official


def median_round(results: list[dict]) -> dict:
    if "skipped" in results[0]:
        return results[0]
    ordered = sorted(results, key=lambda r: r["images_per_s"])
    speeds = [r["images_per_s"] for r in ordered]
    return {**ordered[len(ordered) // 2], "spread": [speeds[0], speeds[-1]]}


def official_row(args, model_key: str, data: str) -> dict:
    if args.no_official:
        return {"skipped": "--no-official"}
    if data != "real":
        return {"skipped": f"the authors' code needs the real {model_key} files under "
                           f"{args.data_root}"}
    if args.device not in ("auto", "cpu") and not args.device.startswith("cuda"):
        return {"skipped": f"device {args.device}"}
    return run_worker(args, model_key, "official")


def official_fields(official: dict, fast: dict, ref: dict) -> dict:
    """The authors' step beside ours: images/s and the speed-ups over it."""
    if "skipped" in official:
        return {"official_skipped": official["skipped"]}
    return {"official_images_per_s": official["images_per_s"],
            "official_images_per_s_spread": official.get("spread"),
            "ratio_fast_vs_official": fast["images_per_s"] / official["images_per_s"],
            "ratio_reference_pipeline_vs_official": ref["images_per_s"] / official["images_per_s"],
            "official_epoch_s": official["epoch_s"],
            "official_peak_mem_mib": official["peak_mem_mib"]}


def official_line(official: dict, r: dict) -> str:
    if "skipped" in official:
        return f"  official  skipped: {official['skipped']}"
    return (f"  official  {official['images_per_s']:8.0f} img/s  epoch {official['epoch_s']:7.1f} s"
            f"  peak {official['peak_mem_mib']:6.0f} MiB  (the authors' train(); fast is "
            f"{r['ratio_fast_vs_official']:.2f}x, the re-implemented reference pipeline "
            f"{r['ratio_reference_pipeline_vs_official']:.2f}x)")


def load_model_name(model_key: str) -> str:
    from engine.config import load_config
    return load_config(ROOT / MODELS[model_key][0])["model.name"]


if __name__ == "__main__":
    sys.exit(main())
