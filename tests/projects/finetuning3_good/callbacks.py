from base import BackboneFinetuning, GroupThaw
from model import Classifier


class GradualUnfreeze(BackboneFinetuning):
    def finetune_function(self, pl_module: Classifier, epoch, optimizer):
        if epoch == 1:
            self.unfreeze_and_add_param_group(pl_module.backbone, optimizer)


class LateUnfreeze(GradualUnfreeze):
    def finetune_function(self, pl_module: Classifier, epoch, optimizer):
        if epoch == 5:
            self.unfreeze_and_add_param_group(pl_module.backbone, optimizer)


class Thaw(GroupThaw):
    def finetune_function(self, pl_module: Classifier, epoch, optimizer):
        if epoch == 1:
            self.make_trainable(pl_module.backbone, optimizer)  # GroupThaw's own make_trainable
