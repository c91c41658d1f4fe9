import argparse

import torch
from torch import nn

from pkg.freeze import freeze_backbone, freeze_default, freeze_head, freeze_mixed, freeze_scale, freeze_spread


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(2, 2)
        self.head = nn.Linear(2, 2)
        self.scale = nn.Parameter(torch.ones(2))


args = argparse.ArgumentParser().parse_args()
freeze_backbone(args)
model = Net()
freeze_scale(model.scale)
freeze_mixed(model)
freeze_default(model)
freeze_default()
freeze_head(model)
freeze_spread(model.backbone, model.head)
