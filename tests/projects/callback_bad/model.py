import torch
from lightning.pytorch import LightningModule


class Classifier(LightningModule):
    """Backbone frozen at first; the optimizer holds only what is trainable then."""

    def __init__(self, backbone, head):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.backbone.requires_grad_(False)

    def configure_optimizers(self):
        return torch.optim.AdamW(filter(lambda p: p.requires_grad, self.parameters()), lr=1e-3)


class Finetuner(LightningModule):
    """Every parameter in the optimizer, with AdamW's weight decay."""

    def __init__(self, encoder, head):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-4)
