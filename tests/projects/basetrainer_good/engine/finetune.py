import torch

from engine.base import BaseTrainer


class FineTuner(BaseTrainer):
    """A constructor of its own: the optimizer keeps only what requires grad when it is built."""

    def __init__(self, model, lr=1e-3):
        self.model = model
        self.optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
