"""BatchNorm frozen with .eval(), then undone by the epoch loop's model.train().

`freezelint audit examples/runtime/bn_undone_by_train.py:make` reports FZ201.
"""

import torch
import torch.nn as nn
from _net import SmallNet, batch


def make():
    model = SmallNet()
    model.backbone.requires_grad_(False)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()  # freeze the running statistics ... until the next model.train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    return model, optimizer, batch()


if __name__ == "__main__":
    from freezelint import audit

    print(audit(*make()[:2], batch=make()[2]))
