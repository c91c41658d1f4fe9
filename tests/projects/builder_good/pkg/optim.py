import torch


def build_optimizer(model, lr=0.01):
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9)
