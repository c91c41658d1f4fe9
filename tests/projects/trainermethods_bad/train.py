import torchvision

from engine.trainer import Trainer

model = torchvision.models.resnet18(weights=None)
trainer = Trainer(model)  # expect: FZ301
trainer.freeze_early_layers()
trainer.fit([])
