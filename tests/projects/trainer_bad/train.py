import torch.nn as nn
import torchvision

from engine.trainer import Trainer

model = torchvision.models.resnet18(weights=None)
for p in model.parameters():
    p.requires_grad = False
model.fc = nn.Linear(512, 10)
trainer = Trainer(model)  # expect: FZ301
trainer.fit([])
