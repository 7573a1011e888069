"""Model factory.  `from models import build_model, MODELS`.

| name         | network                                   | used for (spec §6)        |
|--------------|-------------------------------------------|---------------------------|
| cnn4         | 4-layer CNN (2 conv blocks + 2 FC)        | MNIST, digits quickstart  |
| cnn8         | 8-layer CNN (6 conv blocks + 2 FC)        | CIFAR-10                  |
| resnet18/34/50 | CIFAR-stem ResNet (no max-pool)         | CIFAR-100 uses resnet34   |
| tv_resnet50  | torchvision ResNet-50, random init        | mini-WebVision            |
"""

from .cnn import cnn4, cnn8
from .resnet_cifar import resnet18, resnet34, resnet50


def tv_resnet50(num_classes=50, in_channels=3, image_size=224):
    """torchvision ResNet-50 trained from scratch (no pre-training), as in the paper's WebVision."""
    try:
        import torchvision
    except ImportError as missing:  # the installed library requires torch and numpy only
        raise ImportError(
            "tv_resnet50 needs torchvision (pip install torchvision); the other "
            "models need torch only"
        ) from missing
    if in_channels != 3:
        raise ValueError("tv_resnet50 takes 3-channel input")
    return torchvision.models.resnet50(weights=None, num_classes=num_classes)


MODELS = {
    "cnn4": cnn4,
    "cnn8": cnn8,
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "tv_resnet50": tv_resnet50,
}


def build_model(name: str, num_classes: int, in_channels: int = 3, image_size: int = 32):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}. Valid models: {', '.join(sorted(MODELS))}")
    return MODELS[name](num_classes=num_classes, in_channels=in_channels, image_size=image_size)


__all__ = ["build_model", "MODELS"]
