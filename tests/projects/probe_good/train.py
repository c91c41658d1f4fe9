import torch
import torch.nn as nn
import torchvision

from engine import freeze_bn_params, put_eval, train_one_epoch

model = torchvision.models.resnet50(weights="IMAGENET1K_V2")
freeze_bn_params(model)  # a linear probe: the helpers of engine.py freeze, then put it in eval mode
model.requires_grad_(False)
model.fc = nn.Linear(2048, 10)
put_eval(model)
optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.1)
for epoch in range(10):
    train_one_epoch(model, loader, optimizer, nn.CrossEntropyLoss())
