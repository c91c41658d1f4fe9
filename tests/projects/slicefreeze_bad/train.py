import torch
import torchvision

from engine.freezing import freeze_all_but_last

model = torchvision.models.resnet18(weights=None)
freeze_all_but_last(model)
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)  # expect: FZ301
