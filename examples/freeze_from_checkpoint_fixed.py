"""Freeze the layers a checkpoint provides, train the rest: the twin of freeze_from_checkpoint.py."""

import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32))
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        return self.head(self.encoder(x))


def main():
    torch.manual_seed(0)
    model = Classifier()
    pretrained = {k: v for k, v in Classifier().state_dict().items() if k.startswith("encoder.")}
    result = model.load_state_dict(pretrained, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys
    for name, p in model.named_parameters():
        if name in pretrained:
            p.requires_grad = False  # the Parameter itself
    for p in model.head.parameters():
        p.requires_grad = True
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    print("trainable:", trainable)


if __name__ == "__main__":
    main()
