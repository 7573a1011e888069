"""CIFAR-10 / CIFAR-100 from the official "python version" pickles.

    ROOT/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}   key `labels`
    ROOT/cifar-100-python/{train, test, meta}                              key `fine_labels`

Each file is a pickled dict: `data` uint8 (n, 3072) rows = 1024 R, 1024 G, 1024 B values (CHW),
plus the label list. The pickles are read directly (not through torchvision): the offline
CIFAR-10 copy is re-encoded, so torchvision's md5 check would reject it; structure is checked
instead. Keys are accepted as bytes (`encoding="bytes"`) or str. Unpickling is restricted to the
few globals such files need (numpy array reconstruction), so a dataset file cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .base import DatasetError, DatasetNotFoundError, DatasetSpec, RawData, Split

CIFAR10_DIR = "cifar-10-batches-py"
CIFAR100_DIR = "cifar-100-python"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))

_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # bytes pickled by Python 3 at protocol < 3
    ("builtins", "bytes"),
    ("__builtin__", "bytes"),
    ("builtins", "bytearray"),
    ("__builtin__", "bytearray"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        if module.startswith("numpy.core.") and hasattr(np, "_core"):
            module = "numpy._core." + module[len("numpy.core.") :]
        return super().find_class(module, name)


def read_pickle(path: Path, what: str, how_to_get: str) -> dict[str, Any]:
    """Unpickle one CIFAR file into a dict with str keys; any failure becomes a DatasetError."""
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"{what} not found: expected {path}. {how_to_get}")
    try:
        with open(path, "rb") as f:
            obj = _SafeUnpickler(f, encoding="bytes").load()
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        ImportError,
        IndexError,
        KeyError,
        MemoryError,
        OSError,
    ) as e:
        raise DatasetError(
            f"{path} is not a readable {what} pickle (truncated or corrupt?): "
            f"{type(e).__name__}: {e}"
        ) from e
    if not isinstance(obj, dict):
        raise DatasetError(
            f"{path} is malformed: expected a pickled dict, got {type(obj).__name__}"
        )
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _batch(path: Path, label_key: str, what: str, how_to_get: str) -> tuple[np.ndarray, np.ndarray]:
    d = read_pickle(path, what, how_to_get)
    for key in ("data", label_key):
        if key not in d:
            raise DatasetError(f"{path} is malformed: no {key!r} entry (keys: {sorted(d)})")
    data = d["data"]
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3 * 32 * 32
    ):
        desc = (
            f"{data.dtype} array of shape {data.shape}"
            if isinstance(data, np.ndarray)
            else type(data).__name__
        )
        raise DatasetError(
            f"{path} is malformed: 'data' should be a uint8 array of shape (n, 3072), got {desc}"
        )
    try:
        labels = np.asarray(d[label_key])
    except (ValueError, TypeError) as e:
        raise DatasetError(f"{path} is malformed: {label_key!r} is not a flat list of ints") from e
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise DatasetError(
            f"{path} is malformed: {label_key!r} should be a flat list of ints, "
            f"got {labels.dtype} array of shape {labels.shape}"
        )
    if len(labels) != len(data):
        raise DatasetError(
            f"{path} is malformed: {len(data)} images but {len(labels)} {label_key!r} entries"
        )
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _read_split(
    folder: Path, files: tuple[str, ...], label_key: str, what: str, how_to_get: str
) -> Split:
    # check every file exists before spending time unpickling any of them
    for name in files:
        if not (folder / name).is_file():
            raise DatasetNotFoundError(f"{what} not found: expected {folder / name}. {how_to_get}")
    parts = [_batch(folder / name, label_key, what, how_to_get) for name in files]
    images = parts[0][0] if len(parts) == 1 else np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    source = str(folder / files[0]) if len(files) == 1 else f"{folder}/{{{','.join(files)}}}"
    return Split(images, labels, source)


def _class_names(
    path: Path, key: str, what: str, how_to_get: str, num_classes: int
) -> list[str] | None:
    """Class names from the meta file; None when the file (optional) is absent."""
    if not path.is_file():
        return None
    names = read_pickle(path, what, how_to_get).get(key)
    if names is None:
        return None
    names = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]
    if len(names) != num_classes:
        raise DatasetError(f"{path} is malformed: {len(names)} {key!r}, expected {num_classes}")
    return names


def load_cifar10(root: Path | None, spec: DatasetSpec) -> RawData:
    folder = Path(root) / CIFAR10_DIR
    how = spec.how_to_get_for(root)
    train = _read_split(folder, CIFAR10_TRAIN_FILES, "labels", "CIFAR-10", how)
    test = _read_split(folder, ("test_batch",), "labels", "CIFAR-10", how)
    return RawData(
        train,
        test,
        _class_names(folder / "batches.meta", "label_names", "CIFAR-10", how, spec.num_classes),
    )


def load_cifar100(root: Path | None, spec: DatasetSpec) -> RawData:
    folder = Path(root) / CIFAR100_DIR
    how = spec.how_to_get_for(root)
    train = _read_split(folder, ("train",), "fine_labels", "CIFAR-100", how)
    test = _read_split(folder, ("test",), "fine_labels", "CIFAR-100", how)
    return RawData(
        train,
        test,
        _class_names(folder / "meta", "fine_label_names", "CIFAR-100", how, spec.num_classes),
    )
