import torch.nn as nn


class SimSiam(nn.Module):
    def __init__(self, base_encoder, dim=2048):
        super().__init__()
        self.encoder = base_encoder(num_classes=dim)
        self.encoder.fc.bias.requires_grad = False
        self.encoder.fc = nn.Linear(2048, dim)  # a new layer in its place: trainable


class FusionModel(nn.Module):
    def __init__(self, num_classes, text_model, audio_model, freeze_weights=True):
        super().__init__()
        if freeze_weights:
            for param in text_model.parameters():
                param.requires_grad = False
        self.text_model = text_model
        self.head = nn.Linear(16, num_classes)


class Probe(nn.Module):
    def __init__(self, teacher):
        super().__init__()
        teacher.requires_grad_(False)  # frozen, but kept out of the module's parameters
        self.teacher = [teacher]
        self.head = nn.Linear(16, 4)


class Unfrozen(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.backbone.requires_grad_(False)
        for p in self.backbone.parameters():  # every parameter trainable again
            p.requires_grad = True
