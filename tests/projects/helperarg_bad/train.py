import torchvision
from torch import nn

from pkg import freeze
from pkg.freeze import freeze_all, freeze_backbone


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(2, 2)
        self.head = nn.Linear(2, 2)


model = Net()
freeze_backbone(model)
freeze_all(net=model)
resnet = torchvision.models.resnet18(weights=None)
freeze.freeze_first(resnet)
