import torch.nn.functional as F


def train_one_epoch(model, optimizer, loader):
    model.train()
    for x, y in loader:
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


def train_refreezing(model, optimizer, loader, freeze):
    model.train()
    freeze(model)  # the caller's freeze, re-applied after train()
    for x, y in loader:
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
