import torch
from torch import nn

from engine.loop import run_epoch


def freeze_bn(model):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def main(loader):
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.LazyLinear(10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    freeze_bn(model)
    for epoch in range(10):
        run_epoch(model, loader, optimizer, epoch)
