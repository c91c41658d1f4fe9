import torch


class Trainer:
    """Given the model at each call, not at construction."""

    def __init__(self, lr=1e-3):
        self.lr = lr

    def freeze(self, model):
        for p in model.layer1.parameters():
            p.requires_grad = False

    def unfreeze(self, model):
        model.layer4.requires_grad_(True)

    def setup_optimizer(self, model):
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=self.lr)

    def setup_filtered(self, model):
        self.optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=self.lr)

    def evaluate(self, model, loader):
        model.eval()
        return [model(x) for x, _ in loader]


class Stepper(Trainer):
    """Its methods are the base's."""
