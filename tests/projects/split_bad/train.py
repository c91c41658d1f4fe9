import torch

from engine import train_one_epoch
from models import Net

model = Net()
optimizer = torch.optim.SGD(model.head.parameters(), lr=0.1)
model.freeze_bn()
for epoch in range(10):
    train_one_epoch(model, loader, optimizer, criterion)  # expect: FZ201
