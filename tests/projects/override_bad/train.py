import torch

from engine import train_one_epoch
from freeze import freeze_backbone
from model import Net

model = Net()
freeze_backbone(model)
optimizer = torch.optim.SGD(model.head.parameters(), lr=0.1)
for epoch in range(10):
    train_one_epoch(model, optimizer, loader)  # expect: FZ201
