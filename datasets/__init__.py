"""Datasets as in-memory arrays: raw uint8 images (N, C, H, W) + int64 labels.

    from datasets import load_dataset, DATASETS, DatasetError, DatasetSpec
    data = load_dataset("cifar10", "/path/to/data_root", download=False)
    data.train_images  # torch.uint8 (50000, 3, 32, 32); data.train_labels: np.int64 (50000,)

Images are never normalised or augmented here: training moves the uint8 tensor to the device,
divides by 255 and normalises with `data.mean` / `data.std`, and a separate module applies
`data.augment` batched. Mean/std and augmentations follow the paper (spec §7).

Paper §7 (mean/std on the [0, 1] scale, per channel; augmentation names below):

| dataset  | layout read under ROOT                                 | train/test  | augment          | model    |
|----------|--------------------------------------------------------|-------------|------------------|----------|
| mnist    | MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte | 60000/10000 | none             | cnn4     |
| cifar10  | cifar-10-batches-py/{data_batch_1..5,test_batch}       | 50000/10000 | crop_flip        | cnn8     |
| cifar100 | cifar-100-python/{train,test} (`fine_labels`)          | 50000/10000 | crop_flip_rotate | resnet34 |
| digits   | none (sklearn.datasets.load_digits, 8x8)               | 1438/359    | none             | cnn4     |

| dataset  | mean                                 | std                                  | source   |
|----------|--------------------------------------|--------------------------------------|----------|
| mnist    | 0.1307                               | 0.3081                               | paper §7 |
| cifar10  | (0.49139968, 0.48215827, 0.44653124) | (0.24703233, 0.24348505, 0.26158768) | paper §7 |
| cifar100 | (0.5071, 0.4865, 0.4409)             | (0.2673, 0.2564, 0.2762)             | paper §7 |
| digits   | 0.30582244                           | 0.37639863                           | computed |

MNIST: uncompressed IDX, or `<name>.gz` when only that exists. CIFAR: class names from
batches.meta / meta (`fine_label_names`) when present. digits (not in the paper; an offline
quickstart): pixels 0..16 stored as uint8 round(v*255/16); fixed stratified 80/20 split of the
1,797 images, seed 0, independent of the training seed (datasets/digits.py); its mean/std are
computed from that train split on the [0, 1] scale (population std over all pixels).

augment: "none"; "crop_flip" = RandomCrop(32, padding=4) + RandomHorizontalFlip;
"crop_flip_rotate" = crop_flip + RandomRotation(20).

Checks: image shape/dtype, label count = image count, labels in [0, K), IDX magic numbers and
header-vs-file sizes, pickle structure. Any size >= 1 is accepted (tests use tiny files in the
real layouts); a size other than the standard one is logged as a warning. CIFAR pickles are
read directly, without md5 checks (the offline CIFAR-10 copy is re-encoded). Missing or
malformed data raises DatasetError (a RuntimeError) with a one-line message naming the path and
how to get the data; an unknown name raises ValueError. `download=True` fetches missing files
through torchvision (`datasets/download.py`), then reads them with the same readers.
Offline copies of MNIST and CIFAR-10: `python ../shared/data/prepare.py ROOT`.
"""
import torch

from .base import (AUGMENTATIONS, DatasetArrays, DatasetError, DatasetNotFoundError,
                   DatasetSpec, RawData, Split)
from .device import DeviceDataset
from .reference import ReferenceLoader
from .registry import DATASETS, get_spec, load_dataset

__all__ = ["AUGMENTATIONS", "DATASETS", "DatasetArrays", "DatasetError", "DatasetNotFoundError",
           "DatasetSpec", "DeviceDataset", "ReferenceLoader", "make_data_source", "RawData", "Split", "get_spec",
           "load_dataset"]


def make_data_source(pipeline: str, images, data: DatasetArrays, augment: str, device,
                     channels_last: bool = False, workers: int = 0, rank: int = 0,
                     step_seed=None):
    """The batch source for train/eval: "fast" (uint8 on the device, batched augmentation) or
    "reference" (the official Dataset/PIL/DataLoader path, for comparison); datasets read as
    files (FileImages) always use a DataLoader over the files (datasets/files.py), whose
    device-side augmentation draws each step from `step_seed(epoch_draw, step, rank)`."""
    if not isinstance(images, torch.Tensor):
        from .files import FileSource
        return FileSource(images, data.mean, data.std, augment, device, channels_last, workers,
                          rank=rank, step_seed=step_seed)
    if pipeline == "reference":
        return ReferenceLoader(images, data.mean, data.std, augment, device, workers)
    return DeviceDataset(images, data.mean, data.std, augment, device, channels_last)
