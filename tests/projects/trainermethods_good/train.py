import torchvision

from engine.trainer import FilteredTrainer

model = torchvision.models.resnet18(weights=None)
trainer = FilteredTrainer(model)  # its optimizer filters on requires_grad when built
trainer.freeze_early_layers()
