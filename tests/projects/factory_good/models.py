import torch.nn as nn


class ResNet(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64, classes)


def resnet50(num_classes):
    model = ResNet(num_classes)
    return model
