import torch
from models.net import Net

model = Net()
model.backbone.requires_grad_(False)
model.backbone.stem.requires_grad_(False)
model.neck.proj.requires_grad_(False)
model.encoder.layer1.requires_grad_(False)
model.head.requires_grad_(True)
model.backbone.scale.requires_grad = False  # a Parameter of Backbone (models/backbones.py): correct
model.temperature.requires_grad = False  # a Parameter Net inherits from Base: correct
model.switch.requires_grad = False  # Switch keeps requires_grad as its own setting
model.cfg.requires_grad = False  # Config is no Module
model.proj.requires_grad = False  # Net's own proj (make_proj), not Base's nn.Linear: unknown
model.norm.requires_grad = False  # Net's own norm, not Base's nn.LayerNorm: unknown
model.backbone.extra.requires_grad = False  # not an attribute Backbone sets: unknown
opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
