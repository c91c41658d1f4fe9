from lightning.pytorch.callbacks import BaseFinetuning


class BackboneFinetuning(BaseFinetuning):
    def freeze_before_training(self, pl_module):
        self.freeze(pl_module.backbone)


class GroupThaw(BackboneFinetuning):
    def make_trainable(self, modules, optimizer=None):  # its own: adds the param group too
        self.unfreeze_and_add_param_group(modules, optimizer)
