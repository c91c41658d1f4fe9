import torch
import torch.nn as nn
import torchvision


class BaseTrainer:
    """Builds its own model and an optimizer over every parameter of it."""

    def __init__(self, num_classes):
        self.model = torchvision.models.resnet18(weights=None)
        self.model.fc = nn.Linear(512, num_classes)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-3)


class FrozenBase:
    """Freezes all of its own model but a new head, then builds an optimizer that filters."""

    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.model.requires_grad_(False)
        self.model.fc = nn.Linear(512, 10)
        self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad])
