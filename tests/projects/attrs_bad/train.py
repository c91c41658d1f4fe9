import torch
from models.nets import Net

model = Net()
model.backbone.requires_grad = False  # expect: FZ102
model.encoder.layer1.requires_grad = False  # expect: FZ102
model.scale.requires_grad = False  # a Parameter: correct
opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
