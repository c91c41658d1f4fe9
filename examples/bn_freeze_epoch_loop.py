"""Detection-style fine-tuning: BatchNorm frozen once, then undone by every epoch's model.train().

`freezelint check examples/bn_freeze_epoch_loop.py` finds it; bn_freeze_epoch_loop_fixed.py is the twin.
"""

import torch
import torch.nn as nn
import torchvision


def fix_bn(m):
    classname = m.__class__.__name__
    if classname.find("BatchNorm") != -1:
        m.eval()


def train_one_epoch(model, optimizer, batches):
    for images, labels in batches:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()


def main(epochs: int = 2):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=3)
    model.apply(fix_bn)  # freeze BatchNorm statistics ...
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    batches = [(torch.randn(4, 3, 32, 32), torch.randint(0, 3, (4,)))]
    for epoch in range(epochs):
        model.train()  # ... and unfreeze them again, every epoch
        train_one_epoch(model, optimizer, batches)
    print("bn1 running_mean[0]:", float(model.bn1.running_mean[0]))


if __name__ == "__main__":
    main()
