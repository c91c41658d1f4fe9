import torchvision

from .optim import build_optimizer

model = torchvision.models.resnet18(weights=None)
for p in model.layer1.parameters():
    p.requires_grad = False
optimizer = build_optimizer(model)  # expect: FZ301
