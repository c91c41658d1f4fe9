import torch

from models.net import Net


def main(loader):
    model = Net()
    model.freeze_backbone()  # BaseModel's, in models/base.py
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)  # expect: FZ301
    for x, y in loader:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
