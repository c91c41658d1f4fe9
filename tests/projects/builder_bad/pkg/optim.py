import torch


def build_optimizer(model, lr=0.01):
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
