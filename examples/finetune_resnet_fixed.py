"""Transfer learning on a ResNet-18, frozen correctly: the twin of finetune_resnet.py."""

import torch
import torch.nn as nn
import torchvision

NUM_CLASSES = 5


def build_model():
    model = torchvision.models.resnet18(weights=None)  # pretrained weights in real use
    model.requires_grad_(False)  # every parameter of the backbone
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            m.requires_grad_(False)
    for name, p in model.named_parameters():
        if name.startswith("layer1"):
            p.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, NUM_CLASSES)  # new head: trainable
    return model


def evaluate(model, images):
    model.eval()  # the whole subtree
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
