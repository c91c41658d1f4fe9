"""A plain class whose constructor acts on what it is given (a trainer or engine that builds its
optimizer over the model in __init__) acts at the `Trainer(model)` call, as a builder function
does at `build_optimizer(model)`; across files, tests/projects/trainer_bad (and its twin)."""

from __future__ import annotations

import textwrap

from freezelint.check.engine import check_source

HEAD = """\
import torch
import torch.nn as nn
import torchvision


class Trainer:
    def __init__(self, model, lr=1e-3):
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)


class FilteredTrainer:
    def __init__(self, model, lr=1e-3):
        self.model = model
        self.optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)


model = torchvision.models.resnet18(weights=None)
for p in model.parameters():
    p.requires_grad = False
model.fc = nn.Linear(512, 10)
"""


def _found(tail: str, code: str = "FZ301") -> list[tuple[int, str]]:
    src = HEAD + textwrap.dedent(tail)
    return [(d.row, d.message) for d in check_source(src, "train.py", select=[code])]


def test_a_trainer_built_over_a_frozen_model_is_fz301_at_its_construction():
    found = _found("trainer = Trainer(model)\n")
    assert [row for row, _ in found] == [22]
    assert found[0][1].startswith("Adam (built by `Trainer(...)`) gets every parameter of `model` while part of "
                                  "`model` is frozen (all but `model.fc`, replaced since) in this scope")


def test_near_miss_a_trainer_that_filters_on_requires_grad():
    assert _found("trainer = FilteredTrainer(model)\n") == []


def test_near_miss_the_trainer_built_before_the_freeze_of_another_model():
    assert _found("other = torchvision.models.resnet18(weights=None)\ntrainer = Trainer(other)\n") == []


def test_near_miss_a_module_class_constructor_takes_parts_not_a_model_to_train():
    # its arguments become self's parts: what it builds is judged on the instance, not here
    tail = """
    class Wrapper(nn.Module):
        def __init__(self, backbone):
            super().__init__()
            self.backbone = backbone
            self.opt = torch.optim.Adam(backbone.parameters())

    wrapped = Wrapper(model)
    """
    assert _found(tail) == []


def test_near_miss_a_class_name_rebound_to_something_else():
    assert _found("Trainer = make_trainer_factory()\ntrainer = Trainer(model)\n") == []


def test_unfreezing_after_a_filtering_trainer_was_built_is_fz303():
    tail = """
    trainer = FilteredTrainer(model)
    model.layer4.requires_grad_(True)
    """
    assert [row for row, _ in _found(tail, "FZ303")] == [24]


STORED = """\
import torch
import torchvision


class Trainer:
    def __init__(self, model, lr=5e-4):
        self.model = model
        self.optim = torch.optim.Adam(self.model.parameters(), lr=lr)


class Filtered:
    def __init__(self, model, lr=5e-4):
        self.model = model
        self.optim = torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad], lr=lr)


class Swapped:
    def __init__(self, model, other):
        self.model = model
        self.model = other  # stored twice: which object the optimizer gets is not followed
        self.optim = torch.optim.Adam(self.model.parameters())


model = torchvision.models.resnet18()
for param in model.layer1.parameters():
    param.requires_grad = False
"""


def test_a_trainer_that_stores_the_model_and_builds_over_self_model_is_fz301_at_its_construction():
    # (signal_propagation's Trainer, FLamby's _Model): `self.model = model`, then the
    # optimizer over `self.model.parameters()`: the model given is the one it trains
    found = [d.row for d in check_source(STORED + "t = Trainer(model)\n", "train.py", select=["FZ301"])]
    assert found == [STORED.count("\n") + 1]


def test_near_miss_stored_then_filtered_or_stored_twice():
    assert check_source(STORED + "t = Filtered(model)\n", "train.py", select=["FZ301"]) == []
    assert check_source(STORED + "t = Swapped(model, model)\n", "train.py", select=["FZ301"]) == []
