import torch
import torch.nn.functional as F

from models import build

model = build(10)
opt = torch.optim.SGD(model.classifier.parameters(), lr=0.1)
for x, y in loader:
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()
