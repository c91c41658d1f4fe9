"""Gradual unfreezing done right: the unfrozen block joins the optimizer as a new param group."""

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
    model.backbone[3].requires_grad_(True)
    optimizer.add_param_group({"params": model.backbone[3].parameters(), "lr": 1e-4})
    return model, optimizer, batch()


if __name__ == "__main__":
    from freezelint import audit

    print(audit(*make()[:2], batch=make()[2]))
