"""Freeze the layers a checkpoint provides, train the rest.

Both freezing attempts below are silent no-ops. `freezelint check` finds them;
freeze_from_checkpoint_fixed.py is the twin.
"""

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
    model.load_state_dict(pretrained, strict=False)
    for name, value in model.state_dict().items():
        if name in pretrained:
            value.requires_grad = False  # a detached copy: the parameter is untouched
    for p in model.head.parameters():
        p.requires_grad == True  # compares and discards
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    print("trainable:", trainable)


if __name__ == "__main__":
    main()
