import torch.nn as nn
import torchvision

from engine.trainer import StoringTrainer

model = torchvision.models.resnet18(weights=None)
model.fc = nn.Linear(512, 10)
trainer = StoringTrainer(model)  # nothing frozen: every parameter trains
