import torch

from engine import train_refreezing
from freeze import freeze_backbone
from model import Plain

model = Plain()
freeze_backbone(model)
optimizer = torch.optim.SGD(model.head.parameters(), lr=0.1)
for epoch in range(10):
    train_refreezing(model, optimizer, loader, freeze_backbone)  # expect: FZ201
