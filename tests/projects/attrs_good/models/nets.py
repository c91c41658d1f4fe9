import torch
import torchvision
from torch import nn


class Adapter(nn.Module):
    def __init__(self, requires_grad=True):
        super().__init__()
        self.requires_grad = requires_grad  # the class's own setting, read below
        self.proj = nn.Linear(4, 4)
        self.proj.weight.requires_grad = self.requires_grad


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        self.encoder = torchvision.models.resnet18(weights=None)
        self.adapter = Adapter()
        self.scale = nn.Parameter(torch.ones(1))
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.adapter(self.backbone(x))) * self.scale
