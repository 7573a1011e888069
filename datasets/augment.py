"""Batched augmentation on the training device (the "fast" pipeline).

The whole dataset is one uint8 tensor on the device (GPU memory, or host memory on the CPU).
A batch is gathered by index, then cropped, flipped and rotated with one vectorised op each,
then normalised: no per-sample Python, no PIL, no DataLoader. The random parameters of a whole
epoch are drawn up front from one CPU generator, so an epoch is a pure function of its seed.

Distributions match the reference torchvision transforms (spec §7), checked in
tests/test_augment.py:
  RandomCrop(32, padding=4): zero padding, top/left offsets uniform on {0, ..., 2*pad};
  RandomHorizontalFlip():    flip with probability 1/2;
  RandomRotation(20):        angle uniform on [-20, 20] degrees, counter-clockwise for positive
                             angles, nearest-neighbour, zero fill, about the image centre.
Order as in the reference: crop -> flip -> rotate -> ToTensor/Normalize (fill values are 0 before
normalisation, i.e. black, as with PIL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

PAD = 4
MAX_ANGLE = 20.0


@dataclass
class AugmentParams:
    """Per-sample random parameters for a set of samples (on the CPU until moved)."""

    dx: torch.Tensor  # int64, left offset into the padded image, uniform on [0, 2*PAD]
    dy: torch.Tensor  # int64, top offset
    flip: torch.Tensor  # bool
    angle: torch.Tensor | None  # float32 degrees, or None without rotation

    def to(self, device) -> AugmentParams:
        return AugmentParams(
            self.dx.to(device, non_blocking=True),
            self.dy.to(device, non_blocking=True),
            self.flip.to(device, non_blocking=True),
            None if self.angle is None else self.angle.to(device, non_blocking=True),
        )

    def take(self, index: torch.Tensor) -> AugmentParams:
        return AugmentParams(
            self.dx[index],
            self.dy[index],
            self.flip[index],
            None if self.angle is None else self.angle[index],
        )


def draw_params(n: int, kind: str, generator: torch.Generator) -> AugmentParams | None:
    if kind == "none":
        return None
    dx = torch.randint(0, 2 * PAD + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * PAD + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    angle = None
    if kind == "crop_flip_rotate":
        angle = (torch.rand(n, generator=generator) * 2 - 1) * MAX_ANGLE
    elif kind != "crop_flip":
        raise ValueError(f"unknown augmentation {kind!r}")
    return AugmentParams(dx, dy, flip, angle)


def random_crop(
    x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, pad: int = PAD
) -> torch.Tensor:
    """Crop x (B, C, H, W) from its zero-padded version at per-sample offsets (dx, dy)."""
    b, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = (dy.view(b, 1) + torch.arange(h, device=x.device)).view(b, 1, h, 1)
    cols = (dx.view(b, 1) + torch.arange(w, device=x.device)).view(b, 1, 1, w)
    batch = torch.arange(b, device=x.device).view(b, 1, 1, 1)
    channel = torch.arange(c, device=x.device).view(1, c, 1, 1)
    return padded[batch, channel, rows, cols]


def horizontal_flip(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def rotate(x: torch.Tensor, angle_deg: torch.Tensor) -> torch.Tensor:
    """Rotate each image counter-clockwise by its angle about the centre; nearest, zero fill."""
    theta = angle_deg.to(torch.float32) * (math.pi / 180.0)
    cos, sin = torch.cos(theta), torch.sin(theta)
    zero = torch.zeros_like(cos)
    # Output pixel (u, v) samples the input at R(theta) (u, v) in normalised coordinates
    # (x right, y down): this turns the content counter-clockwise on screen, like PIL.
    affine = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(affine, list(x.shape), align_corners=False)
    return F.grid_sample(
        x, grid.to(x.dtype), mode="nearest", padding_mode="zeros", align_corners=False
    )


def apply(x: torch.Tensor, params: AugmentParams | None) -> torch.Tensor:
    """Augment a float batch x (B, C, H, W) holding raw 0..255 pixel values."""
    if params is None:
        return x
    x = random_crop(x, params.dx, params.dy)
    x = horizontal_flip(x, params.flip)
    if params.angle is not None:
        x = rotate(x, params.angle)
    return x


class Normalizer:
    """The one image normaliser: (x/input_max - mean)/std folded into one multiply-add; uint8
    images (input_max 255, the fast path) or floats in [0, 1] (input_max 1, the device-decoded
    WebVision path)."""

    def __init__(self, mean, std, device, dtype=torch.float32, input_max: float = 255.0):
        mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        std = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.scale = (1.0 / (input_max * std)).to(dtype)
        self.shift = (-mean / std).to(dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, x.to(self.scale.dtype), self.scale)
