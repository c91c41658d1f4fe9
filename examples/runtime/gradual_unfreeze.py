"""Gradual unfreezing: the second stage unfreezes the backbone's last block, but the optimizer
was built from the trainable parameters of stage one, so the block never trains.

`freezelint audit examples/runtime/gradual_unfreeze.py:make` reports FZ503.
"""

import torch
import torch.nn as nn
from _net import SmallNet, batch


class Net(SmallNet):
    def train(self, mode: bool = True):
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()  # BatchNorm statistics stay as pretrained in every stage
        return self


def make():
    model = Net()
    model.backbone.requires_grad_(False)
    optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-3)
    # ... stage one trains the head, then:
    model.backbone[3].requires_grad_(True)  # unfreeze the last conv
    return model, optimizer, batch()


if __name__ == "__main__":
    from freezelint import audit

    print(audit(*make()[:2], batch=make()[2]))
