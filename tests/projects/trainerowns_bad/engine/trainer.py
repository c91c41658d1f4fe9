import torch.nn as nn

from engine.optim import build_filtered, build_optimizer
from models.build import build_model, freeze_stem


class Trainer:
    """Builds its own model and an optimizer over all of it; a method freezes the stem later."""

    def __init__(self, num_classes):
        self.model = build_model(num_classes)
        self.optimizer = build_optimizer(self.model)  # expect: FZ301

    def finetune(self, loader):
        freeze_stem(self.model)
        self.fit(loader)

    def relabel(self, num_classes):
        self.model.fc = nn.Linear(2048, num_classes)  # expect: FZ302

    def fit(self, loader):
        for epoch in range(3):
            self.model.train()
            for x, y in loader:
                loss = nn.functional.cross_entropy(self.model(x), y)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()


class Transfer:
    """Freezes the stem of its own model before an optimizer that filters on requires_grad; a
    method unfreezes part of it later, and the optimizer never gets it."""

    def __init__(self):
        self.model = build_model(1000)
        freeze_stem(self.model)
        self.optimizer = build_filtered(self.model)

    def unfreeze_stem(self):
        for p in self.model.layer1.parameters():
            p.requires_grad = True  # expect: FZ303
