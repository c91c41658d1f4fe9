import torch.nn as nn


class SimSiam(nn.Module):  # facebookresearch/simsiam: the bias followed by BN is frozen in __init__
    def __init__(self, base_encoder, dim=2048):
        super().__init__()
        self.encoder = base_encoder(num_classes=dim)
        prev_dim = self.encoder.fc.weight.shape[1]
        self.encoder.fc.bias.requires_grad = False
        self.encoder.fc = nn.Sequential(nn.Linear(prev_dim, prev_dim), nn.BatchNorm1d(prev_dim), self.encoder.fc)


class FusionModel(nn.Module):  # freezes the sub-models it is given, then holds them
    def __init__(self, num_classes, text_model, audio_model, freeze_weights=True):
        super().__init__()
        if freeze_weights:
            for param in text_model.parameters():
                param.requires_grad = False
            audio_model.requires_grad_(False)
        self.text_model = text_model
        self.audio_model = audio_model
        self.head = nn.Linear(16, num_classes)
