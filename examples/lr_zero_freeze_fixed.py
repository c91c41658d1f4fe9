"""Freezing a pretrained ResNet-18 for real: the twin of lr_zero_freeze.py."""

import torch
import torch.nn as nn
import torch.optim as optim
import torchvision

LR = 0.01


def main(steps: int = 2):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    model.requires_grad_(False)
    model.eval()  # and its BatchNorm statistics: requires_grad does not stop them in train mode
    model.fc = nn.Linear(model.fc.in_features, 2)  # the new head is trainable
    optimizer = optim.SGD(model.fc.parameters(), lr=LR, momentum=0.9)
    images, labels = torch.randn(4, 3, 32, 32), torch.randint(0, 2, (4,))
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    print("backbone grads computed:", model.conv1.weight.grad is not None)


if __name__ == "__main__":
    main()
