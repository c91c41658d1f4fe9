import torch
import torchvision
from torch import nn


class Backbone(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3)
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return self.stem(x) * self.scale


class Switch(nn.Module):
    def __init__(self):
        super().__init__()
        self.requires_grad = True  # the class's own setting, read below
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        return self.proj(x) if self.requires_grad else x


class Config:
    def __init__(self):
        self.requires_grad = True


class Base(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torchvision.models.resnet18(weights=None)
        self.temperature = nn.Parameter(torch.ones(1))
        self.proj = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)
