import torchvision

from engine.trainer import Trainer

model = torchvision.models.resnet18(weights=None)
trainer = Trainer()
trainer.freeze(model)
trainer.setup_filtered(model)  # built after the freeze, from what requires grad
trainer.evaluate(model, [])
