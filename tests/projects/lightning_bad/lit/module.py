import torch
from lightning.pytorch import LightningModule

from .unfreeze import unfreeze_backbone


class Classifier(LightningModule):
    def __init__(self, backbone, head):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.backbone.requires_grad_(False)

    def configure_optimizers(self):
        return torch.optim.AdamW([p for p in self.parameters() if p.requires_grad], lr=1e-3)

    def on_train_epoch_start(self):
        if self.current_epoch == 3:
            unfreeze_backbone(self)  # expect: FZ303
