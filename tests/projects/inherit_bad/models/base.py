import torch.nn as nn


class BaseModel(nn.Module):
    """Shared by every model of the project: subclasses set self.backbone and self.head."""

    def freeze_backbone(self):
        for p in self.backbone.parameters():
            p.requires_grad = False
