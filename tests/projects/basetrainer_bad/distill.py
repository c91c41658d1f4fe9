import torchvision

from engine.base import BaseTrainer


class Distiller(BaseTrainer):
    def report(self, loader):
        return len(loader)


student = torchvision.models.resnet18(weights=None)
trainer = Distiller(student)  # expect: FZ301
trainer.freeze_backbone()
