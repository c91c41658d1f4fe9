import argparse

import torch
import torch.nn.functional as F

from models.factory import build_model


def main(loader):
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="resnet", choices=["resnet", "efficientnet", "vit"])
    args = parser.parse_args()
    model = build_model(args.arch)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    for epoch in range(10):
        model.train()
        if args.arch in ("resnet", "efficientnet"):
            model.eval()  # the frozen CNN backbones keep their statistics (the new Linear head has none)
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
