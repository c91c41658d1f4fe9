import torch
import torch.nn as nn

from engine.base import BaseTrainer, FrozenBase


class Gradual(BaseTrainer):
    """Freezes and unfreezes again: the optimizer needs every parameter, as the base built it."""

    def freeze_backbone(self):
        self.model.layer1.requires_grad_(False)

    def unfreeze_backbone(self):
        self.model.layer1.requires_grad_(True)


class Relabel(BaseTrainer):
    """Builds the optimizer again after a new head (in another method: in either order)."""

    def relabel(self, num_classes):
        self.model.fc = nn.Linear(512, num_classes)

    def reset_optimizer(self):
        self.optimizer = torch.optim.AdamW(self.model.parameters())


class Thaw(FrozenBase):
    def unfreeze_last_stage(self):
        self.model.layer4.requires_grad_(True)
        self.optimizer.add_param_group({"params": self.model.layer4.parameters()})


class Swap(BaseTrainer):
    """Puts another model in place: which one a method acts on is not known."""

    def load(self, model):
        self.model = model

    def freeze_backbone(self):
        self.model.layer1.requires_grad_(False)


class Own(BaseTrainer):
    """A constructor of its own (the base's is not run)."""

    def __init__(self):
        self.model = nn.Linear(4, 2)

    def freeze(self):
        self.model.requires_grad_(False)
