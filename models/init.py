"""The paper's initialisation (spec §6): conv weights kaiming_uniform (fan_in, relu), linear
weights xavier_uniform, biases and BatchNorm at PyTorch defaults."""

import torch.nn as nn


def init_paper(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_uniform_(m.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
