import torchvision

from engine.trainer import Trainer

model = torchvision.models.resnet18(weights=None)
trainer = Trainer(model)  # expect: FZ301
trainer.finetune([])  # freezes the early layers through a method of its own, then trains
