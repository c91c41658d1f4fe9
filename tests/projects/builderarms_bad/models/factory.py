import torch.nn as nn
import torchvision.models as models


def build_model(arch, num_classes=2):
    # one model per architecture, each a frozen feature extractor with a new head
    if arch == "resnet":
        model = models.resnet50(weights="IMAGENET1K_V2")
        for param in model.parameters():
            param.requires_grad = False
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    elif arch == "efficientnet":
        model = models.efficientnet_b0(weights="IMAGENET1K_V1")
        for param in model.parameters():
            param.requires_grad = False
        model.classifier[1] = nn.Linear(model.classifier[1].in_features, num_classes)
    else:
        model = models.vit_b_16(weights="IMAGENET1K_V1")
        for param in model.parameters():
            param.requires_grad = False
        model.heads = nn.Linear(768, num_classes)
    return model
