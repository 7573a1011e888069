"""mini-WebVision file lists, ILSVRC12 val layouts, transforms, Dataset and the prepare script,
on tiny trees written in the real layouts (8x8 JPEGs; the whole file runs in seconds)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from datasets import webvision as wv
from datasets.base import DatasetError
from scripts import prepare_webvision

# synsets.txt order (= WebVision labels) deliberately not sorted; label 3 is outside num_classes=3
WNIDS = ["n00000003", "n00000001", "n00000004", "n00000002"]
K = 3
EXTRA_WNID = "n00000005"  # an ILSVRC12 class WebVision's mini subset does not have
TRAIN_PER_CLASS, VAL_PER_CLASS, IMAGENET_PER_CLASS = 3, 2, 2


def write_jpeg(path: Path, seed: int, mode: str = "RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (8, 8, 3) if mode == "RGB" else (8, 8)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(path, "JPEG")


def make_webvision(root: Path) -> Path:
    """R/info/{synsets,train_filelist_google,val_filelist}.txt + the images they list."""
    (root / "info").mkdir(parents=True)
    (root / "info/synsets.txt").write_text(
        "".join(f"{w} class {w[-1]}, a description\n" for w in WNIDS)
    )
    train, val, n = [], [], 0
    for label in range(len(WNIDS)):
        for j in range(TRAIN_PER_CLASS):
            rel = f"google/q{label + 1:04d}/{j + 1:08d}.jpg"
            write_jpeg(root / rel, n, mode="L" if n == 0 else "RGB")  # one grayscale file
            train.append(f"{rel} {label}\n")
            n += 1
        for j in range(VAL_PER_CLASS):
            name = f"{n:08d}.jpg"
            write_jpeg(root / wv.VAL_DIR / name, n)
            # both variants of a val line: bare file name, or with the folder
            val.append(f"{name} {label}\n" if j == 0 else f"{wv.VAL_DIR}/{name} {label}\n")
            n += 1
    (root / wv.TRAIN_LIST).write_text("".join(train))
    (root / wv.VAL_LIST).write_text("\n".join(val) + "\n")  # blank lines are skipped
    return root


def _imagenet_images():
    """[(val image number, wnid)]: IMAGENET_PER_CLASS images of each class, classes interleaved."""
    classes = sorted(WNIDS + [EXTRA_WNID])
    return [(k + 1, classes[k % len(classes)]) for k in range(IMAGENET_PER_CLASS * len(classes))]


def _val_name(k: int) -> str:
    return f"ILSVRC2012_val_{k:08d}.JPEG"


def make_imagenet(root: Path, layout: str) -> Path:
    images = _imagenet_images()
    for k, wnid in images:
        if layout == "a":
            write_jpeg(root / "val" / wnid / _val_name(k), 100 + k)
        elif layout == "c_kaggle_dir":
            write_jpeg(root / wv.KAGGLE_VAL_DIR / _val_name(k), 100 + k)
        else:
            write_jpeg(root / "val" / _val_name(k), 100 + k)
    classes = sorted(WNIDS + [EXTRA_WNID])
    if layout == "b":
        data = root / "ILSVRC2012_devkit_t12/data"
        data.mkdir(parents=True)
        # leaf synsets get ids 1..n in sorted order, as in the real devkit; plus one inner node
        dtype = [("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"), ("num_children", "O")]
        synsets = np.zeros((len(classes) + 1, 1), dtype=dtype)  # (N, 1) like the real file
        for i, w in enumerate(classes):
            synsets[i, 0] = (i + 1, w, f"words {w}", 0)
        synsets[-1, 0] = (len(classes) + 1, "n09999999", "an inner node", 3)
        scipy.io.savemat(str(data / "meta.mat"), {"synsets": synsets})
        (data / "ILSVRC2012_validation_ground_truth.txt").write_text(
            "".join(f"{classes.index(w) + 1}\n" for _, w in images)
        )
    elif layout.startswith("c"):
        with open(root / wv.KAGGLE_CSV, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["ImageId", "PredictionString"])
            for k, w in reversed(images):  # any order
                out.writerow([_val_name(k)[:-5], f"{w} 1 2 7 7 {w} 0 0 5 5"])
    return root


def expected_imagenet():
    return {(_val_name(k), WNIDS.index(w)) for k, w in _imagenet_images() if w in WNIDS[:K]}


@pytest.fixture
def webvision_root(tmp_path):
    return make_webvision(tmp_path / "webvision")


# ------------------------------------------------------------------------- WebVision lists


def test_read_webvision_filters_and_resolves(webvision_root):
    lists = wv.read_webvision(webvision_root, num_classes=K)
    assert lists.wnids == WNIDS[:K]
    assert lists.names[0] == "class 3, a description"
    assert len(lists.train) == K * TRAIN_PER_CLASS and len(lists.val) == K * VAL_PER_CLASS
    for items in (lists.train, lists.val):
        assert {label for _, label in items} == set(range(K))
        for path, _ in items:
            assert os.path.isabs(path) and os.path.isfile(path), path
    assert lists.train[0] == (str(webvision_root / "google/q0001/00000001.jpg"), 0)
    # both val variants resolve to R/val_images_256/<name>
    assert all(Path(p).parent == webvision_root / wv.VAL_DIR for p, _ in lists.val)
    full = wv.read_webvision(webvision_root, num_classes=len(WNIDS))
    assert len(full.train) == len(WNIDS) * TRAIN_PER_CLASS and full.wnids == WNIDS


def test_malformed_and_out_of_range_lines(webvision_root):
    path = webvision_root / wv.TRAIN_LIST
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:2] + ["google/q0001/x.jpg"] + lines[2:]) + "\n")
    with pytest.raises(DatasetError, match=r"train_filelist_google\.txt line 3 is malformed"):
        wv.read_webvision(webvision_root, K)
    path.write_text("\n".join(lines[:4] + ["google/q0001/x.jpg seven"]) + "\n")
    with pytest.raises(DatasetError, match=r"train_filelist_google\.txt line 5 is malformed"):
        wv.read_webvision(webvision_root, K)
    path.write_text("\n".join(lines + ["google/q0001/x.jpg 4"]) + "\n")  # 4 synsets: 0..3
    with pytest.raises(DatasetError, match=r"line 13: label 4 out of range, expected 0\.\.3"):
        wv.read_webvision(webvision_root, K)
    (webvision_root / wv.SYNSETS).write_text("n00000001 a\nnot-a-wnid b\n")
    with pytest.raises(DatasetError, match=r"synsets\.txt line 2 is malformed"):
        wv.read_webvision(webvision_root, 1)
    (webvision_root / wv.SYNSETS).write_text("n00000001 a\nn00000002 b\nn00000001 c\n")
    with pytest.raises(DatasetError, match=r"synsets\.txt line 3: n00000001 repeats line 1"):
        wv.read_webvision(webvision_root, 1)


def test_missing_info_and_too_few_synsets(webvision_root):
    with pytest.raises(DatasetError, match=r"lists 4 classes, fewer than num_classes=50"):
        wv.read_webvision(webvision_root)
    (webvision_root / wv.VAL_LIST).unlink()
    with pytest.raises(DatasetError) as err:
        wv.read_webvision(webvision_root, K)
    message = str(err.value)
    assert str(webvision_root / wv.VAL_LIST) in message and "\n" not in message
    assert "https://data.vision.ee.ethz.ch/cvl/webvision/download.html" in message
    with pytest.raises(DatasetError, match=r"synsets\.txt"):
        wv.read_webvision(webvision_root.parent / "nowhere", K)


# ------------------------------------------------------------------------ ILSVRC12 val


@pytest.mark.parametrize("layout", ["a", "b", "c", "c_kaggle_dir"])
def test_imagenet_layouts_map_by_wnid(tmp_path, layout):
    root = make_imagenet(tmp_path / "imagenet", layout)
    items = wv.read_imagenet_val(root, WNIDS[:K])
    assert {(os.path.basename(p), label) for p, label in items} == expected_imagenet()
    assert all(os.path.isfile(p) for p, _ in items)
    assert [os.path.basename(p) for p, _ in items] == sorted(os.path.basename(p) for p, _ in items)
    scanned = wv.scan_imagenet_val(root)
    assert scanned.layout[0] == layout[0]
    assert scanned.class_wnids == sorted(WNIDS + [EXTRA_WNID])  # the inner node is not a class
    # WebVision's order differs from the sorted ILSVRC12 order: mapped by WNID, and flagged
    warning = wv.check_class_order(WNIDS[:K], scanned.class_wnids)
    assert "label 0 is n00000003" in warning and "ILSVRC12 index 0 is n00000001" in warning
    assert wv.check_class_order(sorted(WNIDS + [EXTRA_WNID])[:K], scanned.class_wnids) is None


def test_imagenet_errors(tmp_path):
    with pytest.raises(DatasetError) as err:
        wv.read_imagenet_val(tmp_path, WNIDS[:K])
    assert all(s in str(err.value) for s in ("(a)", "(b)", "(c)", str(tmp_path)))
    root = make_imagenet(tmp_path / "imagenet", "a")
    for f in (root / "val" / WNIDS[1]).iterdir():
        f.unlink()
    with pytest.raises(DatasetError, match=f"no image of 1 WebVision class.*{WNIDS[1]}"):
        wv.read_imagenet_val(root, WNIDS[:K])


def test_check_class_order_builtin_reference():
    first = wv.ILSVRC12_FIRST_50
    assert len(first) == 50 and first == sorted(first)
    assert first[0] == "n01440764" and first[-1] == "n01697457"  # tench .. African crocodile
    assert wv.check_class_order(first) is None
    swapped = [first[1], first[0]] + first[2:]
    assert "2 of 50" in wv.check_class_order(swapped)
    assert "not ILSVRC12 classes" in wv.check_class_order(["n99999999"], first)


# ---------------------------------------------------------------- Dataset, transforms, loader


def test_file_list_dataset(webvision_root):
    lists = wv.read_webvision(webvision_root, K)
    for transform in (wv.train_transform(), wv.eval_transform()):
        ds = wv.FileListDataset(lists.train, transform)
        assert len(ds) == len(lists.train)
        for i in (0, 4):  # 0 is the grayscale file
            x, index = ds[i]
            assert x.shape == (3, 224, 224) and x.dtype == torch.float32 and index == i
    assert ds.labels.tolist() == [label for _, label in lists.train]


def test_corrupt_image_names_the_file(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"this is not a jpeg")
    good = tmp_path / "good.jpg"
    write_jpeg(good, 0)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:200])
    ds = wv.FileListDataset(
        [(good, 0), (bad, 1), (truncated, 0), (tmp_path / "gone.jpg", 0)], wv.eval_transform()
    )
    assert ds[0][0].shape == (3, 224, 224)
    for i, name in ((1, "bad.jpg"), (2, "truncated.jpg"), (3, "gone.jpg")):
        with pytest.raises(DatasetError, match=name):
            ds[i]


# ------------------------------------------------------------------------ prepare script


def _lines(path: Path):
    return path.read_text().splitlines()


def test_prepare_end_to_end(tmp_path, webvision_root, capsys):
    imagenet = make_imagenet(tmp_path / "imagenet", "b")
    out = tmp_path / "lists"
    rc = prepare_webvision.main(
        [
            "--webvision",
            str(webvision_root),
            "--imagenet",
            str(imagenet),
            "--out",
            str(out),
            "--num-classes",
            str(K),
            "--check-images",
        ]
    )
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert len(_lines(out / "webvision_mini_train.txt")) == K * TRAIN_PER_CLASS
    assert len(_lines(out / "webvision_mini_val.txt")) == K * VAL_PER_CLASS
    assert len(_lines(out / "imagenet_mini_val.txt")) == K * IMAGENET_PER_CLASS
    assert _lines(out / "webvision_mini_train.txt")[0] == "google/q0001/00000001.jpg 0"
    # the written lists read back to the same items
    lists = wv.read_webvision(webvision_root, K)
    assert wv.read_file_list(out / "webvision_mini_train.txt", webvision_root) == lists.train
    assert wv.read_file_list(out / "webvision_mini_val.txt", webvision_root) == lists.val
    back = wv.read_file_list(out / "imagenet_mini_val.txt", tmp_path / "elsewhere")
    assert {(os.path.basename(p), label) for p, label in back} == expected_imagenet()
    assert "66k" in printed.out and "warning:" in printed.out  # unsorted WNIDS

    # default --out is R/info; a missing image is reported, exit 1, lists still written
    os.remove(lists.train[1][0])
    rc = prepare_webvision.main(["--webvision", str(webvision_root), "--num-classes", str(K)])
    printed = capsys.readouterr()
    assert rc == 1 and "1 train images missing" in printed.err
    assert len(_lines(webvision_root / "info/webvision_mini_train.txt")) == K * TRAIN_PER_CLASS


def test_prepare_missing_root(tmp_path, capsys):
    rc = prepare_webvision.main(["--webvision", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "nowhere" in err


# ------------------------------------------------------------- train.py on a mini tree

MINI = wv.ILSVRC12_FIRST_50  # 50 classes in ILSVRC12 order, as in WebVision 1.0's synsets.txt


def make_mini_tree(root: Path, train_per_class=2) -> tuple[Path, Path]:
    """A 50-class WebVision tree (+ a 51st class outside the mini subset) and an ILSVRC12 val
    folder (layout a) with one image per class: the real layouts at 12x12 pixels."""
    web, imagenet = root / "webvision", root / "imagenet"
    wnids = MINI + ["n09999999"]
    (web / "info").mkdir(parents=True)
    (web / "info/synsets.txt").write_text("".join(f"{w} class {i}\n" for i, w in enumerate(wnids)))
    train, val, n = [], [], 0
    for label, wnid in enumerate(wnids):
        for j in range(train_per_class):
            rel = f"google/q{label + 1:04d}/{j + 1:08d}.jpg"
            write_jpeg(web / rel, n)
            train.append(f"{rel} {label}\n")
            n += 1
        write_jpeg(web / wv.VAL_DIR / f"{n:08d}.jpg", n)
        val.append(f"{n:08d}.jpg {label}\n")
        write_jpeg(imagenet / "val" / wnid / _val_name(label + 1), 1000 + label)
        n += 1
    (web / wv.TRAIN_LIST).write_text("".join(train))
    (web / wv.VAL_LIST).write_text("".join(val))
    return web, imagenet


def _run_train(tmp_path, out, *sets):
    import train

    return train.main(
        [
            "--config",
            str(Path(__file__).resolve().parents[1] / "configs/webvision_mini/nce+rce.yaml"),
            "--data-root",
            str(tmp_path),
            "--out",
            str(out),
            "--epochs",
            "2",
            "--set",
            "dataset.image_size=32",
            "train.batch_size=25",
            "train.eval_batch_size=16",
            "train.device=cpu",
            "train.progress=false",
            *sets,
        ]
    )


@pytest.mark.e2e
@pytest.mark.parametrize("decode,workers", [("cpu", 2), ("device", 1)])
def test_train_py_on_mini_webvision(tmp_path, decode, workers):
    import json

    make_mini_tree(tmp_path)
    out = tmp_path / "run"
    assert _run_train(tmp_path, out, f"dataset.decode={decode}", f"dataset.workers={workers}") == 0
    result = json.loads((out / "result.json").read_text())
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    last = result["last"]
    for name in ("test", "webvision_val"):  # ILSVRC12 val (the paper's) and WebVision val
        for row in rows + [last]:
            top1, top5 = row[f"{name}_top1"], row[f"{name}_top5"]
            # 50 images, one per class: accuracies are multiples of 2 %
            assert 0 <= top1 <= top5 <= 100 and top1 % 2 == pytest.approx(0, abs=1e-9)
    assert result["noise_estimate"] is None  # web labels: nothing injected to compare with

    # evaluate.py rebuilds both sets from the checkpoint's config and agrees with the last epoch
    import evaluate

    assert (
        evaluate.main(
            [
                "--checkpoint",
                str(out / "checkpoints/last.pt"),
                "--data-root",
                str(tmp_path),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    again = json.loads((out / "eval.json").read_text())
    for key in ("test_top1", "test_top5", "webvision_val_top1", "webvision_val_top5"):
        assert again[key] == pytest.approx(last[key])
    assert (again["num_test"], again["num_webvision_val"]) == (50, 50)
    if decode != "cpu":
        return
    # Independent check of the reported ILSVRC12 top-1: the saved model, the PIL eval
    # transform, and the labels from the folder names mapped through synsets.txt by hand.
    from models import build_model

    model = build_model("tv_resnet50", 50, 3, 32)
    model.load_state_dict(torch.load(out / "checkpoints/last.pt", weights_only=True)["model"])
    model.eval()
    transform = wv.eval_transform(32)
    hits = 0
    with torch.no_grad():
        for label, wnid in enumerate(MINI):
            x = transform(wv.load_rgb(tmp_path / "imagenet/val" / wnid / _val_name(label + 1)))
            hits += int(model(x[None]).argmax(1).item() == label)
    # Not exact on purpose: one image (2 points) may differ. Both sides run the same model and
    # the same PIL transform on the CPU, but the run scores batches of eval_batch_size and this
    # check one image at a time; the CPU convolution kernels sum in a batch-size-dependent order,
    # which can flip the argmax of a near-tie. A wrong label mapping or transform moves many
    # images, far beyond one.
    assert last["test_top1"] == pytest.approx(100.0 * hits / 50, abs=2.0 + 1e-9)


def test_mini_webvision_without_imagenet_is_a_clear_error(tmp_path, capsys):
    make_mini_tree(tmp_path)
    import shutil

    shutil.rmtree(tmp_path / "imagenet")
    assert _run_train(tmp_path, tmp_path / "run") == 2
    assert "no ILSVRC2012 validation set found" in capsys.readouterr().err
