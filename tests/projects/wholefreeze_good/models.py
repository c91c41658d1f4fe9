import timm
import torch.nn as nn
import torchvision


class Probe(nn.Module):
    """A linear probe: the backbone frozen where it is built."""

    def __init__(self, classes):
        super().__init__()
        self.backbone = torchvision.models.resnet50(weights="IMAGENET1K_V2")
        self.backbone.requires_grad_(False)
        self.backbone.fc = nn.Identity()
        self.head = nn.Linear(2048, classes)

    def train(self, mode=True):
        super().train(mode)
        self.backbone.eval()  # the frozen backbone stays in eval mode
        return self

    def forward(self, x):
        return self.head(self.backbone(x))


def build(classes, freeze=False):
    m = timm.create_model("efficientnet_b0", pretrained=True)
    if freeze:  # the caller decides
        for p in m.parameters():
            p.requires_grad = False
    m.reset_classifier(classes)
    return m
