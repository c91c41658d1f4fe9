import torch.nn.functional as F
from torch import nn


def keep_bn_frozen(m):
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        m.eval()


def train_one_epoch(model, loader, optimizer):
    model.train()
    model.apply(keep_bn_frozen)  # re-applied after every train()
    total = 0.0
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / max(len(loader), 1)
