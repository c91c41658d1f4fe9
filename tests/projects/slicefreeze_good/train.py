import torch
import torchvision

from engine.freezing import freeze_all_but_last

model = torchvision.models.resnet18(weights=None)
freeze_all_but_last(model)
model.train()  # a slice of the parameters: not known to freeze every BatchNorm layer
optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
