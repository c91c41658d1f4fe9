import torch
import torch.nn as nn
import torchvision.models as tvm

import models.builder
from helpers.lora import mark_only_adapter_as_trainable, mark_only_lora_as_trainable
from models.builder import FusionModel, SimSiam


def simsiam(args):
    model = models.builder.SimSiam(tvm.resnet50, args.dim)
    return torch.optim.SGD(model.parameters(), 0.05, momentum=0.9)  # expect: FZ301


def simsiam_imported():
    model = SimSiam(tvm.resnet50)
    return torch.optim.SGD(model.parameters(), 0.05, weight_decay=1e-4)  # expect: FZ301


def fusion():
    model = FusionModel(4, nn.Linear(8, 8), nn.Linear(8, 8))
    return torch.optim.AdamW(model.parameters(), lr=1e-5)  # expect: FZ301


def lora(model):
    mark_only_lora_as_trainable(model)
    return torch.optim.AdamW(model.parameters(), lr=3e-4)  # expect: FZ301


def adapter(model):
    mark_only_adapter_as_trainable(model)
    return torch.optim.AdamW(model.parameters(), lr=9e-3, weight_decay=0.02)  # expect: FZ301
