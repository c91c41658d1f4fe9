import torchvision

from engine.trainer import Trainer

model = torchvision.models.resnet18(weights=None)
trainer = Trainer()
trainer.setup_optimizer(model)  # expect: FZ301
trainer.freeze(model)
