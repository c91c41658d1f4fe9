import torch
import torch.nn as nn
import torchvision

from engine import train_one_epoch

model = torchvision.models.resnet50(weights="IMAGENET1K_V2")
model.requires_grad_(False)  # expect: FZ202
model.fc = nn.Linear(2048, 10)
optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.1)
for epoch in range(10):
    train_one_epoch(model, loader, optimizer, nn.CrossEntropyLoss())
