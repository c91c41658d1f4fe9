import torch


def log_stats(model):
    print(sum(p.numel() for p in model.parameters() if p.requires_grad))


def save(model, path):
    torch.save(model.state_dict(), path)
