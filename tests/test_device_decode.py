"""datasets/device_decode.py: decoding whole batches of files and the paper's augmentation as
batched tensor ops, checked on the CPU against PIL and torchvision's own transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import transforms as T
from torchvision.io import read_file
from torchvision.transforms import v2

from datasets import device_decode as dd
from datasets.base import DatasetError
from datasets.webvision import MEAN, STD, load_rgb

# torchvision 0.29 deprecates torchvision.io's image decoders in favour of TorchCodec; the
# warning is known (see the module docstring of datasets/device_decode.py), not a failure here
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")


def smooth_image(height, width, seed, gray=False):
    """A photo-like uint8 (H, W, 3) array: low-frequency waves plus mild noise (pure noise
    would make JPEG and resampling comparisons needlessly harsh)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    channels = [
        127
        + 100
        * np.sin(2 * np.pi * (rng.uniform(1, 4) * xx + rng.uniform(1, 4) * yy) + rng.uniform(0, 6))
        for _ in range(3)
    ]
    a = np.clip(np.stack(channels, -1) + rng.normal(0, 8, (height, width, 3)), 0, 255)
    a = a.astype(np.uint8)
    return a[..., 0] if gray else a


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    """RGB JPEGs of varied sizes, a grayscale JPEG, a CMYK JPEG and an RGBA PNG."""
    d = tmp_path_factory.mktemp("images")
    files = []
    for k, (h, w) in enumerate([(200, 300), (260, 180), (256, 256)]):
        files.append(d / f"rgb{k}.jpg")
        Image.fromarray(smooth_image(h, w, k)).save(files[-1], quality=90)
    files.append(d / "gray.jpg")
    Image.fromarray(smooth_image(150, 170, 5, gray=True)).save(files[-1], quality=90)
    files.append(d / "cmyk.jpg")
    Image.fromarray(smooth_image(100, 140, 6)).convert("CMYK").save(files[-1], quality=95)
    files.append(d / "rgba.png")
    Image.fromarray(smooth_image(120, 90, 7)).convert("RGBA").save(files[-1])
    return [str(f) for f in files]


@pytest.fixture(scope="module")
def decoded(image_files):
    return dd.decode_batch([read_file(f) for f in image_files], "cpu", image_files)


def pil_rgb(path) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)


# ----------------------------------------------------------------------------- reading, decoding


def test_dataset_and_loader_yield_bytes_and_indices(image_files, tmp_path):
    ds = dd.EncodedFileDataset(image_files)
    assert len(ds) == len(image_files) and ds.path(2) == image_files[2]
    loader = DataLoader(
        ds, batch_size=4, shuffle=False, num_workers=0, collate_fn=dd.collate_encoded
    )
    batches = list(loader)
    assert [len(data) for data, _ in batches] == [4, 2]
    data = [d for b, _ in batches for d in b]
    index = torch.cat([i for _, i in batches])
    assert index.dtype == torch.long and index.tolist() == list(range(len(image_files)))
    for d, f in zip(data, image_files, strict=False):
        assert d.dtype == torch.uint8 and d.dim() == 1
        assert d.numpy().tobytes() == open(f, "rb").read()

    missing = str(tmp_path / "gone.jpg")
    with pytest.raises(DatasetError, match="gone.jpg"):
        dd.EncodedFileDataset([missing])[0]


def test_decode_batch_matches_pil(image_files, decoded):
    for f, image in zip(image_files, decoded, strict=False):
        ref = pil_rgb(f)
        assert image.dtype == torch.uint8 and image.shape == ref.shape  # 3 channels for all
        diff = (image.int() - ref.int()).abs()
        # torchvision and Pillow each bundle a libjpeg(-turbo); the versions may differ in
        # IDCT / chroma upsampling by a few levels, so allow that much (here they agree exactly)
        assert diff.float().mean() < 1.0 and diff.max() <= 4, f
    gray = decoded[3]
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])
    assert torch.equal(decoded[5], pil_rgb(image_files[5]))  # PNG is lossless


def test_decode_errors_name_the_file(image_files, tmp_path):
    good = open(image_files[0], "rb").read()
    truncated, garbage, fake_jpeg = (tmp_path / n for n in ("cut.jpg", "junk.jpg", "fake.jpg"))
    truncated.write_bytes(good[: len(good) // 2])
    garbage.write_bytes(b"not an image at all" * 10)
    fake_jpeg.write_bytes(b"\xff\xd8\xff" + b"\x00" * 100)  # JPEG magic, no valid header
    for bad in (truncated, garbage, fake_jpeg):
        paths = [image_files[0], str(bad)]
        with pytest.raises(DatasetError) as e:
            dd.decode_batch([read_file(p) for p in paths], "cpu", paths)
        message = str(e.value)
        assert str(bad) in message and image_files[0] not in message
        assert "--check-images" in message and "Re-extract" in message
    with pytest.raises(DatasetError, match="batch item 1"):  # without paths: the position
        dd.decode_batch([read_file(image_files[0]), read_file(str(truncated))], "cpu")


# ----------------------------------------------------------------------------- eval transform


def test_eval_transform_matches_pil_path(image_files, decoded):
    out = dd.eval_transform_batch(decoded)
    assert out.shape == (len(decoded), 3, 224, 224) and out.dtype == torch.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    # datasets.webvision.eval_transform() before its Normalize
    ref_transform = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor()])
    ref = torch.stack([ref_transform(load_rgb(f)) for f in image_files])
    assert (out - ref).abs().mean() < 0.01
    # the one normaliser, on [0, 1] floats, is T.Normalize(MEAN, STD)
    from datasets.augment import Normalizer

    normalize = Normalizer(MEAN, STD, "cpu", input_max=1.0)
    assert torch.allclose(normalize(out), T.Normalize(MEAN, STD)(ref.clone()), atol=0.1)
    assert torch.allclose(
        normalize(out), torch.stack([T.Normalize(MEAN, STD)(o) for o in out]), atol=1e-5
    )


# ----------------------------------------------------------------------------- colour jitter


@pytest.fixture
def float_batch():
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, 3, 24, 32, generator=g), g


@pytest.mark.parametrize(
    "ours, theirs, lo, hi",
    [
        (dd.adjust_brightness, TF.adjust_brightness, 0.6, 1.4),
        (dd.adjust_contrast, TF.adjust_contrast, 0.6, 1.4),
        (dd.adjust_saturation, TF.adjust_saturation, 0.6, 1.4),
        (dd.adjust_hue, TF.adjust_hue, -0.2, 0.2),
    ],
)
def test_jitter_ops_match_torchvision(float_batch, ours, theirs, lo, hi):
    x, g = float_batch
    factors = torch.empty(len(x), dtype=torch.float64).uniform_(lo, hi, generator=g)
    out = ours(x, factors)
    ref = torch.stack([theirs(x[b], float(factors[b])) for b in range(len(x))])
    assert out.shape == x.shape
    assert (out - ref).abs().max() < (1e-4 if ours is dd.adjust_hue else 1e-5)


def test_color_jitter_applies_each_images_order(float_batch):
    x, g = float_batch
    order = torch.stack([torch.randperm(4, generator=g) for _ in range(len(x))])
    factors = torch.stack(
        [
            torch.empty(len(x), dtype=torch.float64).uniform_(lo, hi, generator=g)
            for lo, hi in (dd.BRIGHTNESS, dd.CONTRAST, dd.SATURATION, dd.HUE)
        ],
        1,
    )
    out = dd.color_jitter(x, factors, order)
    theirs = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for b in range(len(x)):
        ref = x[b]
        for op in order[b].tolist():
            ref = theirs[op](ref, float(factors[b, op]))
        assert (out[b] - ref).abs().max() < 1e-4, b


# ----------------------------------------------------------------------------- random parameters


def test_resized_crop_params_equal_torchvision_for_the_same_state():
    for seed, (h, w) in enumerate([(200, 300), (260, 180), (32, 32), (10, 1000), (1000, 10)]):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            ref = T.RandomResizedCrop.get_params(torch.empty(3, h, w), [0.08, 1.0], [3 / 4, 4 / 3])
        assert dd.resized_crop_params(h, w, torch.Generator().manual_seed(seed)) == ref


def test_resized_crop_params_bounds_and_fallback():
    g = torch.Generator().manual_seed(1)
    height, width = 200, 300
    for _ in range(500):
        i, j, h, w = dd.resized_crop_params(height, width, g)
        assert 0 <= i and i + h <= height and 0 <= j and j + w <= width
        # area fraction in [0.08, 1] and aspect ratio in [3/4, 4/3] up to rounding h, w to ints
        assert (h + 0.5) * (w + 0.5) >= 0.08 * height * width
        assert (w + 0.5) / (h - 0.5) >= 3 / 4 and (w - 0.5) / (h + 0.5) <= 4 / 3
    # a 10x1000 strip admits no crop within the ratio bounds: central crop of ratio 4/3
    assert dd.resized_crop_params(10, 1000, g) == (0, (1000 - 13) // 2, 10, 13)
    assert dd.resized_crop_params(1000, 10, g) == ((1000 - 13) // 2, 0, 13, 10)


def test_train_params_flip_order_and_factor_ranges():
    params = dd.draw_train_params([(64, 80)] * 4000, torch.Generator().manual_seed(2))
    assert abs(params.flips.float().mean().item() - 0.5) < 0.05
    assert torch.equal(params.order.sort(1).values, torch.arange(4).expand(4000, 4))
    for position in range(4):  # every op shows up at every position
        assert set(params.order[:, position].tolist()) == {0, 1, 2, 3}
    f = params.factors
    assert f[:, :3].min() >= 0.6 and f[:, :3].max() <= 1.4
    assert f[:, 3].min() >= -0.2 and f[:, 3].max() <= 0.2
    assert f[:, 3].min() < -0.15 and f[:, 3].max() > 0.15  # the whole range is used


# ----------------------------------------------------------------------------- train augmentation


def test_train_augment_output_and_determinism(decoded):
    with torch.random.fork_rng():
        torch.manual_seed(123)
        before = torch.get_rng_state()
        a = dd.train_augment(decoded, torch.Generator().manual_seed(7))
        assert torch.equal(torch.get_rng_state(), before)  # the global RNG is never used
    assert a.shape == (len(decoded), 3, 224, 224) and a.dtype == torch.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    # smaller outputs from here on: the CPU work, not the semantics, grows with the size
    small = dd.train_augment(decoded, torch.Generator().manual_seed(7), size=48)
    assert small.shape == (len(decoded), 3, 48, 48)
    assert torch.equal(small, dd.train_augment(decoded, torch.Generator().manual_seed(7), size=48))
    assert not torch.allclose(
        small, dd.train_augment(decoded, torch.Generator().manual_seed(8), size=48)
    )


def test_train_augment_equals_torchvision_pipeline(decoded):
    """A generator in the global RNG's state reproduces torchvision's RandomResizedCrop +
    RandomHorizontalFlip + ColorJitter image by image (tensor kernels, jitter in float)."""
    size = 64
    pipeline = v2.Compose(
        [
            v2.RandomResizedCrop(size, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.Lambda(lambda t: t.float() / 255),
            v2.ColorJitter(0.4, 0.4, 0.4, 0.2),
        ]
    )
    for seed in (0, 1, 2):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            ref = torch.stack([pipeline(image) for image in decoded])
        out = dd.train_augment(decoded, torch.Generator().manual_seed(seed), size=size)
        assert (out - ref).abs().max() < 1e-4
