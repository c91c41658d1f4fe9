import torch.nn as nn


def freeze_backbone(model):
    for m in model.backbone.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    model.backbone.requires_grad_(False)
