"""`module.requires_grad_ = False` overwrites the method: the backbone keeps training.

`freezelint audit examples/runtime/requires_grad_method_assigned.py:make` reports FZ101
(and `freezelint check` finds it in the source, too).
"""

import torch
from _net import FinetuneNet, batch


def make():
    model = FinetuneNet()
    model.backbone.requires_grad_ = False  # meant: model.backbone.requires_grad_(False)
    optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
    return model, optimizer, batch()


if __name__ == "__main__":
    from freezelint import audit

    print(audit(*make()[:2], batch=make()[2]))
