import torch

from models.net import Net


class Trainer:
    def __init__(self, lr=0.1):
        self.model = Net()
        self.model.freeze_backbone()
        self.optimizer = torch.optim.SGD([p for p in self.model.parameters() if p.requires_grad], lr=lr, momentum=0.9)

    def fit(self, loader):
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(self.model(x), y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
