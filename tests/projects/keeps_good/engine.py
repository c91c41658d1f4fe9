import torch.nn.functional as F


def train_one_epoch(model, optimizer, loader, hook=None):
    model.train()
    if hook is not None:
        hook(model)  # what the caller hands in
    for x, y in loader:
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
