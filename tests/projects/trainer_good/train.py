import torch.nn as nn
import torchvision

from engine.trainer import FilteredTrainer

model = torchvision.models.resnet18(weights=None)
for p in model.parameters():
    p.requires_grad = False
model.fc = nn.Linear(512, 10)
trainer = FilteredTrainer(model)  # only the new head: the frozen backbone takes no optimizer slot
trainer.fit([])
