"""CIFAR-stem ResNets (kuangliu style; spec §6): conv3x3(64, no bias) BN ReLU with no max-pool,
four stages of widths 64/128/256/512 with first strides 1/2/2/2, avg_pool2d(4), Linear.
ResNet-34 is the paper's CIFAR-100 network (D11); ResNet-50 is the [HEAD] configs' option.
"""

import torch.nn as nn
import torch.nn.functional as F

from .init import init_paper


def shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, width, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.shortcut = shortcut(cin, width, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride=1):
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.shortcut = shortcut(cin, cout, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, block, depths, num_classes=100, in_channels=3, image_size=32):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        stages, cin = [], 64
        for i, (width, depth) in enumerate(zip((64, 128, 256, 512), depths, strict=True)):
            blocks = []
            for j in range(depth):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(block(cin, width, stride))
                cin = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layers = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)  # = avg_pool2d(4) on the 4x4 map of a 32x32 input
        self.linear = nn.Linear(cin, num_classes)
        init_paper(self)

    def forward(self, x):
        out = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.linear(self.pool(out).flatten(1))


def resnet18(num_classes=100, in_channels=3, image_size=32):
    return CifarResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_channels, image_size)


def resnet34(num_classes=100, in_channels=3, image_size=32):
    return CifarResNet(BasicBlock, (3, 4, 6, 3), num_classes, in_channels, image_size)


def resnet50(num_classes=100, in_channels=3, image_size=32):
    return CifarResNet(Bottleneck, (3, 4, 6, 3), num_classes, in_channels, image_size)
