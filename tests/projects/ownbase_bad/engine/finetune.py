import torch.nn as nn

from engine.base import BaseTrainer, FrozenBase


class FineTuner(BaseTrainer):
    def freeze_backbone(self):
        for p in self.model.layer1.parameters():
            p.requires_grad = False  # expect: FZ301

    def relabel(self, num_classes):
        self.model.fc = nn.Linear(512, num_classes)  # expect: FZ302


class Thaw(FrozenBase):
    def unfreeze_last_stage(self):
        self.model.layer4.requires_grad_(True)  # expect: FZ303
