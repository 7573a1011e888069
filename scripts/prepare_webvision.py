#!/usr/bin/env python
"""Check a WebVision 1.0 (and ILSVRC2012 val) download and write the mini-WebVision file lists.

    python scripts/prepare_webvision.py --webvision R [--imagenet I] [--out DIR] [--check-images]

Reads R/info/{train_filelist_google.txt, val_filelist.txt, synsets.txt} (and the ILSVRC2012
validation set under I, any layout of datasets/webvision.py), keeps the first --num-classes (50)
classes, prints images per class, lists missing files (with --check-images also files PIL
cannot decode), warns when WebVision's class order differs from ILSVRC12's sorted order (spec
§9), and writes to DIR (default R/info):
    webvision_mini_train.txt, webvision_mini_val.txt   `path label`, paths relative to R
    imagenet_mini_val.txt (with --imagenet)           `path label`, absolute paths
Labels are WebVision's; ILSVRC12 images are mapped to them by WNID. The lists are written even
when images are missing; the exit status is 1 when anything required is missing or unreadable.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

MINI_CLASSES = 50  # mini-WebVision: the first 50 classes (datasets/webvision.py NUM_CLASSES)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--webvision", required=True, help="WebVision 1.0 root (holds info/, google/)")
    p.add_argument("--imagenet", help="ImageNet root holding the ILSVRC2012 validation set")
    p.add_argument("--out", help="folder for the mini lists (default: WEBVISION/info)")
    p.add_argument(
        "--check-images",
        action="store_true",
        help="also decode every image with PIL (minutes for ~70k images)",
    )
    p.add_argument(
        "--num-classes",
        type=int,
        default=MINI_CLASSES,
        help="keep labels below this (50 = mini-WebVision)",
    )
    return p.parse_args(argv)


if __name__ == "__main__":
    parse_args()  # --help and usage errors answer here, before torch is imported

if __package__ in (None, ""):  # run as a file: the repository root holds the packages
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets import webvision as wv  # noqa: E402
from datasets.base import DatasetError  # noqa: E402

LITERATURE_TRAIN = "~66k"  # mini-WebVision training images reported in the literature (spec §9)
IMAGENET_PER_CLASS = 50  # ILSVRC2012 val has 50 images per class: 2,500 for the 50 classes
PROGRESS_EVERY = 5000


def _missing(items):
    return [p for p, _ in items if not os.path.isfile(p)]


def _unreadable(items, split: str):
    bad = []
    for i, (path, _) in enumerate(items, start=1):
        if os.path.isfile(path):  # missing files are reported separately
            try:
                wv.load_rgb(path)
            except DatasetError:
                bad.append(path)
        if i % PROGRESS_EVERY == 0 or i == len(items):
            print(f"  {split}: decoded {i}/{len(items)}, {len(bad)} unreadable", flush=True)
    return bad


def _examples(paths, n=3):
    return ", ".join(paths[:n]) + (" ..." if len(paths) > n else "")


def main(argv=None) -> int:
    args = parse_args(argv)
    root = Path(args.webvision).expanduser().absolute()
    try:
        lists = wv.read_webvision(root, args.num_classes)
        splits = {"train": lists.train, "val": lists.val}
        imagenet_classes = None
        if args.imagenet:
            scanned = wv.scan_imagenet_val(args.imagenet)
            print(f"ILSVRC2012 val: layout {scanned.layout} ({scanned.source})")
            splits["imagenet"] = wv.read_imagenet_val(args.imagenet, lists.wnids, scanned)
            imagenet_classes = scanned.class_wnids
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    counts = {name: Counter(label for _, label in items) for name, items in splits.items()}
    print(f"{'label':>5} {'wnid':<10} " + " ".join(f"{n:>8}" for n in splits) + "  name")
    for label, (wnid, name) in enumerate(zip(lists.wnids, lists.names, strict=True)):
        row = " ".join(f"{counts[n][label]:>8}" for n in splits)
        print(f"{label:>5} {wnid:<10} {row}  {name[:40]}")

    problems = []
    empty = [lists.wnids[c] for c in range(len(lists.wnids)) if counts["train"][c] == 0]
    if empty:
        problems.append(f"{len(empty)} class(es) without training images ({_examples(empty)})")
    for name, items in splits.items():
        missing = _missing(items)
        if missing:
            print(
                f"{name}: {len(missing)} of {len(items)} listed images missing, e.g. "
                f"{_examples(missing)}"
            )
            problems.append(f"{len(missing)} {name} images missing")
    if args.check_images:
        for name, items in splits.items():
            bad = _unreadable(items, name)
            if bad:
                print(f"{name}: {len(bad)} unreadable images, e.g. {_examples(bad)}")
                problems.append(f"{len(bad)} {name} images unreadable")

    warning = wv.check_class_order(lists.wnids, imagenet_classes)
    if warning:
        print(f"warning: {warning}")

    out = Path(args.out).expanduser().absolute() if args.out else root / "info"
    out.mkdir(parents=True, exist_ok=True)
    written = {
        "train": ("webvision_mini_train.txt", root),
        "val": ("webvision_mini_val.txt", root),
        "imagenet": ("imagenet_mini_val.txt", None),
    }  # ImageNet paths stay absolute
    for name, items in splits.items():
        filename, relative_to = written[name]
        wv.write_file_list(out / filename, items, relative_to)
        print(f"wrote {out / filename} ({len(items)} lines)")

    k = len(lists.wnids)
    print(
        f"summary: {k} classes; train {len(lists.train)} images (the literature reports "
        f"{LITERATURE_TRAIN} for mini-WebVision); WebVision val {len(lists.val)}",
        end="",
    )
    if "imagenet" in splits:
        print(f"; ILSVRC12 val {len(splits['imagenet'])} (expected {IMAGENET_PER_CLASS * k})")
    else:
        print("; ILSVRC12 val not checked (pass --imagenet)")
    if problems:
        print(f"error: {'; '.join(problems)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
