"""Decode mini-WebVision JPEGs on the training device and augment whole batches there
(`dataset.decode: device`): DataLoader workers only read bytes, `decode_batch` decodes them
(torchvision.io.decode_jpeg, nvJPEG on CUDA), `train_augment` / `eval_transform_batch` apply
the paper's transforms (spec §7) as batched tensor ops, drawing every random number from the
caller's CPU generator in torchvision's order. It runs on the CPU too (the tests). Semantics
and the known rounding-level differences from the PIL path: docs/DATASETS.md."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.io import ImageReadMode, decode_image, decode_jpeg, read_file
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as F

from .base import DatasetError
from .webvision import CROP, RESIZE

PathLike = str | Path

# RandomResizedCrop(224)'s defaults, and ColorJitter(0.4, 0.4, 0.4, 0.2)'s ranges
SCALE = (0.08, 1.0)
RATIO = (3.0 / 4.0, 4.0 / 3.0)
BRIGHTNESS = CONTRAST = SATURATION = (0.6, 1.4)
HUE = (-0.2, 0.2)
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale (ITU-R 601-2 luma)

CHECK_HINT = (
    "Re-extract it, or find all such files with `python scripts/prepare_webvision.py "
    "--check-images`"
)
_JPEG_MAGIC = (0xFF, 0xD8, 0xFF)


# ----------------------------------------------------------------------------- reading bytes


class EncodedFileDataset(Dataset):
    """paths -> (file bytes as a 1-D uint8 tensor, index). Workers only read files; decoding
    happens in the main process on the training device (decode_batch)."""

    def __init__(self, paths: Sequence[PathLike]):
        # a numpy bytes array, not a list of str: DataLoader workers touching Python objects
        # would copy the pages of a forked list (refcounts); numpy data stays shared
        self.paths = np.array([os.fsencode(str(p)) for p in paths], dtype=np.bytes_)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index: int):
        path = self.path(index)
        try:
            # clone: the tensor read_file returns cannot be sent to the main process through
            # shared memory (EBADF in the worker, and the DataLoader waits forever)
            return read_file(path).clone(), index
        except RuntimeError as e:  # torchvision reports a missing/empty/unreadable file so
            if not os.path.isfile(path):
                raise DatasetError(f"image file not found: {path}. {CHECK_HINT}") from e
            raise DatasetError(f"cannot read image file {path}: {e}. {CHECK_HINT}") from e

    def path(self, index: int) -> str:
        return os.fsdecode(self.paths[index])


def collate_encoded(batch) -> tuple[list[Tensor], Tensor]:
    """DataLoader collate_fn for EncodedFileDataset: the byte tensors differ in length, so they
    stay a list; the indices become a LongTensor."""
    data = [d for d, _ in batch]
    index = torch.tensor([int(i) for _, i in batch], dtype=torch.long)
    return data, index


# ----------------------------------------------------------------------------- decoding


def _is_jpeg(data: Tensor) -> bool:
    return data.numel() >= 3 and tuple(data[:3].tolist()) == _JPEG_MAGIC


def _jpeg_components(data: Tensor) -> int | None:
    """Number of colour components in the JPEG's frame header (SOFn), or None when no frame
    header is found (not a well-formed JPEG). Walks the marker segments by their lengths, so
    large EXIF/ICC segments cost nothing."""
    buf = data.numpy().tobytes() if data.device.type == "cpu" else data.cpu().numpy().tobytes()
    pos, n = 2, len(buf)
    while pos + 4 <= n:
        if buf[pos] != 0xFF:
            return None
        marker = buf[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD8 or 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length field
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        length = (buf[pos + 2] << 8) | buf[pos + 3]
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC); payload: precision, height(2),
        # width(2), components
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return buf[pos + 9] if pos + 9 < n else None
        pos += 2 + length
    return None


def _decode_error(name: str, e: Exception) -> DatasetError:
    return DatasetError(f"cannot decode image {name}: {type(e).__name__}: {e}. {CHECK_HINT}")


def _to_rgb_uint8(image: Tensor) -> Tensor:
    if image.dtype != torch.uint8:  # 16-bit PNGs decode to uint16: scale like ToTensor would
        image = F.to_dtype(image, torch.uint8, scale=True)
    if image.shape[0] == 1:  # mode=RGB already expands gray; kept as a guard for any decoder
        image = image.expand(3, -1, -1)
    return image


def _decode_on_cpu(data: Tensor, device: torch.device, name: str) -> Tensor:
    try:
        image = decode_image(data.cpu(), mode=ImageReadMode.RGB)
    except (RuntimeError, ValueError) as e:
        raise _decode_error(name, e) from e
    return _to_rgb_uint8(image).to(device)


def decode_batch(
    data: list[Tensor], device: str | torch.device, paths: Sequence[str] | None = None
) -> list[Tensor]:
    """Encoded files (1-D uint8 CPU tensors) -> uint8 (3, H, W) RGB tensors on `device`.

    Ordinary JPEGs are decoded in one batched decode_jpeg call on `device` (nvjpeg on CUDA).
    Other formats and CMYK JPEGs are decoded on the CPU and moved. `paths` (same order) name the
    files in errors; without it an error names the position in the batch. CPU results may be
    channels-last views (decode_jpeg's HWC buffer); the transforms below accept either layout.
    """
    device = torch.device(device)
    names = (
        [str(p) for p in paths]
        if paths is not None
        else [f"<batch item {k}>" for k in range(len(data))]
    )
    if len(names) != len(data):
        raise ValueError(f"decode_batch: {len(data)} files but {len(names)} paths")
    out: list[Tensor | None] = [None] * len(data)

    # the device decoder gets gray/YCbCr JPEGs; CMYK (4 components) and unparsable headers go to
    # the CPU, which converts CMYK like PIL and gives a clear error for broken files
    on_device = [k for k, d in enumerate(data) if _is_jpeg(d) and _jpeg_components(d) in (1, 3)]
    for k in sorted(set(range(len(data))) - set(on_device)):
        out[k] = _decode_on_cpu(data[k], device, names[k])

    if on_device:
        try:
            decoded = decode_jpeg(
                [data[k] for k in on_device], mode=ImageReadMode.RGB, device=device
            )
        except RuntimeError:
            decoded = None  # one bad file fails the whole call: retry one by one to name it
        for n, k in enumerate(on_device):
            if decoded is not None:
                out[k] = _to_rgb_uint8(decoded[n])
                continue
            try:
                out[k] = _to_rgb_uint8(decode_jpeg(data[k], mode=ImageReadMode.RGB, device=device))
            except RuntimeError as e:
                if device.type == "cpu":
                    raise _decode_error(names[k], e) from e
                # a JPEG feature the device decoder lacks: libjpeg on the CPU may still read it
                out[k] = _decode_on_cpu(data[k], device, names[k])
    return out  # type: ignore[return-value]


# ----------------------------------------------------------------------------- train augmentation


def resized_crop_params(
    height: int,
    width: int,
    generator: torch.Generator,
    scale: tuple[float, float] = SCALE,
    ratio: tuple[float, float] = RATIO,
) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a RandomResizedCrop: torchvision's RandomResizedCrop.get_params
    line for line (10 tries of a random area fraction and log-uniform aspect ratio, then a
    central crop clamped to `ratio`), but drawing from `generator`."""
    area = height * width
    # torchvision takes the log in float32 and passes the 0-dim tensors as Python numbers
    log_ratio = torch.log(torch.tensor(ratio)).tolist()
    for _ in range(10):
        target_area = area * torch.empty(1).uniform_(scale[0], scale[1], generator=generator).item()
        aspect_ratio = torch.exp(
            torch.empty(1).uniform_(log_ratio[0], log_ratio[1], generator=generator)
        ).item()
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if 0 < w <= width and 0 < h <= height:
            i = int(torch.randint(0, height - h + 1, size=(1,), generator=generator).item())
            j = int(torch.randint(0, width - w + 1, size=(1,), generator=generator).item())
            return i, j, h, w
    # fallback to central crop
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w = width
        h = int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        h = height
        w = int(round(h * max(ratio)))
    else:  # whole image
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def _to_float(x: Tensor) -> Tensor:
    """uint8 -> float32 in [0, 1] the way ToTensor does (divide by 255); float passes through."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x.float()


def _factor(f: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """Per-image factors (B,) -> (f, 1 - f) as (B,1,1,1) in x's dtype/device. 1 - f is taken in
    float64 first, as torchvision's _blend does with its Python float ratio."""
    f = f.to(torch.float64).reshape(-1, 1, 1, 1)
    return f.to(x.dtype).to(x.device), (1.0 - f).to(x.dtype).to(x.device)


def _grayscale(x: Tensor) -> Tensor:
    r, g, b = x.unbind(dim=-3)
    return (GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b).unsqueeze(-3)


def _blend(x: Tensor, other: Tensor, factor: Tensor) -> Tensor:
    f, one_minus_f = _factor(factor, x)
    return (f * x + one_minus_f * other).clamp_(0.0, 1.0)


def adjust_brightness(x: Tensor, factor: Tensor) -> Tensor:
    """Batched F.adjust_brightness on float (B,3,H,W) in [0,1]: clamp(x * f, 0, 1)."""
    return _blend(x, torch.zeros_like(x), factor)


def adjust_contrast(x: Tensor, factor: Tensor) -> Tensor:
    """Batched F.adjust_contrast: blend with each image's mean grayscale value."""
    mean = _grayscale(x).mean(dim=(-3, -2, -1), keepdim=True)
    return _blend(x, mean, factor)


def adjust_saturation(x: Tensor, factor: Tensor) -> Tensor:
    """Batched F.adjust_saturation: blend with the image's grayscale version."""
    return _blend(x, _grayscale(x), factor)


def _rgb_to_hsv(x: Tensor) -> Tensor:
    """torchvision's _rgb2hsv (itself after Pillow's Convert.c) on (..., 3, H, W)."""
    r, g, b = x.unbind(dim=-3)
    maxc = x.max(dim=-3).values
    minc = x.min(dim=-3).values
    eqc = maxc == minc  # gray pixel: S = H = 0; the divisors below are replaced to avoid NaN
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    cr_divisor = torch.where(eqc, ones, cr)
    rc = (maxc - r) / cr_divisor
    gc = (maxc - g) / cr_divisor
    bc = (maxc - b) / cr_divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = torch.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return torch.stack((h, s, maxc), dim=-3)


def _hsv_to_rgb(x: Tensor) -> Tensor:
    """torchvision's _hsv2rgb on (..., 3, H, W). It selects each output channel among
    (v, q, p, t) by the hue sextant with a one-hot einsum; a gather picks the same values."""
    h, s, v = x.unbind(dim=-3)
    i = torch.floor(h * 6.0)
    f = (h * 6.0) - i
    i = i.to(torch.int64) % 6
    p = torch.clamp(v * (1.0 - s), 0.0, 1.0)
    q = torch.clamp(v * (1.0 - s * f), 0.0, 1.0)
    t = torch.clamp(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    index = i.unsqueeze(-3)
    r = torch.stack((v, q, p, p, t, v), dim=-3).gather(-3, index)
    g = torch.stack((t, v, v, q, p, p), dim=-3).gather(-3, index)
    b = torch.stack((p, p, t, v, v, q), dim=-3).gather(-3, index)
    return torch.cat((r, g, b), dim=-3)


def adjust_hue(x: Tensor, factor: Tensor) -> Tensor:
    """Batched F.adjust_hue: rotate the hue by f (in [-0.5, 0.5]) in HSV space."""
    hsv = _rgb_to_hsv(x)
    f = factor.to(torch.float64).reshape(-1, 1, 1).to(x.dtype).to(x.device)
    h = (hsv[:, 0] + f) % 1.0
    return _hsv_to_rgb(torch.stack((h, hsv[:, 1], hsv[:, 2]), dim=-3))


# ColorJitter's op ids: fn_idx 0 = brightness, 1 = contrast, 2 = saturation, 3 = hue
JITTER_OPS: tuple[Callable[[Tensor, Tensor], Tensor], ...] = (
    adjust_brightness,
    adjust_contrast,
    adjust_saturation,
    adjust_hue,
)


def color_jitter(x: Tensor, factors: Tensor, order: Tensor) -> Tensor:
    """ColorJitter on a float batch with per-image parameters.

    factors: (B, 4) brightness, contrast, saturation, hue factor of each image.
    order: (B, 4) a permutation of 0..3 per image (ColorJitter's fn_idx): image b gets op
    order[b, 0] first, then order[b, 1], ...

    Batched by position: at step p, each op runs once on the images whose p-th op it is, so
    there are at most 16 batched calls whatever the batch size.
    """
    x = x.clone()
    factors, order = factors.cpu(), order.cpu()
    for position in range(4):
        for op, fn in enumerate(JITTER_OPS):
            chosen = (order[:, position] == op).nonzero().flatten()
            if chosen.numel() == 0:
                continue
            on_device = chosen.to(x.device)
            x[on_device] = fn(x[on_device], factors[chosen, op])
    return x


class TrainParams(NamedTuple):
    """The random parameters of the training augmentation for a batch (all on the CPU)."""

    crops: list[tuple[int, int, int, int]]  # (top, left, height, width) per image
    flips: Tensor  # bool (B,): flip horizontally
    order: Tensor  # int64 (B, 4): ColorJitter's op order per image (see color_jitter)
    factors: Tensor  # float64 (B, 4): brightness, contrast, saturation, hue factors


def draw_train_params(sizes: Sequence[tuple[int, int]], generator: torch.Generator) -> TrainParams:
    """Draw the augmentation parameters for images of the given (height, width), from
    `generator` only, per image in the order torchvision's Compose draws them: RandomResizedCrop
    params, the flip coin (torch.rand(1) < 0.5), ColorJitter's randperm(4), then its brightness,
    contrast, saturation and hue factors."""
    if generator.device.type != "cpu":
        raise ValueError(
            f"pass a CPU torch.Generator (so the draws do not depend on the "
            f"device), got one on {generator.device}"
        )
    crops, flips, orders, factors = [], [], [], []
    for height, width in sizes:
        crops.append(resized_crop_params(int(height), int(width), generator))
        flips.append(bool(torch.rand(1, generator=generator) < 0.5))
        orders.append(torch.randperm(4, generator=generator))
        factors.append(
            [
                float(torch.empty(1).uniform_(lo, hi, generator=generator))
                for lo, hi in (BRIGHTNESS, CONTRAST, SATURATION, HUE)
            ]
        )
    return TrainParams(
        crops,
        torch.tensor(flips, dtype=torch.bool),
        torch.stack(orders) if orders else torch.empty(0, 4, dtype=torch.long),
        torch.tensor(factors, dtype=torch.float64).reshape(-1, 4),
    )


def apply_train_params(images: list[Tensor], params: TrainParams, size: int = CROP) -> Tensor:
    """Crop+resize each image (they differ in size), then flip and jitter the batch."""
    crops = [
        F.resized_crop(
            image,
            top,
            left,
            h,
            w,
            [size, size],
            interpolation=InterpolationMode.BILINEAR,
            antialias=True,
        )
        for image, (top, left, h, w) in zip(images, params.crops, strict=True)
    ]
    x = _to_float(torch.stack(crops))
    flip = params.flips.to(x.device).view(-1, 1, 1, 1)
    x = torch.where(flip, x.flip(-1), x)
    # Float jitter; the PIL path rounds to uint8 after each op (see the module docstring).
    return color_jitter(x, params.factors, params.order)


def train_augment(images: list[Tensor], generator: torch.Generator, size: int = CROP) -> Tensor:
    """The paper's training augmentation on decoded images (uint8 (3, H, W), any sizes, all on
    one device) -> float32 (B, 3, size, size) in [0, 1] on that device, not normalised.

    `generator` must be a CPU torch.Generator: every random number comes from it (never from
    the global RNG or the device), so a given state gives the same parameters on CPU and GPU.
    """
    if not images:
        raise ValueError("train_augment: empty batch")
    params = draw_train_params([tuple(image.shape[-2:]) for image in images], generator)
    return apply_train_params(images, params, size)


# ----------------------------------------------------------------------------- eval, normalise


def eval_transform_batch(images: list[Tensor], resize: int = RESIZE, crop: int = CROP) -> Tensor:
    """Resize(resize) + CenterCrop(crop) on decoded images -> float32 (B, 3, crop, crop) in
    [0, 1], not normalised. Resize with one int scales the shorter side to `resize` and the
    longer to int(resize * long / short), as torchvision does."""
    if not images:
        raise ValueError("eval_transform_batch: empty batch")
    out = [
        F.center_crop(
            F.resize(image, [resize], interpolation=InterpolationMode.BILINEAR, antialias=True),
            [crop, crop],
        )
        for image in images
    ]
    return _to_float(torch.stack(out))
