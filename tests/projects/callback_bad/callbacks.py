from lightning.pytorch.callbacks import Callback

from model import Classifier, Finetuner


class UnfreezeBackbone(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module: Classifier):
        if trainer.current_epoch == self.epoch:
            for p in pl_module.backbone.parameters():
                p.requires_grad = True  # expect: FZ303


class FreezeEncoder(Callback):
    def on_train_epoch_start(self, trainer, pl_module: "Finetuner"):
        if trainer.current_epoch == 2:
            pl_module.encoder.requires_grad_(False)  # expect: FZ301
