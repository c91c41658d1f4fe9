"""The checker's reach into code shapes a trial over public training code found missed: methods of a
plain trainer class acting on the model it holds, freezes of a slice of the parameter list, and the
project root of a file argument in a tree with no marker."""

from __future__ import annotations

import textwrap

from freezelint.check.engine import check_source


def _codes(src: str, select=None) -> list[tuple[int, str]]:
    found = check_source(textwrap.dedent(src), "train.py", select=select)
    return sorted((d.row, d.code) for d in found)


TRAINER = """
import torch
import torchvision


class Trainer:
    def __init__(self, model, lr=1e-3):
        self.model = model
        self.teacher = torchvision.models.resnet50(weights=None)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=lr)

    def freeze_backbone(self):
        for p in self.model.layer1.parameters():
            p.requires_grad = False

    def freeze_teacher(self):
        self.teacher.requires_grad_(False)


class Filtered:
    def __init__(self, net):
        self.net = net
        self.optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad])

    def unfreeze_all(self):
        self.net.requires_grad_(True)
"""


def test_a_trainer_method_freezes_the_model_it_was_given_after_its_optimizer():
    src = TRAINER + """
model = torchvision.models.resnet18(weights=None)
trainer = Trainer(model)
trainer.freeze_backbone()
"""
    found = check_source(textwrap.dedent(src), "train.py", select=["FZ301"])
    assert [(d.row, d.code) for d in found] == [(29, "FZ301")]
    assert "`trainer.freeze_backbone(...)` freezes parameters of `model.layer1`" in found[0].message


def test_a_trainer_method_unfreezes_after_a_filtered_optimizer():
    src = TRAINER + """
model = torchvision.models.resnet18(weights=None)
model.requires_grad_(False)
model.fc = torch.nn.Linear(512, 10)
trainer = Filtered(model)
trainer.unfreeze_all()
"""
    assert _codes(src, ["FZ303"]) == [(32, "FZ303")]


def test_trainer_methods_near_misses():
    # the trainer's own teacher; a name bound twice; a trainer whose model is replaced by a method
    src = TRAINER + """
model = torchvision.models.resnet18(weights=None)
trainer = Trainer(model)
trainer.freeze_teacher()

other = torchvision.models.resnet18(weights=None)
t2 = Trainer(other)
t2 = Filtered(other)
t2.freeze_backbone()


class Reloading:
    def __init__(self, model):
        self.model = model
        self.optimizer = torch.optim.AdamW(self.model.parameters())

    def reload(self):
        self.model = torchvision.models.resnet18(weights=None)

    def freeze_backbone(self):
        self.model.layer1.requires_grad_(False)


third = torchvision.models.resnet18(weights=None)
t3 = Reloading(third)
t3.freeze_backbone()
"""
    assert _codes(src, ["FZ301", "FZ303"]) == []
