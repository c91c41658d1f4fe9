import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn1 = nn.BatchNorm2d(8)
        for p in self.bn1.parameters():
            p.requires_grad = False  # expect: FZ202

    def forward(self, x):
        return self.bn1(self.conv(x))
