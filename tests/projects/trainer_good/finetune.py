import torch.nn as nn
import torchvision

from engine.trainer import FilteredTrainer

model = torchvision.models.resnet18(weights=None)
model.requires_grad_(False)
model.fc = nn.Linear(512, 10)
model.layer4.requires_grad_(True)  # unfrozen before the trainer builds its optimizer
trainer = FilteredTrainer(model)
trainer.fit([])
