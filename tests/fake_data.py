"""Tiny but real-layout dataset files, so loaders and the training script run without real data.

    write_fake_mnist(root)     -> root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
    write_fake_cifar10(root)   -> root/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}
    write_fake_cifar100(root)  -> root/cifar-100-python/{train,test,meta}

Everything is deterministic in `seed`. Labels cycle 0..K-1 (every class present once n >= K).
Images are learnable: each class lights a distinct block (CIFAR: a distinct block + colour) over
dark noise, so a few training steps beat chance. `fake_arrays(...)` regenerates exactly what a
writer wrote, for round-trip tests. The CIFAR pickles are written like the official files
(protocol 2, bytes written as Python 2 `str`): keys load as bytes with encoding="bytes" and as
str with encoding="latin1".
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
CIFAR100_FINE = [f"fine_{i:02d}" for i in range(100)]
CIFAR100_COARSE = [f"coarse_{i:02d}" for i in range(20)]

_KIND = {  # kind -> (channels, size, classes)
    "mnist": (1, 28, 10),
    "cifar10": (3, 32, 10),
    "cifar100": (3, 32, 100),
}
_SPLIT_ID = {"train": 0, "test": 1}
# 10 well-separated RGB colours; CIFAR-100 class c uses colour c % 10 and block c // 10
_PALETTE = np.array(
    [
        [255, 40, 40],
        [40, 255, 40],
        [40, 40, 255],
        [255, 255, 40],
        [255, 40, 255],
        [40, 255, 255],
        [255, 150, 40],
        [150, 40, 255],
        [255, 255, 255],
        [120, 120, 120],
    ],
    dtype=np.int64,
)


def fake_split(kind: str, n: int, split: str = "train", seed: int = 0):
    """(images uint8 (n, C, H, W), labels int64 (n,)) exactly as the writers write them."""
    c, size, k = _KIND[kind]
    rng = np.random.default_rng([seed, _SPLIT_ID[split]])
    labels = np.arange(n, dtype=np.int64) % k
    images = rng.integers(0, 64, size=(n, c, size, size), dtype=np.int64)
    grid, block = 4, size // 4  # 16 block positions on a 4x4 grid
    for i, y in enumerate(labels):
        pos = int(y) if kind != "cifar100" else int(y) // 10
        r, col = divmod(pos % (grid * grid), grid)
        sl = (slice(r * block, (r + 1) * block), slice(col * block, (col + 1) * block))
        if c == 1:
            images[i, 0][sl] = rng.integers(192, 256, size=(block, block))
        else:
            colour = _PALETTE[int(y) % 10]
            for ch in range(3):
                images[i, ch][sl] = np.clip(
                    colour[ch] - rng.integers(0, 40, size=(block, block)), 0, 255
                )
    return images.astype(np.uint8), labels


def fake_arrays(kind: str, n_train: int, n_test: int, seed: int = 0):
    """(train_images, train_labels, test_images, test_labels) as written by write_fake_<kind>."""
    return (*fake_split(kind, n_train, "train", seed), *fake_split(kind, n_test, "test", seed))


# ----------------------------------------------------------------------------------------- IDX
def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    """Write a uint8 array as an IDX file (magic 0x0800|ndim, big-endian uint32 dims)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    payload = header + array.tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)
    return path


def write_fake_mnist(
    root, n_train: int = 64, n_test: int = 32, seed: int = 0, compress: bool = False
) -> Path:
    """Write root/MNIST/raw/*-ubyte (IDX; with compress=True only the `.gz` files)."""
    root = Path(root)
    raw = root / "MNIST" / "raw"
    x, y, xt, yt = fake_arrays("mnist", n_train, n_test, seed)
    for prefix, images, labels in (("train", x, y), ("t10k", xt, yt)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images[:, 0], compress)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, compress)
    return root


# -------------------------------------------------------------------------------------- pickles
class _Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 `str` opcodes, as the official CIFAR files do."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2str(self, obj):
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + n.to_bytes(4, "little") + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2str


def dump_py2_pickle(obj, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        _Py2Pickler(f, protocol=2).dump(obj)
    return path


def _rows(images: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(images.reshape(len(images), -1))  # N x 3072, CHW rows


def write_fake_cifar10(root, n_train: int = 100, n_test: int = 50, seed: int = 0) -> Path:
    """Write root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}."""
    root = Path(root)
    folder = root / "cifar-10-batches-py"
    x, y, xt, yt = fake_arrays("cifar10", n_train, n_test, seed)
    bounds = np.linspace(0, n_train, 6).round().astype(int)
    for b in range(5):
        s = slice(bounds[b], bounds[b + 1])
        dump_py2_pickle(
            {
                b"batch_label": f"training batch {b + 1} of 5".encode(),
                b"labels": [int(v) for v in y[s]],
                b"data": _rows(x[s]),
                b"filenames": [
                    f"fake_{i:05d}.png".encode() for i in range(bounds[b], bounds[b + 1])
                ],
            },
            folder / f"data_batch_{b + 1}",
        )
    dump_py2_pickle(
        {
            b"batch_label": b"testing batch 1 of 1",
            b"labels": [int(v) for v in yt],
            b"data": _rows(xt),
            b"filenames": [f"fake_t{i:05d}.png".encode() for i in range(n_test)],
        },
        folder / "test_batch",
    )
    dump_py2_pickle(
        {
            b"label_names": [c.encode() for c in CIFAR10_CLASSES],
            b"num_cases_per_batch": int(bounds[1]),
            b"num_vis": 3072,
        },
        folder / "batches.meta",
    )
    return root


def write_fake_cifar100(root, n_train: int = 200, n_test: int = 100, seed: int = 0) -> Path:
    """Write root/cifar-100-python/{train, test, meta} (fine_labels, coarse_labels = fine // 5)."""
    root = Path(root)
    folder = root / "cifar-100-python"
    x, y, xt, yt = fake_arrays("cifar100", n_train, n_test, seed)
    for name, images, labels in (("train", x, y), ("test", xt, yt)):
        dump_py2_pickle(
            {
                b"batch_label": f"{name}ing batch 1 of 1".encode(),
                b"fine_labels": [int(v) for v in labels],
                b"coarse_labels": [int(v) // 5 for v in labels],
                b"data": _rows(images),
                b"filenames": [f"fake_{name}_{i:05d}.png".encode() for i in range(len(labels))],
            },
            folder / name,
        )
    dump_py2_pickle(
        {
            b"fine_label_names": [c.encode() for c in CIFAR100_FINE],
            b"coarse_label_names": [c.encode() for c in CIFAR100_COARSE],
        },
        folder / "meta",
    )
    return root
