"""The paper's small CNNs ([SUB] model.py `SCEModel`; spec §6).

ConvBlock = Conv3x3 (with bias) -> BatchNorm2d -> ReLU.
  cnn4 ("4-layer CNN", MNIST):  CB(1->32) MP CB(32->64) MP FC(->128) BN1d ReLU FC(->K)
  cnn8 ("8-layer CNN", CIFAR-10): CB(3->64) CB(64) MP CB(128) CB(128) MP CB(196) CB(196) MP
                                  FC(->256) BN1d ReLU FC(->K), no dropout.
The flatten size follows from `image_size`, so cnn4 also serves the 8x8 `digits` quickstart.
"""

import torch.nn as nn

from .init import init_paper


def conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=True), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class ConvNet(nn.Module):
    def __init__(self, stages, hidden: int, num_classes: int, in_channels: int, image_size: int):
        super().__init__()
        layers, cin, size = [], in_channels, image_size
        for widths in stages:
            for width in widths:
                layers.append(conv_block(cin, width))
                cin = width
            layers.append(nn.MaxPool2d(2))
            size //= 2
        if size < 1:
            raise ValueError(
                f"image_size {image_size} is too small for {len(stages)} pooling stages"
            )
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cin * size * size, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )
        init_paper(self)

    def forward(self, x):
        return self.classifier(self.features(x))


def cnn4(num_classes=10, in_channels=1, image_size=28):
    return ConvNet([[32], [64]], 128, num_classes, in_channels, image_size)


def cnn8(num_classes=10, in_channels=3, image_size=32):
    return ConvNet([[64, 64], [128, 128], [196, 196]], 256, num_classes, in_channels, image_size)
