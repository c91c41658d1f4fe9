"""The classifier is replaced first, then the optimizer is built over the model as it now is."""

import torch
import torch.nn as nn
from _net import FinetuneNet, batch


def make():
    model = FinetuneNet()
    model.head = nn.Linear(16, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, optimizer, batch()


if __name__ == "__main__":
    from freezelint import audit

    print(audit(*make()[:2], batch=make()[2]))
