import torch.nn as nn
import torchvision

from engine.trainer import Stepper

model = torchvision.models.resnet18(weights=None)
model.requires_grad_(False)
model.fc = nn.Linear(512, 10)
trainer = Stepper()
trainer.unfreeze(model)
trainer.setup_filtered(model)  # built after the unfreeze: it holds layer4 too
