"""mini-WebVision (spec §9): file lists, the ILSVRC2012 validation set mapped by WNID, the
ImageNet-style transforms (spec §7) and a PIL Dataset over image files.

    lists = read_webvision(R)                    # first 50 classes of the Google subset
    ilsvrc = read_imagenet_val(I, lists.wnids)   # the same 50 classes of ILSVRC2012 val (2,500)
    train = FileListDataset(lists.train, train_transform())   # yields (tensor, index)

files.FileSource serves it in batches (train.py's file pipeline). The layouts read, the WNID
mapping and how training finds the roots: docs/DATASETS.md."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms as T

from .base import DatasetError, DatasetNotFoundError

PathLike = str | Path
Item = tuple[str, int]  # (absolute path, label)

NUM_CLASSES = 50
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
CROP, RESIZE = 224, 256

TRAIN_LIST = "info/train_filelist_google.txt"
VAL_LIST = "info/val_filelist.txt"
SYNSETS = "info/synsets.txt"
VAL_DIR = "val_images_256"

DEVKIT_GT = "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt"
DEVKIT_META = "ILSVRC2012_devkit_t12/data/meta.mat"
KAGGLE_CSV = "LOC_val_solution.csv"
KAGGLE_SYNSETS = "LOC_synset_mapping.txt"
KAGGLE_VAL_DIR = "ILSVRC/Data/CLS-LOC/val"
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")

WEBVISION_HOW = (
    "Download WebVision 1.0 resized-256 (google_resized_256.tar, the resized "
    "validation images and the info/ files) from "
    "https://data.vision.ee.ethz.ch/cvl/webvision/download.html"
)
IMAGENET_HOW = (
    "Get ILSVRC2012_img_val.tar and ILSVRC2012_devkit_t12.tar.gz from "
    "https://image-net.org/download-images; torchvision.datasets.ImageNet(I, "
    "split='val') unpacks them into I/val/<wnid>/"
)
IMAGENET_LAYOUTS = (
    f"(a) I/val/<wnid>/*.JPEG (torchvision ImageNet), (b) flat I/val/"
    f"ILSVRC2012_val_*.JPEG + I/{DEVKIT_GT} + I/{DEVKIT_META}, (c) flat I/val/ "
    f"or I/{KAGGLE_VAL_DIR}/ + I/{KAGGLE_CSV} (Kaggle)"
)

_WNID = re.compile(r"n\d{8}")
_VAL_NAME = re.compile(r"ILSVRC2012_val_\d{8}$")

# The first 50 WNIDs of ILSVRC2012 in sorted order (= torchvision's class indices 0-49): what the
# paper's code took WebVision's labels 0-49 to mean (spec §9), from "tench" to "African crocodile".
ILSVRC12_FIRST_50 = (
    "n01440764 n01443537 n01484850 n01491361 n01494475 n01496331 n01498041 n01514668 n01514859 "
    "n01518878 n01530575 n01531178 n01532829 n01534433 n01537544 n01558993 n01560419 n01580077 "
    "n01582220 n01592084 n01601694 n01608432 n01614925 n01616318 n01622779 n01629819 n01630670 "
    "n01631663 n01632458 n01632777 n01641577 n01644373 n01644900 n01664065 n01665541 n01667114 "
    "n01667778 n01669191 n01675722 n01677366 n01682714 n01685808 n01687978 n01688243 n01689811 "
    "n01692333 n01693334 n01694178 n01695060 n01697457"
).split()


# ----------------------------------------------------------------------------- WebVision lists


@dataclass
class WebVisionLists:
    """The mini subset: (absolute path, label) pairs with label < len(wnids)."""

    root: Path
    train: list[Item]
    val: list[Item]
    wnids: list[str]  # WNID of label i, from synsets.txt
    names: list[str]  # description of label i (may be "")


def _open_text(path: Path, what: str, how: str) -> list[str]:
    if not path.is_file():
        raise DatasetNotFoundError(f"{what} not found: expected {path}. {how}")
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        raise DatasetError(f"cannot read {what} {path}: {e}") from e


def read_file_list(
    path: PathLike,
    root: PathLike,
    default_dir: str | None = None,
    num_labels: int | None = None,
    what: str = "file list",
    how: str = WEBVISION_HOW,
) -> list[Item]:
    """Lines `path label` -> [(absolute path, label)], blank lines skipped.

    A relative path is joined to `root`; a bare file name (no folder) to `root/default_dir` when
    given (WebVision's val list names files without their folder). With `num_labels`, labels
    must lie in [0, num_labels). Also reads back the lists scripts/prepare_webvision.py writes.
    """
    path, root = Path(path), Path(root).expanduser().absolute()
    items = []
    for n, line in enumerate(_open_text(path, what, how), start=1):
        if not line.strip():
            continue
        # rsplit: the label is the last field, so a path with spaces still parses
        fields = line.strip().rsplit(None, 1)
        try:
            rel, label = fields[0], int(fields[1])
        except (IndexError, ValueError):
            raise DatasetError(
                f"{path} line {n} is malformed: expected `relative/path.jpg "
                f"label`, got {line.strip()[:80]!r}"
            ) from None
        if label < 0 or (num_labels is not None and label >= num_labels):
            limit = (
                f"0..{num_labels - 1} (synsets.txt lists {num_labels} classes)"
                if num_labels is not None
                else ">= 0"
            )
            raise DatasetError(
                f"{path} line {n}: label {label} out of range, expected {limit}; "
                f"the list does not match synsets.txt, re-extract the info/ files"
            )
        if os.path.isabs(rel):
            full = rel
        elif default_dir is not None and "/" not in rel.replace("\\", "/"):
            full = os.path.join(root, default_dir, rel)
        else:
            full = os.path.join(root, rel)
        items.append((os.path.normpath(full), label))
    return items


def write_file_list(path: PathLike, items: Sequence[Item], root: PathLike | None = None):
    """Write `path label` lines; paths under `root` are written relative to it, others absolute."""
    root = None if root is None else str(Path(root).expanduser().absolute())
    lines = []
    for p, label in items:
        p = str(p)
        if root is not None and os.path.commonpath([root, p]) == root:
            p = os.path.relpath(p, root)
        lines.append(f"{p} {int(label)}\n")
    Path(path).write_text("".join(lines), encoding="utf-8")


def read_synsets(path: PathLike) -> tuple[list[str], list[str]]:
    """synsets.txt -> (wnids, descriptions), one class per line in label order."""
    path = Path(path)
    wnids, names = [], []
    for n, line in enumerate(_open_text(path, "WebVision synsets.txt", WEBVISION_HOW), start=1):
        if not line.strip():
            continue
        fields = line.strip().split(None, 1)
        if not _WNID.fullmatch(fields[0]):
            raise DatasetError(
                f"{path} line {n} is malformed: expected `n01440764 "
                f"description`, got {line.strip()[:80]!r}"
            )
        if fields[0] in wnids:  # labels are mapped to ImageNet by WNID: it must be unique
            raise DatasetError(
                f"{path} line {n}: {fields[0]} repeats line "
                f"{wnids.index(fields[0]) + 1}; re-extract the info/ files"
            )
        wnids.append(fields[0])
        names.append(fields[1] if len(fields) > 1 else "")
    return wnids, names


def read_webvision(root: PathLike, num_classes: int = NUM_CLASSES) -> WebVisionLists:
    """The Google training list and the validation list of WebVision 1.0 under `root`, keeping
    labels < num_classes (50 = mini-WebVision). DatasetError for missing or malformed files."""
    root = Path(root).expanduser().absolute()
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    all_wnids, all_names = read_synsets(root / SYNSETS)
    if len(all_wnids) < num_classes:
        raise DatasetError(
            f"{root / SYNSETS} lists {len(all_wnids)} classes, fewer than "
            f"num_classes={num_classes}; re-extract the info/ files. "
            f"{WEBVISION_HOW}"
        )
    # labels are checked against all synsets (not num_classes): the lists hold all 1000 classes
    k = len(all_wnids)
    train = read_file_list(
        root / TRAIN_LIST, root, num_labels=k, what="WebVision Google train list"
    )
    val = read_file_list(
        root / VAL_LIST, root, default_dir=VAL_DIR, num_labels=k, what="WebVision val list"
    )
    return WebVisionLists(
        root=root,
        train=[it for it in train if it[1] < num_classes],
        val=[it for it in val if it[1] < num_classes],
        wnids=all_wnids[:num_classes],
        names=all_names[:num_classes],
    )


# ---------------------------------------------------------------------- ILSVRC2012 validation


@dataclass
class ImageNetVal:
    """ILSVRC2012 validation images with their WNIDs, as found under one layout."""

    layout: str  # "a: torchvision folders" | "b: devkit" | "c: kaggle"
    source: str  # what was read, for messages
    entries: list[tuple[str, str]]  # (absolute path, wnid), sorted by file name
    class_wnids: list[str]  # every class WNID the layout knows, sorted (1000 for real data)


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _flat_names(folder: Path) -> dict[str, str]:
    """{'ILSVRC2012_val_00000001': file name} for the images of a flat folder ({} if none)."""
    if not folder.is_dir():
        return {}
    with os.scandir(folder) as it:
        stems = {
            os.path.splitext(e.name)[0]: e.name for e in it if e.is_file() and _is_image(e.name)
        }
    return {stem: name for stem, name in stems.items() if _VAL_NAME.match(stem)}


def _scan_folders(val: Path, wnid_dirs: list[str]) -> ImageNetVal:
    entries = []
    for wnid in wnid_dirs:
        with os.scandir(val / wnid) as it:
            entries += [
                (os.path.join(val, wnid, e.name), wnid)
                for e in it
                if e.is_file() and _is_image(e.name)
            ]
    return ImageNetVal("a: torchvision folders", str(val), entries, sorted(wnid_dirs))


def _read_meta_mat(path: Path) -> dict[int, str]:
    """devkit meta.mat -> {ILSVRC2012_ID: WNID} for the leaf synsets (the 1000 classes)."""
    import scipy.io  # only layout (b) needs scipy

    try:
        synsets = scipy.io.loadmat(str(path), squeeze_me=True)["synsets"]
        # squeeze_me turns a one-entry struct array into a 0-d array
        synsets = np.atleast_1d(synsets)
        ids, wnids, children = (synsets[f] for f in ("ILSVRC2012_ID", "WNID", "num_children"))
        classes = {
            int(i): str(w) for i, w, c in zip(ids, wnids, children, strict=True) if int(c) == 0
        }
    except (OSError, ValueError, KeyError, TypeError, IndexError, NotImplementedError) as e:
        raise DatasetError(
            f"{path} is not a readable devkit meta.mat with a `synsets` struct "
            f"(ILSVRC2012_ID, WNID, num_children): {type(e).__name__}: {e}. "
            f"{IMAGENET_HOW}"
        ) from e
    if not classes:
        raise DatasetError(f"{path}: no leaf synsets (num_children == 0). {IMAGENET_HOW}")
    return classes


def _scan_devkit(root: Path, val: Path, present: dict[str, str]) -> ImageNetVal:
    gt_path = root / DEVKIT_GT
    classes = _read_meta_mat(root / DEVKIT_META)
    entries = []
    for n, line in enumerate(_open_text(gt_path, "devkit ground truth", IMAGENET_HOW), start=1):
        if not line.strip():
            continue
        try:
            wnid = classes[int(line)]
        except (ValueError, KeyError):
            raise DatasetError(
                f"{gt_path} line {n}: {line.strip()[:40]!r} is not an "
                f"ILSVRC2012_ID of meta.mat's leaf synsets"
            ) from None
        stem = f"ILSVRC2012_val_{n:08d}"  # line n is image n (1-based, file order)
        entries.append((os.path.join(val, present.get(stem, stem + ".JPEG")), wnid))
    return ImageNetVal("b: devkit", f"{val} + {gt_path}", entries, sorted(classes.values()))


def _scan_kaggle(root: Path, val: Path, present: dict[str, str]) -> ImageNetVal:
    csv_path = root / KAGGLE_CSV
    lines = _open_text(csv_path, "Kaggle LOC_val_solution.csv", IMAGENET_HOW)
    rows = csv.reader(lines)
    header = next(rows, [])
    if [h.strip() for h in header[:2]] != ["ImageId", "PredictionString"]:
        raise DatasetError(
            f"{csv_path} line 1: expected the header `ImageId,PredictionString`, "
            f"got {','.join(header)[:80]!r}"
        )
    entries = []
    for n, row in enumerate(rows, start=2):
        if not row:
            continue
        wnid = row[1].split()[0] if len(row) > 1 and row[1].split() else ""
        if not _WNID.fullmatch(wnid):
            raise DatasetError(
                f"{csv_path} line {n} is malformed: expected `ImageId,n01440764 "
                f"x y x y ...`, got {','.join(row)[:80]!r}"
            )
        stem = row[0].strip()
        entries.append((os.path.join(val, present.get(stem, stem + ".JPEG")), wnid))
    mapping = root / KAGGLE_SYNSETS
    if mapping.is_file():  # Kaggle ships the 1000 classes too; otherwise the CSV's WNIDs
        class_wnids = sorted(read_synsets(mapping)[0])
    else:
        class_wnids = sorted({w for _, w in entries})
    return ImageNetVal("c: kaggle", f"{val} + {csv_path}", entries, class_wnids)


def scan_imagenet_val(root: PathLike) -> ImageNetVal:
    """Find the ILSVRC2012 validation images under `root` in one of the accepted layouts
    (tried in the order a, b, c) and give each its WNID. DatasetError if none is found."""
    root = Path(root).expanduser().absolute()
    val = root / "val"
    if val.is_dir():
        with os.scandir(val) as it:
            wnid_dirs = sorted(e.name for e in it if e.is_dir() and _WNID.fullmatch(e.name))
        if wnid_dirs:
            found = _scan_folders(val, wnid_dirs)
            found.entries.sort(key=lambda e: os.path.basename(e[0]))
            return found
    found = None
    present = _flat_names(val)
    if present and (root / DEVKIT_GT).is_file() and (root / DEVKIT_META).is_file():
        found = _scan_devkit(root, val, present)
    elif (root / KAGGLE_CSV).is_file():
        for folder in (val, root / KAGGLE_VAL_DIR):
            present = _flat_names(folder)
            if present:
                found = _scan_kaggle(root, folder, present)
                break
    if found is None:
        raise DatasetNotFoundError(
            f"no ILSVRC2012 validation set found under {root}: accepted "
            f"layouts are {IMAGENET_LAYOUTS}. {IMAGENET_HOW}"
        )
    found.entries.sort(key=lambda e: os.path.basename(e[0]))
    return found


def read_imagenet_val(
    root: PathLike, wnids: Sequence[str], scanned: ImageNetVal | None = None
) -> list[Item]:
    """ILSVRC2012 validation images whose WNID is in `wnids`, labelled by the WNID's position in
    `wnids` (WebVision's order, not ImageNet's). Other classes are skipped. DatasetError if no
    layout is found or a WNID has no image. `scanned`: a scan_imagenet_val result to reuse."""
    found = scanned if scanned is not None else scan_imagenet_val(root)
    label_of = {w: i for i, w in enumerate(wnids)}
    items = [(p, label_of[w]) for p, w in found.entries if w in label_of]
    have = {label for _, label in items}
    missing = [w for w in wnids if label_of[w] not in have]
    if missing:
        raise DatasetError(
            f"ILSVRC2012 val ({found.source}, layout {found.layout}) has no "
            f"image of {len(missing)} WebVision class(es): "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}; "
            f"incomplete extraction, or a synsets.txt that is not WebVision "
            f"1.0's. {IMAGENET_HOW}"
        )
    return items


def check_class_order(
    wnids: Sequence[str], imagenet_wnids: Sequence[str] | None = None
) -> str | None:
    """A warning (one line) when WebVision label i is not the i-th WNID of ILSVRC12 in sorted
    order, i.e. when the paper code's positional class-id assumption (spec §9) would pair the
    wrong classes; None when they agree. `imagenet_wnids`: the layout's class WNIDs
    (ImageNetVal.class_wnids); by default the built-in first 50 sorted ILSVRC12 WNIDs."""
    reference = sorted(imagenet_wnids) if imagenet_wnids is not None else ILSVRC12_FIRST_50
    n = min(len(wnids), len(reference))
    wrong = [i for i in range(n) if wnids[i] != reference[i]]
    # the built-in reference holds 50 classes only, so "not a class" needs the layout's list
    known = set(reference)
    unknown = [] if imagenet_wnids is None else [w for w in wnids if w not in known]
    if not wrong and not unknown:
        return None
    parts = []
    if wrong:
        i = wrong[0]
        parts.append(
            f"WebVision label and sorted-ILSVRC12 index differ for {len(wrong)} of {n} "
            f"classes (first: label {i} is {wnids[i]} in synsets.txt, ILSVRC12 index "
            f"{i} is {reference[i]})"
        )
    if unknown:
        parts.append(
            f"{len(unknown)} WebVision WNID(s) are not ILSVRC12 classes here "
            f"({', '.join(unknown[:3])})"
        )
    return (
        "; ".join(parts) + ". ILSVRC12 val is mapped by WNID here, so evaluation is right; "
        "the paper's code assumed equal positions and would not match"
    )


# ------------------------------------------------------------------ transforms, Dataset, loader


def eval_resize(crop: int) -> int:
    """The resize before the centre crop: 256 for the paper's 224, in the same ratio otherwise."""
    return int(round(crop * RESIZE / CROP))


def train_transform(crop: int = CROP):
    """Spec §7, mini-WebVision training augmentation (crop 224 in the paper)."""
    return T.Compose(
        [
            T.RandomResizedCrop(crop),
            T.RandomHorizontalFlip(),
            T.ColorJitter(0.4, 0.4, 0.4, 0.2),
            T.ToTensor(),
            T.Normalize(MEAN, STD),
        ]
    )


def eval_transform(crop: int = CROP):
    """Spec §7, mini-WebVision / ILSVRC12 test preprocessing (Resize 256, CenterCrop 224)."""
    return T.Compose(
        [T.Resize(eval_resize(crop)), T.CenterCrop(crop), T.ToTensor(), T.Normalize(MEAN, STD)]
    )


def load_rgb(path: PathLike) -> Image.Image:
    """Decode one image file to RGB (grayscale/CMYK/palette files included); DatasetError naming
    the file when it is missing, truncated or not an image."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")  # convert() forces the full decode inside the try
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DatasetError(
            f"cannot decode image {path}: {type(e).__name__}: {e}. Re-extract "
            f"it, or find all such files with `python scripts/prepare_webvision.py "
            f"--check-images`"
        ) from e


class FileListDataset(Dataset):
    """(path, label) pairs -> (transform(image), index). The index, not the label, is returned
    (as reference.PILDataset does) so training looks up its possibly noisy label by index;
    the clean labels are in `.labels`."""

    def __init__(self, items: Sequence[tuple[PathLike, int]], transform):
        # a numpy bytes array, not a list of str: DataLoader workers touching Python objects
        # would copy the pages of a forked list (refcounts); numpy data stays shared
        self.paths = np.array([os.fsencode(str(p)) for p, _ in items], dtype=np.bytes_)
        self.labels = np.array([int(label) for _, label in items], dtype=np.int64)
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index: int):
        image = load_rgb(os.fsdecode(self.paths[index]))
        return (self.transform(image) if self.transform is not None else image), index

    def path(self, index: int) -> str:
        return os.fsdecode(self.paths[index])
