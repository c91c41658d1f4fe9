"""Freezing a pretrained ResNet-18 with an lr=0 param group, as many tutorials do.

The backbone keeps its values, but every step still computes its gradients and momentum,
and a scheduler with warm restarts would start training it. `freezelint check` finds it;
lr_zero_freeze_fixed.py is the twin.
"""

import torch
import torch.nn as nn
import torch.optim as optim
import torchvision

LR = 0.01


def main(steps: int = 2):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    model.fc = nn.Linear(model.fc.in_features, 2)
    head_ids = {id(p) for p in model.fc.parameters()}
    base_params = [p for p in model.parameters() if id(p) not in head_ids]
    optimizer = optim.SGD([
        {"params": base_params, "lr": LR * 0},
        {"params": model.fc.parameters(), "lr": LR},
    ], momentum=0.9)
    images, labels = torch.randn(4, 3, 32, 32), torch.randint(0, 2, (4,))
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    print("backbone grads computed:", base_params[0].grad is not None)


if __name__ == "__main__":
    main()
