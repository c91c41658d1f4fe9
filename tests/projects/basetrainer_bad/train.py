import torchvision

from engine.finetune import FineTuner

model = torchvision.models.resnet18(weights=None)
trainer = FineTuner(model)  # expect: FZ301
trainer.freeze_backbone()
trainer.fit([])
