import torch.nn as nn

from engine.optim import build_filtered, build_optimizer
from models.build import build_model, freeze_stem


class Trainer:
    """Freezes the stem of its own model before an optimizer that filters on requires_grad."""

    def __init__(self, num_classes):
        self.model = build_model(num_classes)
        freeze_stem(self.model)
        self.optimizer = build_filtered(self.model)

    def relabel(self, num_classes):
        self.model.fc = nn.Linear(2048, num_classes)
        self.optimizer.add_param_group({"params": self.model.fc.parameters()})


class Gradual:
    """Gradual unfreezing: the optimizer holds every parameter from the start, as it must."""

    def __init__(self, num_classes):
        self.model = build_model(num_classes)
        self.optimizer = build_optimizer(self.model)

    def freeze(self):
        freeze_stem(self.model)

    def unfreeze(self):
        self.model.requires_grad_(True)


class Rebuilding:
    """A method builds the optimizer again: a replaced head may come before it."""

    def __init__(self, num_classes):
        self.model = build_model(num_classes)
        self.optimizer = build_optimizer(self.model)

    def relabel(self, num_classes):
        self.model.fc = nn.Linear(2048, num_classes)

    def reset_optimizer(self):
        self.optimizer = build_optimizer(self.model)


class Reloading:
    """A method puts another model in place: which one a method acts on is not known."""

    def __init__(self, num_classes):
        self.model = build_model(num_classes)
        self.optimizer = build_optimizer(self.model)

    def load(self, path, num_classes):
        self.model = build_model(num_classes)

    def finetune(self):
        freeze_stem(self.model)


class Transfer:
    """Nothing is frozen when the filtering optimizer is built: it holds every parameter."""

    def __init__(self):
        self.model = build_model(1000)
        self.optimizer = build_filtered(self.model)

    def freeze(self):
        freeze_stem(self.model)

    def unfreeze_stem(self):
        for p in self.model.layer1.parameters():
            p.requires_grad = True
