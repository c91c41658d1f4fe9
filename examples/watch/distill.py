"""Knowledge distillation whose teacher drifts: a mistake that only shows while training runs.

The teacher is frozen with `requires_grad_(False)` and called under `torch.no_grad()`, so it
looks safe, but it was never put in eval(): every forward in train mode moves its BatchNorm
running statistics, so the targets the student learns from change batch after batch (and the
saved teacher is not the one that was loaded). No optimizer holds the teacher, nothing raises.

    freezelint run examples/watch/distill.py          # exit 1: FZ502 on the teacher's BatchNorm
    freezelint run examples/watch/distill_fixed.py    # exit 0

distill_fixed.py is the twin: it puts the teacher in eval() once; nothing in the loop calls the
teacher's train().
"""

import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--temperature", type=float, default=2.0)
    args = ap.parse_args()

    torch.manual_seed(0)
    teacher = torchvision.models.resnet18(weights=None, num_classes=10)  # load your trained weights here
    teacher.requires_grad_(False)
    student = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2), nn.BatchNorm2d(16), nn.ReLU(),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    optimizer = torch.optim.SGD(student.parameters(), lr=0.05, momentum=0.9)
    t = args.temperature
    for step in range(args.steps):
        x = torch.randn(8, 3, 32, 32)  # your loader here
        student.train()
        with torch.no_grad():
            soft = F.softmax(teacher(x) / t, dim=-1)
        loss = F.kl_div(F.log_softmax(student(x) / t, dim=-1), soft, reduction="batchmean") * t * t
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        print(f"step {step} distillation loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
