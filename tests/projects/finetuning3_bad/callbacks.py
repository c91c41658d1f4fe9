from base import BackboneFinetuning, GroupThaw
from model import Classifier


class GradualUnfreeze(BackboneFinetuning):
    def finetune_function(self, pl_module: Classifier, epoch, optimizer):
        if epoch == 1:
            self.make_trainable(pl_module.backbone)  # expect: FZ303


class LateUnfreeze(GradualUnfreeze):
    def finetune_function(self, pl_module: Classifier, epoch, optimizer):
        if epoch == 5:
            self.make_trainable(pl_module.backbone)  # expect: FZ303


class Thaw(GroupThaw):
    def finetune_function(self, pl_module: Classifier, epoch, optimizer):
        if epoch == 1:
            self.make_trainable(pl_module.backbone, optimizer)  # GroupThaw's own make_trainable
