from torch import nn


def make_proj():
    return nn.Linear(8, 8)
