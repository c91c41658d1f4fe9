import torch.nn as nn
import torchvision

from models.base import BaseModel


class Net(BaseModel):
    def __init__(self, classes=10):
        super().__init__()
        self.backbone = torchvision.models.resnet18(weights=None)
        self.backbone.fc = nn.Identity()
        self.head = nn.Linear(512, classes)

    def forward(self, x):
        return self.head(self.backbone(x))
