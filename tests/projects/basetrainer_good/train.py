import torchvision

from engine.finetune import FineTuner

model = torchvision.models.resnet18(weights=None)
trainer = FineTuner(model)  # the subclass's own optimizer filters on requires_grad
trainer.freeze_backbone()
trainer.fit([])
