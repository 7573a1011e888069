"""MNIST from torchvision's on-disk layout: ROOT/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte.

The IDX files are parsed here with numpy (no torchvision needed to read). Uncompressed files are
preferred; ``<name>.gz`` is read when only the compressed file exists (torchvision keeps both).
IDX format: big-endian; magic = 0x0000 | type code (0x08 = uint8) | number of dims; then one
uint32 per dim; then the data, row-major. Images: magic 2051 (0x00000803), dims (n, 28, 28);
labels: magic 2049 (0x00000801), dims (n,).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from .base import DatasetError, DatasetNotFoundError, DatasetSpec, RawData, Split

IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
SPLIT_PREFIX = {"train": "train", "test": "t10k"}


def mnist_dir(root: Path) -> Path:
    return Path(root) / "MNIST" / "raw"


def _read_bytes(path: Path) -> bytearray:
    """The file's uncompressed content (a bytearray, so numpy views of it are writable)."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return bytearray(f.read())
        return bytearray(path.read_bytes())
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise DatasetError(f"cannot read {path}: {type(e).__name__}: {e}") from e


def read_idx(path: Path, magic: int, what: str = "items") -> np.ndarray:
    """Parse one uint8 IDX file into an array of the header's shape; checks magic and sizes."""
    path = Path(path)
    buf = _read_bytes(path)
    if len(buf) < 4:
        raise DatasetError(
            f"{path} is truncated: {len(buf)} bytes, shorter than the 4-byte IDX magic"
        )
    found = int.from_bytes(buf[:4], "big")
    if found != magic:
        raise DatasetError(
            f"{path} has wrong magic number {found} (0x{found:08x}); expected "
            f"{magic} (0x{magic:08x}, IDX uint8 {what})"
        )
    ndim = buf[3]
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise DatasetError(
            f"{path} is truncated: {len(buf)} bytes, shorter than its {header}-byte IDX header"
        )
    dims = tuple(int.from_bytes(buf[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims, dtype=np.int64))
    held = len(buf) - header
    shape_txt = f"{dims[0]} {what}" + ("" if ndim == 1 else " of " + "x".join(map(str, dims[1:])))
    if held < expected:
        raise DatasetError(
            f"{path} is truncated: header says {shape_txt} but file holds {held} "
            f"bytes of data (expected {expected})"
        )
    if held > expected:
        raise DatasetError(
            f"{path} is malformed: header says {shape_txt} ({expected} bytes) but "
            f"file holds {held} bytes of data ({held - expected} extra)"
        )
    return np.frombuffer(buf, dtype=np.uint8, offset=header).reshape(dims)


def _find(raw: Path, name: str, spec: DatasetSpec, root: Path) -> Path:
    for candidate in (raw / name, raw / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise DatasetNotFoundError(
        f"MNIST not found: expected {raw / name} (or {name}.gz). {spec.how_to_get_for(root)}"
    )


def _read_split(raw: Path, split: str, spec: DatasetSpec, root: Path) -> Split:
    prefix = SPLIT_PREFIX[split]
    img_path = _find(raw, f"{prefix}-images-idx3-ubyte", spec, root)
    lbl_path = _find(raw, f"{prefix}-labels-idx1-ubyte", spec, root)
    images = read_idx(img_path, IDX_IMAGES_MAGIC, "images")
    labels = read_idx(lbl_path, IDX_LABELS_MAGIC, "labels")
    size = spec.image_size
    if images.shape[1:] != (size, size):
        raise DatasetError(
            f"{img_path} holds images of {images.shape[1]}x{images.shape[2]}; "
            f"expected {size}x{size}"
        )
    if len(images) != len(labels):
        raise DatasetError(
            f"MNIST {split} split inconsistent: {img_path} holds {len(images)} "
            f"images but {lbl_path} holds {len(labels)} labels"
        )
    return Split(images[:, None, :, :], labels.astype(np.int64), f"{img_path}, {lbl_path}")


def load_mnist(root: Path | None, spec: DatasetSpec) -> RawData:
    raw = mnist_dir(root)
    return RawData(
        _read_split(raw, "train", spec, root),
        _read_split(raw, "test", spec, root),
        [str(i) for i in range(10)],
    )
