"""A small CNN shared by the runtime examples: a BatchNorm backbone and a linear head."""

import torch
import torch.nn as nn


class SmallNet(nn.Module):
    def __init__(self, classes: int = 4):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(16, classes)

    def forward(self, x):
        return self.head(self.backbone(x))


def batch():
    return torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))


class FinetuneNet(SmallNet):
    """SmallNet whose backbone, once frozen, keeps its BatchNorm statistics frozen across train()."""

    def train(self, mode: bool = True):
        super().train(mode)
        if not any(p.requires_grad for p in self.backbone.parameters()):
            self.backbone.eval()
        return self
