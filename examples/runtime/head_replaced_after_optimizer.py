"""The classifier is replaced after the optimizer was built: the new head is never trained.

`freezelint audit examples/runtime/head_replaced_after_optimizer.py:make` reports FZ302.
"""

import torch
import torch.nn as nn
from _net import FinetuneNet, batch


def make():
    model = FinetuneNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.head = nn.Linear(16, 10)  # new task, new head — but the optimizer holds the old one
    return model, optimizer, batch()


if __name__ == "__main__":
    from freezelint import audit

    print(audit(*make()[:2], batch=make()[2]))
