import torch
import torch.nn.functional as F

from models.build import build_model


def main(loader, epochs=10):
    model = build_model()  # no argument: still followed (an assigned call)
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.1, momentum=0.9)
    for epoch in range(epochs):
        model.train()  # expect: FZ201
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
