import torch
from models.nets import Net

model = Net()
model.backbone.requires_grad_(False)
model.encoder.layer1.requires_grad_(False)
model.scale.requires_grad = False  # a Parameter: correct
model.adapter.requires_grad = False  # Adapter keeps requires_grad as its own setting
model.extra.requires_grad = False  # not an attribute Net sets: unknown
opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
