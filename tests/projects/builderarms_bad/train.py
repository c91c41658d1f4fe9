import argparse

import torch
import torch.nn.functional as F

from models.factory import build_model


def main(loader):
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="resnet", choices=["resnet", "efficientnet", "vit"])
    args = parser.parse_args()
    model = build_model(args.arch)  # expect: FZ202
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    for epoch in range(10):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
