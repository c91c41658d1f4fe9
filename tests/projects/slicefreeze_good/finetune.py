import torch
import torchvision

from engine.freezing import freeze_all_children_but_head

model = torchvision.models.resnet50(weights=None)
freeze_all_children_but_head(model)
optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.1, momentum=0.9)  # the head only
