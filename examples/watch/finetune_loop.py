"""A fine-tuning script whose mistake only shows in its own loop: gradual unfreezing.

The head trains from the first step; `layer4` is unfrozen after `--unfreeze-after` steps. The
optimizer was built from the parameters that required grad at the start, so the unfrozen layer
gets gradients but is in no param group: it never trains. Nothing raises, the loss still falls.

    freezelint run examples/watch/finetune_loop.py          # exit 1: FZ503 on layer4
    freezelint run examples/watch/finetune_loop_fixed.py    # exit 0
    freezelint run --no-stop examples/watch/finetune_loop.py --unfreeze-after 3
        # exit 1: the unfreeze comes after the first window (epoch 1); a later window judges it

finetune_loop_fixed.py is the twin: it adds the layer to the optimizer when it unfreezes it.
"""

import argparse

import torch
import torch.nn as nn
import torchvision


def freeze_bn(model: nn.Module) -> None:
    """Running statistics of the frozen part stay as loaded (call after every model.train())."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not m.weight.requires_grad:
            m.eval()


def unfreeze(model: nn.Module, optimizer: torch.optim.Optimizer, layer: nn.Module) -> None:
    layer.requires_grad_(True)  # the mistake: the optimizer never hears of it


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--unfreeze-after", type=int, default=1, help="optimizer steps before layer4 trains")
    args = ap.parse_args()

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    model.requires_grad_(False)
    model.fc = nn.Linear(model.fc.in_features, 5)  # new head, trainable
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    data = [(torch.randn(4, 3, 32, 32), torch.randint(0, 5, (4,))) for _ in range(args.batches)]

    step = 0
    for epoch in range(args.epochs):
        model.train()
        freeze_bn(model)
        for images, labels in data:
            if step == args.unfreeze_after:
                unfreeze(model, optimizer, model.layer4)
                freeze_bn(model)  # layer4's BatchNorm trains now: back to train mode
                model.layer4.train()
            loss = nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
        print(f"epoch {epoch}: loss {loss.item():.3f}")


if __name__ == "__main__":
    main()
