import torch
from transformers import Trainer


class FullTrainer(Trainer):
    """Every parameter in the optimizer: a frozen one has no grad and is skipped until it is thawed."""

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.args.learning_rate)
        return self.optimizer
