import torch
from models.net import Net

model = Net()
model.backbone.requires_grad = False  # expect: FZ102
model.backbone.stem.requires_grad = False  # expect: FZ102
model.neck.proj.requires_grad = False  # expect: FZ102
model.encoder.layer1.requires_grad = False  # expect: FZ102
model.head.requires_grad = True  # expect: FZ102
opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
