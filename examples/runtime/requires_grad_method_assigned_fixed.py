"""The backbone frozen with the method call, its BatchNorm statistics with eval()."""

import torch
from _net import FinetuneNet, batch


def make():
    model = FinetuneNet()
    model.backbone.requires_grad_(False)
    optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
    return model, optimizer, batch()


if __name__ == "__main__":
    from freezelint import audit

    print(audit(*make()[:2], batch=make()[2]))
