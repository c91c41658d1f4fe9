"""Transfer learning on a ResNet-18: freeze the backbone, train a new head.

This script runs without error and trains — but its freezing is broken in four silent ways.
`freezelint check examples/finetune_resnet.py` finds them; finetune_resnet_fixed.py is the twin.
"""

import torch
import torch.nn as nn
import torchvision

NUM_CLASSES = 5


def build_model():
    model = torchvision.models.resnet18(weights=None)  # pretrained weights in real use
    model.requires_grad = False  # meant to freeze the backbone: sets a plain attribute
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
            m.requires_grad_ = False  # overwrites the method; BN affine params stay trainable
    for name, p in model.named_parameters():
        if name.startswith("layer1"):
            p.require_grad = False  # misspelled: accepted and ignored
    model.fc = nn.Linear(model.fc.in_features, NUM_CLASSES)
    return model


def evaluate(model, images):
    model.training = False  # only the top module: BatchNorm children stay in training mode
    with torch.no_grad():
        return model(images).argmax(dim=1)


def main(steps: int = 2):
    torch.manual_seed(0)
    model = build_model()
    optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.01)
    images, labels = torch.randn(4, 3, 32, 32), torch.randint(0, NUM_CLASSES, (4,))
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
    print("predictions:", evaluate(model, images).tolist())


if __name__ == "__main__":
    main()
