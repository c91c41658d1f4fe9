import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from freeze import freeze_all


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = torchvision.models.resnet18(weights="IMAGENET1K_V1")
        self.backbone.fc = nn.Identity()
        self.head = nn.Linear(512, 10)

    def forward(self, x):
        return self.head(self.backbone(x))


model = Net()
freeze_all(model.backbone)  # expect: FZ202
opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
for epoch in range(10):
    model.train()
    for x, y in loader:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
