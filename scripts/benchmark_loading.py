#!/usr/bin/env python
"""Images per second of the file-dataset input pipeline (mini-WebVision): PIL decoding in
DataLoader workers (`dataset.decode: cpu`) against decoding on the training device
(`dataset.decode: device`, torchvision.io.decode_jpeg; nvJPEG on a GPU). No model runs: this
is the rate at which each path can feed training, augmentation included.

    python scripts/benchmark_loading.py --synthetic 512 --workers 2           # made-up JPEGs
    python scripts/benchmark_loading.py --webvision data/webvision --workers 8 --device cuda

--synthetic N writes N random-content JPEGs of WebVision's resized-256 shape (256 x 341,
quality 90) to a temporary folder; --webvision reads the first images of the real training list.
Decide on your own machine: which path is faster depends on the CPU cores against the GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--synthetic", type=int, metavar="N", help="write N synthetic JPEGs")
    src.add_argument("--webvision", help="a WebVision 1.0 root (reads its Google train list)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers")
    p.add_argument("--batch", type=int, default=64, help="images per batch")
    p.add_argument("--batches", type=int, default=6, help="timed batches (after one warm-up)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


if __name__ == "__main__":
    build_parser().parse_args()  # --help and usage errors answer here, before torch is imported

if __package__ in (None, ""):  # run as a file: the repository root holds the packages
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from datasets import webvision as wv  # noqa: E402
from datasets.files import FileImages, FileSource  # noqa: E402
from engine import seeds  # noqa: E402
from engine.runtime import epoch_generator, pick_device  # noqa: E402


def synthetic_jpegs(folder: Path, n: int) -> list[str]:
    from PIL import Image

    rng = np.random.default_rng(0)
    # smooth random content (a noise image compresses unrealistically badly)
    base = rng.integers(0, 256, (n, 16, 22, 3), dtype=np.uint8)
    paths = []
    for i in range(n):
        path = folder / f"{i:06d}.jpg"
        Image.fromarray(base[i]).resize((341, 256), Image.BILINEAR).save(path, quality=90)
        paths.append(str(path))
    return paths


def measure(paths, decode, augment, device, workers, batch, batches) -> float:
    source = FileSource(
        FileImages(paths, wv.CROP, decode),
        wv.MEAN,
        wv.STD,
        augment,
        device,
        channels_last=device.type == "cuda",
        workers=workers,
        step_seed=seeds.decode_step_seed,
    )
    n = 0
    it = (
        source.train_batches(batch, epoch_generator(0, 0))
        if augment != "none"
        else source.eval_batches(batch)
    )
    t0 = None
    for step, (x, _) in enumerate(it):
        if step == 1:  # the first batch includes starting the workers
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        elif step > 1:
            n += x.shape[0]
        if step == batches:
            break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    for name, low in (("synthetic", 1), ("workers", 0), ("batch", 1), ("batches", 1)):
        value = getattr(args, name)
        if value is not None and value < low:
            print(f"error: --{name} {value}: must be >= {low}", file=sys.stderr)
            return 2
    device = pick_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        if args.synthetic:
            paths = synthetic_jpegs(Path(tmp), args.synthetic)
        else:
            paths = [path for path, _ in wv.read_webvision(args.webvision).train]
        paths = paths[: args.batch * (args.batches + 2)]
        results = {}
        for decode in ("cpu", "device"):
            for augment in ("webvision", "none"):
                results[f"{decode}/{'train' if augment != 'none' else 'eval'}"] = measure(
                    paths, decode, augment, device, args.workers, args.batch, args.batches
                )
    info = {
        "device": str(device),
        "workers": args.workers,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "images_per_s": results,
    }
    if args.json:
        print(json.dumps(info))
        return 0
    print(
        f"{device}, {args.workers} workers, batch {args.batch}, {torch.get_num_threads()} "
        f"threads in the main process"
    )
    for key, rate in results.items():
        decode, split = key.split("/")
        base = results[f"cpu/{split}"]
        print(f"  {split:5s} decode={decode:6s} {rate:8.1f} img/s  ({rate / base:.2f}x cpu)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
