"""BatchNorm statistics kept frozen across model.train(): train() is overridden to re-freeze."""

import torch
import torch.nn as nn
from _net import SmallNet, batch


class FinetuneNet(SmallNet):
    def train(self, mode: bool = True):
        super().train(mode)
        for m in self.backbone.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()  # re-applied after every model.train()
        return self


def make():
    model = FinetuneNet()
    model.backbone.requires_grad_(False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    return model, optimizer, batch()


if __name__ == "__main__":
    from freezelint import audit

    print(audit(*make()[:2], batch=make()[2]))
