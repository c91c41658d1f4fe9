import torch
import torch.nn as nn
import torchvision.models as tvm

import models.builder
from helpers.lora import mark_by_setting, set_trainable, toggle
from models.builder import FusionModel, Probe, Unfrozen


def simsiam(args):
    model = models.builder.SimSiam(tvm.resnet50, args.dim)
    return torch.optim.SGD(model.parameters(), 0.05, momentum=0.9)


def fusion():
    model = FusionModel(4, nn.Linear(8, 8), nn.Linear(8, 8), freeze_weights=False)
    frozen = FusionModel(4, nn.Linear(8, 8), nn.Linear(8, 8))
    opt = torch.optim.AdamW([p for p in frozen.parameters() if p.requires_grad], lr=1e-5)
    return torch.optim.AdamW(model.parameters(), lr=1e-5), opt


def others(backbone):
    probe, unfrozen = Probe(backbone), Unfrozen(backbone)
    return torch.optim.AdamW(probe.parameters()), torch.optim.AdamW(unfrozen.parameters())


def lora(model, other, third):
    set_trainable(model)  # what it freezes is set back only when train_all: a flag, not a subset by name
    toggle(other)
    mark_by_setting(third, True)
    return [torch.optim.AdamW(m.parameters(), lr=3e-4) for m in (model, other, third)]
