"""The checker's reach into code shapes public training code uses: methods of a
plain trainer class acting on the model it holds, freezes of a slice of the parameter list, and the
project root of a file argument in a tree with no marker."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from freezelint.check.engine import check_source

from conftest import write


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
        self.net = net.to("cpu")
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


def test_a_trainer_method_acts_through_the_methods_it_calls_on_self():
    """`trainer.run()` freezes the model through `self.freeze_backbone()`; `t2.distill()` only the
    trainer's own teacher, through `self.freeze_teacher()`."""
    mine = TRAINER.replace("    def freeze_teacher(self):", """    def run(self, epochs=3):
        for epoch in range(epochs):
            if epoch == 1:
                self.freeze_backbone()
            self.optimizer.step()

    def distill(self):
        self.freeze_teacher()

    def freeze_teacher(self):""") + """
model = torchvision.models.resnet18(weights=None)
trainer = Trainer(model)
trainer.run()
other = torchvision.models.resnet18(weights=None)
t2 = Trainer(other)
t2.distill()
"""
    found = check_source(textwrap.dedent(mine), "train.py", select=["FZ301"])
    assert [(d.row, d.code) for d in found] == [(38, "FZ301")]
    assert "`trainer.run(...)` freezes parameters of `model.layer1`" in found[0].message


def test_an_optimizer_a_trainer_method_builds_again_is_built_at_its_call():
    """The method's optimizer is built at `trainer.rebuild()`, a call with no argument to show: the
    finding points at it. `trainer.unfreeze_all()` sets back the part frozen before its optimizer."""
    src = TRAINER + """

class Rebuilding:
    def __init__(self, model):
        self.model = model.cuda()
        self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad])

    def freeze_backbone(self):
        self.model.layer1.requires_grad_(False)

    def rebuild(self):
        self.optimizer = torch.optim.AdamW(self.model.parameters())

    def unfreeze_all(self):
        self.model.requires_grad_(True)
        self.rebuild()


def main():
    model = torchvision.models.resnet18(weights=None)
    trainer = Rebuilding(model)
    trainer.freeze_backbone()
    trainer.rebuild()


def phases():
    model = torchvision.models.resnet18(weights=None)
    trainer = Rebuilding(model)
    trainer.freeze_backbone()
    trainer.unfreeze_all()
"""
    found = check_source(textwrap.dedent(src), "train.py", select=["FZ301"])
    assert [(d.row, d.col, d.code) for d in found] == [(49, 5, "FZ301")]
    assert "AdamW (built by `trainer.rebuild(...)`)" in found[0].message


def test_a_trainer_method_that_gives_its_optimizer_the_unfrozen_part_is_no_late_unfreeze():
    src = TRAINER + """

class Gradual:
    def __init__(self, net):
        self.net = net
        self.optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad])

    def unfreeze_last_stage(self):
        self.net.layer4.requires_grad_(True)
        self.optimizer.add_param_group({"params": self.net.layer4.parameters()})

    def step_epoch(self, epoch):
        if epoch == 3:
            self.unfreeze_last_stage()


model = torchvision.models.resnet18(weights=None)
model.requires_grad_(False)
model.fc = torch.nn.Linear(512, 10)
trainer = Gradual(model)
trainer.unfreeze_last_stage()
trainer.step_epoch(3)
"""
    assert _codes(src, ["FZ303"]) == []
    assert _codes(src.replace("        self.optimizer.add_param_group", "        # self.optimizer.add_param_group"),
                  ["FZ303"]) == [(47, "FZ303"), (48, "FZ303")]


def test_a_cached_script_is_checked_again_when_the_trainer_method_changes(cli, tmp_path):
    write(tmp_path / "pyproject.toml", "")
    engine = write(tmp_path / "engine.py", """
        import torch


        class Trainer:
            def __init__(self, model):
                self.model = model
                self.optimizer = torch.optim.AdamW(self.model.parameters())

            def freeze_backbone(self):
                self.model.layer1.requires_grad_(True)
        """)
    write(tmp_path / "train.py", """
        import torchvision
        from engine import Trainer

        model = torchvision.models.resnet18(weights=None)
        trainer = Trainer(model)
        trainer.freeze_backbone()
        """)
    assert cli(tmp_path, "check", "--format", "concise", ".").code == 0
    engine.write_text(engine.read_text().replace("requires_grad_(True)", "requires_grad_(False)"))
    r = cli(tmp_path, "check", "--format", "concise", ".")
    assert r.code == 1 and "train.py:5:" in r.out and "FZ301" in r.out


SLICE = """
import torch
import torchvision

model = torchvision.models.resnet18(weights=None)
{loop}
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
"""


def _lines(*lines: str) -> str:
    return "\n".join(lines)


@pytest.mark.parametrize("loop,shown", [
    (_lines("for p in list(model.parameters())[:-2]:", "    p.requires_grad = False"), "list(model.parameters())[:-2]"),
    (_lines("k = 4", "for p in list(model.parameters())[: -k]:", "    p.requires_grad_(False)"),
     "list(model.parameters())[: -k]"),
    (_lines("for n, p in list(model.named_parameters())[:40]:", "    p.requires_grad = False"),
     "list(model.named_parameters())[:40]"),
    (_lines("params = list(model.parameters())", "for p in params[:-2]:", "    p.requires_grad = False"), "params[:-2]"),
    (_lines("for child in list(model.children())[:-1]:", "    for p in child.parameters():",
            "        p.requires_grad = False"), "list(model.children())[:-1]"),
    (_lines("for child in tuple(model.children())[:6]:", "    child.requires_grad_(False)"),
     "tuple(model.children())[:6]"),
    # a test of the position in `enumerate` picks the first ones, as a slice does
    (_lines("for i, p in enumerate(model.parameters()):", "    if i < 40:", "        p.requires_grad = False"),
     "enumerate(model.parameters()) if i < 40"),
    (_lines("for idx, child in enumerate(model.children()):", "    if idx >= 7:", "        continue",
            "    for p in child.parameters():", "        p.requires_grad = False"), None),
    (_lines("for idx, child in enumerate(model.children()):", "    if idx < 7:", "        for p in child.parameters():",
            "            p.requires_grad = False"), "enumerate(model.children()) if idx < 7"),
])
def test_a_slice_of_the_parameter_list_is_a_partial_freeze(loop, shown):
    src = SLICE.format(loop=loop)
    found = check_source(textwrap.dedent(src), "train.py", select=["FZ301"])
    if shown is None:  # a `continue` arm is no test the change sits under: not read, silent
        assert found == []
        return
    assert [d.code for d in found] == ["FZ301"]
    assert f"part of `model` is frozen (`{shown}`)" in found[0].message


def test_a_full_slice_freezes_the_whole_model_and_a_cut_does_not():
    """FZ202 claims a model frozen whole: `[:]` is all of it; `[:-2]` leaves some out (which ones
    is not read here, so no claim); FZ306 lets a whole freeze after DDP pass, not a part."""
    whole = """
import torch
import torchvision

model = torchvision.models.resnet18(weights=None)
for p in list(model.parameters())[{cut}]:
    p.requires_grad = False
model.train()
optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
"""
    assert _codes(whole.format(cut=":"), ["FZ202"]) == [(7, "FZ202")]
    assert _codes(whole.format(cut=":-2"), ["FZ202"]) == []
    assert _codes(whole.format(cut="0:"), ["FZ202"]) == [(7, "FZ202")]
    ddp = """
import torch
import torchvision
from torch.nn.parallel import DistributedDataParallel as DDP

model = DDP(torchvision.models.resnet18(weights=None).cuda())
for p in list(model.module.parameters())[{cut}]:
    p.requires_grad = False
"""
    assert [c for _, c in _codes(ddp.format(cut=":-2"), ["FZ306"])] == ["FZ306"]
    assert _codes(ddp.format(cut=":"), ["FZ306"]) == []


def test_an_unfreeze_of_a_slice_does_not_set_back_a_whole_freeze():
    src = """
import torch
import torchvision

model = torchvision.models.resnet18(weights=None)
model.requires_grad_(False)
for p in list(model.parameters())[-2:]:
    p.requires_grad = True
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
"""
    assert _codes(src, ["FZ301"]) == [(9, "FZ301")]
    filtered = src.replace("AdamW(model.parameters()", "AdamW([p for p in model.parameters() if p.requires_grad]")
    assert _codes(filtered, ["FZ301"]) == []


NEAR = """
import torch
import torch.nn as nn
import torchvision


class FilteredOpt:
    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad])

    def freeze_backbone(self):
        self.model.layer1.requires_grad_(False)


class Gradual:
    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.optimizer = torch.optim.AdamW(self.model.parameters())

    def freeze_backbone(self):
        self.model.layer1.requires_grad_(False)

    def unfreeze_backbone(self):
        self.model.layer1.requires_grad_(True)


class Rebuilds:
    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.optimizer = torch.optim.AdamW(self.model.parameters())

    def replace_head(self, n):
        self.model.fc = nn.Linear(512, n)

    def reset_optimizer(self):
        self.optimizer = torch.optim.AdamW(self.model.parameters())


class AddsGroup:
    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.model.requires_grad_(False)
        self.model.fc = nn.Linear(512, 10)
        self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad])

    def replace_head(self, n):
        self.model.fc = nn.Linear(512, n)
        self.optimizer.add_param_group({"params": self.model.fc.parameters()})

    def unfreeze(self):
        self.model.layer4.requires_grad_(True)
        self.optimizer.add_param_group({"params": self.model.layer4.parameters()})


class NothingFrozenFirst:
    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad])

    def freeze(self):
        self.model.layer4.requires_grad_(False)

    def unfreeze(self):
        self.model.layer4.requires_grad_(True)


class Reloads:
    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.optimizer = torch.optim.AdamW(self.model.parameters())

    def load(self, path):
        self.model = torch.load(path)

    def freeze_backbone(self):
        self.model.layer1.requires_grad_(False)

    def replace_head(self, n):
        self.model.fc = nn.Linear(512, n)


class Dynamic:
    def __init__(self, **kw):
        self.model = torchvision.models.resnet18(weights=None)
        self.optimizer = torch.optim.AdamW(self.model.parameters())
        for k, v in kw.items():
            setattr(self, k, v)

    def freeze_backbone(self):
        self.model.layer1.requires_grad_(False)


class PlainSGD:
    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)

    def freeze_backbone(self):
        self.model.layer1.requires_grad_(False)


class Teacher:
    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.teacher = torchvision.models.resnet50(weights=None)
        self.optimizer = torch.optim.AdamW(self.model.parameters())

    def freeze_teacher(self):
        self.teacher.requires_grad_(False)

    def new_teacher_head(self):
        self.teacher.fc = nn.Linear(2048, 10)


class Tuple:
    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.optimizer = torch.optim.AdamW(self.model.parameters())

    def swap(self, other):
        self.model, self.optimizer = other.model, other.optimizer

    def freeze_backbone(self):
        self.model.layer1.requires_grad_(False)


class Head:
    # the new head is built before the optimizer
    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.model.fc = nn.Linear(512, 10)
        self.optimizer = torch.optim.AdamW(self.model.parameters())


class Base:
    pass


class Mixin:
    pass


class Derived(Base, Mixin):
    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.optimizer = torch.optim.AdamW(self.model.parameters())

    def freeze_backbone(self):
        self.model.layer1.requires_grad_(False)
"""


OWNS = """
import torch
import torch.nn as nn
import torchvision


class Trainer:
    def __init__(self, num_classes):
        self.model = torchvision.models.resnet18(weights=None)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-3)

    def freeze_backbone(self):
        for p in self.model.layer1.parameters():
            p.requires_grad = False

    def replace_head(self, n):
        self.model.fc = nn.Linear(512, n)

    def fit(self, loader):
        self.freeze_backbone()
        self.replace_head(10)
        for epoch in range(3):
            self.model.train()


class Filtered:
    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.model.requires_grad_(False)
        self.model.fc = nn.Linear(512, 10)
        self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad])

    def unfreeze(self):
        self.model.layer4.requires_grad_(True)

    def fit(self, loader, epochs):
        for epoch in range(epochs):
            if epoch == 2:
                self.unfreeze()
            self.model.train()
"""


def test_a_trainer_that_builds_its_own_model_is_followed_from_init_into_its_methods():
    """`__init__` runs before any method: its optimizer over the model it built meets the freeze,
    the replaced head and the unfreeze of each method, reported once where they are written (not
    again at `self.unfreeze()` in fit)."""
    found = check_source(textwrap.dedent(OWNS), "train.py", select=["FZ301", "FZ302", "FZ303"])
    assert [(d.row, d.code) for d in found] == [(10, "FZ301"), (17, "FZ302"), (34, "FZ303")]
    assert "while `self.model.layer1` is frozen in `Trainer.freeze_backbone`" in found[0].message
    assert "`self.model.fc` is replaced in `Trainer.replace_head`, after `Trainer.__init__` built the optimizer" \
        in found[1].message
    assert "in `Filtered.unfreeze`, after `Filtered.__init__` built the optimizer from a requires_grad filter" \
        in found[2].message


def test_a_trainer_that_builds_its_own_model_near_misses():
    """A filtered optimizer; a freeze some method undoes (gradual unfreezing); an optimizer a method
    builds again; add_param_group; nothing frozen when the filter ran; the model (or anything of
    self) assigned outside `__init__`; SGD without state; another attribute frozen; two base classes
    (whose methods are not read); a head replaced in `__init__` before the optimizer."""
    src = (Path(__file__).parent / "projects" / "trainerowns_good" / "engine" / "trainer.py").read_text()
    assert check_source(src, "train.py", select=["FZ301", "FZ302", "FZ303"]) == []
    assert _codes(NEAR, ["FZ301", "FZ302", "FZ303"]) == []
    # each class is silent for its own reason: take the reason away and it fires
    assert _codes(NEAR.replace("[p for p in self.model.parameters() if p.requires_grad])\n\n    def freeze_backbone",
                               "self.model.parameters())\n\n    def freeze_backbone"), ["FZ301"]) == [(10, "FZ301")]
    assert [c for _, c in _codes(NEAR.replace("        setattr(self, k, v)", "        print(k, v)"), ["FZ301"])] \
        == ["FZ301"]
    rebuilds = "    def reset_optimizer(self):\n        self.optimizer = torch.optim.AdamW(self.model.parameters())\n"
    assert rebuilds in NEAR
    assert [c for _, c in _codes(NEAR.replace(rebuilds, ""), ["FZ302"])] == ["FZ302"]


INHERITED = """
import torch
import torch.nn as nn
import torchvision


class BaseTrainer:
    def __init__(self, model, lr=1e-3):
        self.model = model
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=lr)

    def freeze_backbone(self):
        self.model.layer1.requires_grad_(False)


class FineTuner(BaseTrainer):
    def fit(self, loader):
        self.freeze_backbone()


class Quiet(BaseTrainer):
    def freeze_backbone(self):
        pass


class Filtering(BaseTrainer):
    def __init__(self, model):
        self.model = model
        self.optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
"""


def test_a_trainer_method_or_constructor_inherited_from_a_base_of_the_file_acts_at_the_call():
    """`FineTuner(model)` runs the base's `__init__`, `trainer.freeze_backbone()` the base's method
    and `trainer.fit()` the subclass's, which calls it. A subclass that overrides the method, or the
    constructor (with an optimizer that filters), does not."""
    src = INHERITED + """
a = torchvision.models.resnet18(weights=None)
t1 = FineTuner(a)
t1.freeze_backbone()
b = torchvision.models.resnet18(weights=None)
t2 = FineTuner(b)
t2.fit([])
c = torchvision.models.resnet18(weights=None)
t3 = Quiet(c)
t3.freeze_backbone()
d = torchvision.models.resnet18(weights=None)
t4 = Filtering(d)
t4.freeze_backbone()
"""
    found = check_source(textwrap.dedent(src), "train.py", select=["FZ301"])
    assert [(d.row, d.code) for d in found] == [(32, "FZ301"), (35, "FZ301")]
    assert "AdamW (built by `FineTuner(...)`)" in found[0].message


OWN_INHERITED = """
import torch
import torch.nn as nn
import torchvision


class BaseTrainer:
    def __init__(self, num_classes):
        self.model = torchvision.models.resnet18(weights=None)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-3)


class FineTuner(BaseTrainer):
    def freeze_backbone(self):
        self.model.layer1.requires_grad_(False)


class HeadSwap(BaseTrainer):
    def __init__(self, num_classes):
        super().__init__(num_classes)
        self.model.fc = nn.Linear(512, num_classes)


class HeadFirst(BaseTrainer):
    def __init__(self, num_classes):
        self.model = torchvision.models.resnet18(weights=None)
        self.model.fc = nn.Linear(512, num_classes)
        self.optimizer = torch.optim.AdamW(self.model.parameters())


class Maybe(BaseTrainer):
    def __init__(self, num_classes, pretrained=False):
        if pretrained:
            super().__init__(num_classes)
        self.model.fc = nn.Linear(512, num_classes)


class Frozen:
    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.model.requires_grad_(False)
        self.model.fc = nn.Linear(512, 10)
        self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad])


class Unfreezer(Frozen):
    def unfreeze(self):
        self.model.layer4.requires_grad_(True)
"""


def test_a_trainer_that_builds_its_own_model_is_followed_into_its_subclasses():
    """A subclass's methods act on what the base's constructor built; `super().__init__(...)` at
    the top of a constructor runs the base's there. A constructor of its own without it, or with it
    under an `if`, is not the base's (silent)."""
    found = check_source(textwrap.dedent(OWN_INHERITED), "train.py", select=["FZ301", "FZ302", "FZ303"])
    assert [(d.row, d.code) for d in found] == [(10, "FZ301"), (21, "FZ302"), (48, "FZ303")]
    assert "frozen in `FineTuner.freeze_backbone`" in found[0].message
    assert "in `Unfreezer.unfreeze`, after `Unfreezer.__init__` built" in found[2].message


def test_a_cached_script_is_checked_again_when_a_subclass_starts_to_define_the_inherited_method(cli, tmp_path):
    """The subclass's file names no freezing word (its summary is made without a parse): the
    script's finding still depends on what the class defines, and goes when it overrides the method."""
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "engine" / "__init__.py", "")
    write(tmp_path / "engine" / "base.py", """
        import torch


        class BaseTrainer:
            def __init__(self, model):
                self.model = model
                self.optimizer = torch.optim.AdamW(self.model.parameters())

            def freeze_backbone(self):
                self.model.layer1.requires_grad_(False)
        """)
    sub = write(tmp_path / "engine" / "finetune.py", """
        from engine.base import BaseTrainer


        class FineTuner(BaseTrainer):
            def report(self):
                return 0
        """)
    write(tmp_path / "train.py", """
        import torchvision
        from engine.finetune import FineTuner

        model = torchvision.models.resnet18(weights=None)
        trainer = FineTuner(model)
        trainer.freeze_backbone()
        """)
    r = cli(tmp_path, "check", "--format", "concise", ".")
    assert r.code == 1 and "train.py:5:" in r.out and "FZ301" in r.out
    sub.write_text(sub.read_text().replace("def report(self):", "def freeze_backbone(self):"))
    assert cli(tmp_path, "check", "--format", "concise", ".").code == 0


PASSED = """
import torch
import torch.nn as nn
import torchvision


class Trainer:
    def __init__(self, lr=1e-3):
        self.lr = lr

    def freeze(self, model):
        for p in model.layer1.parameters():
            p.requires_grad = False

    def setup_optimizer(self, model):
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=self.lr)

    def unfreeze(self, model):
        model.layer4.requires_grad_(True)


class Own:
    def __init__(self):
        self.model = torchvision.models.resnet18(weights=None)
        self.optimizer = torch.optim.AdamW(self.model.parameters())

    def _freeze(self, net):
        net.layer1.requires_grad_(False)

    def fit(self):
        self._freeze(self.model)
"""


def test_a_trainer_method_acts_on_the_model_it_is_given():
    """`trainer.freeze(model)` freezes `model`, `trainer.setup_optimizer(model)` builds an optimizer
    over it, as helpers of the file do at their calls; `self._freeze(self.model)` in a method of a
    trainer that builds its own model freezes that model."""
    src = PASSED + """
model = torchvision.models.resnet18(weights=None)
trainer = Trainer()
trainer.setup_optimizer(model)
trainer.freeze(model)
"""
    found = check_source(textwrap.dedent(src), "train.py", select=["FZ301"])
    assert [(d.row, d.code) for d in found] == [(25, "FZ301"), (35, "FZ301")]
    assert "while `self._freeze(...)` freezes parameters of `self.model.layer1` in `Own.fit`" in found[0].message
    assert "AdamW (built by `trainer.setup_optimizer(...)`)" in found[1].message
    assert "`trainer.freeze(...)` freezes parameters of `model.layer1`" in found[1].message
    late = PASSED + """
model = torchvision.models.resnet18(weights=None)
model.requires_grad_(False)
model.fc = nn.Linear(512, 10)
trainer = Trainer()
optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
trainer.unfreeze(model)
"""
    assert _codes(late, ["FZ303"]) == [(38, "FZ303")]


def test_a_trainer_method_given_the_model_near_misses():
    """The freeze before a filtering optimizer; a keyword argument (not mapped); a trainer of
    unknown class; another model given."""
    src = PASSED + """
model = torchvision.models.resnet18(weights=None)
trainer = Trainer()
trainer.freeze(model)
optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])


def run(trainer, model):
    trainer.setup_optimizer(model)
    trainer.freeze(model)


other = torchvision.models.resnet18(weights=None)
teacher = torchvision.models.resnet50(weights=None)
t2 = Trainer()
t2.setup_optimizer(other)
t2.freeze(teacher)
"""
    assert _codes(src, ["FZ301", "FZ303"]) == [(25, "FZ301")]  # Own's, in PASSED


def test_a_trainer_method_that_runs_the_steps_trains_at_its_call():
    """`trainer.fit()` runs backward and the optimizer's step (in a method it calls): a freeze
    before it is one the trainer's optimizer then steps over; one after the last call is not."""
    src = """
import torch
import torchvision


class Trainer:
    def __init__(self, model):
        self.model = model
        self.optimizer = torch.optim.AdamW(self.model.parameters())

    def fit(self, loader):
        for x, y in loader:
            self.train_step(x, y)

    def train_step(self, x, y):
        torch.nn.functional.cross_entropy(self.model(x), y).backward()
        self.optimizer.step()


def main(loader):
    model = torchvision.models.resnet18(weights=None)
    trainer = Trainer(model)
    model.layer1.requires_grad_(False)
    trainer.fit(loader)


def export(loader):
    model = torchvision.models.resnet18(weights=None)
    trainer = Trainer(model)
    trainer.fit(loader)
    model.layer1.requires_grad_(False)
    return model
"""
    assert _codes(src, ["FZ301"]) == [(22, "FZ301")]


def test_a_subclass_of_a_trainer_of_another_file_that_builds_its_own_model(cli, tmp_path):
    """The base's constructor (another file) builds the model and an optimizer over all of it; the
    subclass's method freezes part of it: reported at the freeze, naming the base's constructor;
    checked again (from the cache) when the base's optimizer starts to filter."""
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "engine" / "__init__.py", "")
    base = write(tmp_path / "engine" / "base.py", """
        import torch
        import torchvision


        class BaseTrainer:
            def __init__(self):
                self.model = torchvision.models.resnet18(weights=None)
                self.optimizer = torch.optim.AdamW(self.model.parameters())
        """)
    write(tmp_path / "engine" / "finetune.py", """
        from engine.base import BaseTrainer


        class FineTuner(BaseTrainer):
            def freeze_backbone(self):
                self.model.layer1.requires_grad_(False)
        """)
    r = cli(tmp_path, "check", "--format", "concise", ".")
    assert r.code == 1 and "engine/finetune.py:6:" in r.out
    assert "frozen in `FineTuner.freeze_backbone`, after `BaseTrainer.__init__` (engine/base.py:8) built AdamW" in r.out
    base.write_text(base.read_text().replace("AdamW(self.model.parameters())",
                                             "AdamW([p for p in self.model.parameters() if p.requires_grad])"))
    assert cli(tmp_path, "check", "--format", "concise", ".").code == 0
