"""The batched on-device augmentation draws what the reference torchvision transforms draw, and
applies the same operations pixel for pixel; the device batch source covers each epoch once."""

import numpy as np
import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

from datasets import DeviceDataset, ReferenceLoader
from datasets import augment as aug
from engine.runtime import epoch_generator

N = 90_000


def chi_square_uniform(counts):
    expected = counts.sum() / len(counts)
    return float(((counts - expected) ** 2 / expected).sum())


# chi-square critical value for 8 degrees of freedom at p = 0.001
CHI2_8DOF_P001 = 26.12


def test_crop_offsets_uniform_over_padded_range_like_reference():
    params = aug.draw_params(N, "crop_flip", torch.Generator().manual_seed(0))
    for offsets in (params.dx, params.dy):
        counts = np.bincount(offsets.numpy(), minlength=9)
        assert len(counts) == 9 and offsets.min() == 0 and offsets.max() == 8
        assert chi_square_uniform(counts) < CHI2_8DOF_P001
    # the reference: RandomCrop(32, padding=4) on a 40x40 padded image
    torch.manual_seed(0)
    padded = torch.zeros(3, 40, 40)
    ref = np.array([T.RandomCrop.get_params(padded, (32, 32))[:2] for _ in range(20_000)])
    for column in ref.T:
        counts = np.bincount(column, minlength=9)
        assert len(counts) == 9 and chi_square_uniform(counts) < CHI2_8DOF_P001


def test_flip_probability_is_one_half():
    flips = aug.draw_params(N, "crop_flip", torch.Generator().manual_seed(1)).flip.float()
    sigma = 0.5 / np.sqrt(N)
    assert abs(flips.mean().item() - 0.5) < 4 * sigma


def test_rotation_angles_uniform_in_plus_minus_20_like_reference():
    angles = aug.draw_params(N, "crop_flip_rotate", torch.Generator().manual_seed(2)).angle
    assert angles.min() >= -20 and angles.max() <= 20
    # uniform on [-20, 20]: the empirical CDF stays within a KS band (p = 0.001: 1.95/sqrt(N))
    qs = np.linspace(0.01, 0.99, 99)
    assert (
        np.max(np.abs(np.quantile(angles.numpy(), qs) - (-20 + 40 * qs))) / 40
        < 1.95 / np.sqrt(N) * 2
    )
    torch.manual_seed(0)
    ref = np.array([T.RandomRotation.get_params([-20.0, 20.0]) for _ in range(20_000)])
    assert ref.min() >= -20 and ref.max() <= 20
    assert np.max(np.abs(np.quantile(ref, qs) - (-20 + 40 * qs))) < 0.6


def reference_ops(img_u8: torch.Tensor, dx, dy, flip, angle):
    """torchvision's ops on one CHW uint8 image with fixed parameters."""
    out = TF.crop(TF.pad(img_u8, [4, 4, 4, 4]), int(dy), int(dx), 32, 32)
    if flip:
        out = TF.hflip(out)
    if angle is not None:
        out = TF.rotate(out, float(angle), interpolation=InterpolationMode.NEAREST)
    return out


@pytest.mark.parametrize("kind", ["crop_flip", "crop_flip_rotate"])
def test_batched_ops_equal_reference_ops_pixel_for_pixel(kind):
    g = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=g)
    params = aug.draw_params(16, kind, g)
    ours = aug.apply(images.float(), params)
    for i in range(16):
        angle = None if params.angle is None else params.angle[i]
        ref = reference_ops(images[i], params.dx[i], params.dy[i], params.flip[i], angle)
        agree = (ours[i] == ref.float()).float().mean().item()
        # nearest-neighbour rotation may round a handful of edge pixels the other way
        assert agree == 1.0 if angle is None else agree > 0.995


def test_rotation_matches_pil_direction():
    img = torch.zeros(1, 1, 32, 32)
    img[0, 0, 2:6, 20:30] = 255  # a bar in the top-right
    ours = aug.rotate(img, torch.tensor([90.0]))[0, 0]
    pil = np.asarray(Image.fromarray(img[0, 0].numpy().astype(np.uint8)).rotate(90))
    assert (ours.numpy() == pil).mean() > 0.99  # counter-clockwise, like PIL


def test_normalizer_equals_to_tensor_plus_normalize():
    mean, std = (0.49, 0.48, 0.44), (0.24, 0.24, 0.26)
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    ours = aug.Normalizer(mean, std, "cpu")(x.float())
    ref = torch.stack(
        [
            TF.normalize(TF.to_tensor(Image.fromarray(i.permute(1, 2, 0).numpy())), mean, std)
            for i in x
        ]
    )
    assert torch.allclose(ours, ref, atol=1e-5)


def test_device_epoch_covers_every_sample_once_and_is_reproducible():
    images = (
        torch.arange(103, dtype=torch.uint8).view(103, 1, 1, 1).expand(103, 1, 8, 8).contiguous()
    )
    data = DeviceDataset(images, (0.0,), (1 / 255,), "none", "cpu")
    seen = torch.cat([idx for _, idx in data.train_batches(10, epoch_generator(5, 2))])
    assert sorted(seen.tolist()) == list(range(103))
    again = torch.cat([idx for _, idx in data.train_batches(10, epoch_generator(5, 2))])
    assert torch.equal(seen, again)
    other = torch.cat([idx for _, idx in data.train_batches(10, epoch_generator(5, 3))])
    assert not torch.equal(seen, other)
    # a batch's images are the indexed samples (normalisation with mean 0, std 1/255 is identity)
    x, idx = next(data.train_batches(10, epoch_generator(5, 2)))
    assert torch.equal(x[:, 0, 0, 0], idx.float())
    # resuming at step 4 replays batches 4.. exactly
    tail = [i for _, i in data.train_batches(10, epoch_generator(5, 2), first_step=4)]
    assert torch.equal(torch.cat(tail), seen[40:])


def test_reference_loader_yields_the_same_samples_normalised_alike():
    g = torch.Generator().manual_seed(4)
    images = torch.randint(0, 256, (20, 3, 32, 32), dtype=torch.uint8, generator=g)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    fast = DeviceDataset(images, mean, std, "none", "cpu")
    ref = ReferenceLoader(images, mean, std, "none", "cpu")
    for (xf, sf), (xr, ir) in zip(fast.eval_batches(8), ref.eval_batches(8), strict=False):
        assert torch.equal(torch.arange(20)[sf], ir)
        assert torch.allclose(xf, xr, atol=1e-5)
    order = torch.cat([i for _, i in ref.train_batches(6, epoch_generator(0, 0))])
    assert sorted(order.tolist()) == list(range(20))
