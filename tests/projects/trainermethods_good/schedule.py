import torch.nn as nn
import torchvision

from engine.trainer import FilteredTrainer

model = torchvision.models.resnet18(weights=None)
model.requires_grad_(False)
model.fc = nn.Linear(512, 10)
trainer = FilteredTrainer(model)
trainer.distill()  # unfreezes the trainer's own teacher, through a method of its own
