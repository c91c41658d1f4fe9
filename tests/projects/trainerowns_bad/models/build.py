import torch.nn as nn
import torchvision


def build_model(num_classes):
    model = torchvision.models.resnet50(weights=None)
    model.fc = nn.Linear(2048, num_classes)
    return model


def freeze_stem(model):
    for p in model.conv1.parameters():
        p.requires_grad = False
    for p in model.layer1.parameters():
        p.requires_grad = False
