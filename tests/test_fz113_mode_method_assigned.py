"""FZ113: `model.train = False` / `model.eval = True` stores a value over nn.Module's mode method."""

from __future__ import annotations

import textwrap

import libcst as cst

from freezelint.check.engine import check_source, check_text


def _code(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def found(text: str) -> list[tuple[int, str]]:
    return [(d.row, d.code) for d in check_source(_code(text), "train.py", select=["FZ113"])]


def messages(text: str) -> list[str]:
    return [d.message for d in check_source(_code(text), "train.py", select=["FZ113"])]


def fixed(text: str, mode: str = "safe") -> str | None:
    return check_text(_code(text), "train.py", frozenset({"FZ113"}), fix=mode).new_text


FINETUNE = """
import torchvision

model = torchvision.models.resnet18(weights=None)
for p in model.parameters():
    p.requires_grad = False
model.fc.train = True
model.layer4.train = False
"""


def test_a_part_of_a_known_model_is_reported_and_fixed_safely():
    assert found(FINETUNE) == [(6, "FZ113"), (7, "FZ113")]
    first = messages(FINETUNE)[0]
    assert first.startswith("`model.fc.train = True` replaces nn.Module's `train()` with a value")
    assert "raises TypeError" in first and first.endswith("call `model.fc.train(True)`")
    out = fixed(FINETUNE)
    cst.parse_module(out)
    assert out.endswith("model.fc.train(True)\nmodel.layer4.train(False)\n")
    assert found(out) == []


def test_the_fix_keeps_a_parenthesized_value_and_a_semicolon():
    out = fixed("""
    import torch.nn as nn

    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    net.train = (False); net(x)
    """)
    assert out is not None and "net.train(False); net(x)" in out
    cst.parse_module(out)


def test_self_train_flag_in_a_module_subclass_hides_the_method_for_every_instance():
    code = """
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self, train=True):
            super().__init__()
            self.fc = nn.Linear(4, 2)
            self.train = train

        def forward(self, x):
            return self.fc(x) if self.train else self.fc(x).detach()
    """
    assert found(code) == [(7, "FZ113")]
    assert "keep the setting under a name of its own" in messages(code)[0]
    assert fixed(code, "unsafe") is None  # not a bool literal: what was meant is a guess


def test_datasets_namespaces_and_unknown_objects_are_not_modules():
    assert found("""
    import argparse

    from torch.utils.data import Dataset
    from torchvision.datasets import VisionDataset

    class Pairs(Dataset):
        def __init__(self, root, train=True):
            self.train = train

    class Folder(VisionDataset):
        def __init__(self, root, train=True):
            super().__init__(root)
            self.train = train

    class Options:
        def __init__(self):
            self.train = True
            self.eval = False

    args = argparse.ArgumentParser().parse_args()
    args.train = True
    args.eval = False

    def configure(cfg, model):
        cfg.train = False
        model.train = False  # a parameter nothing says is a Module
    """) == []


def test_a_callable_stored_on_purpose_is_a_monkeypatch():
    assert found("""
    import functools
    import types
    from unittest import mock

    import torch.nn as nn

    def stay_eval(self, mode=True):
        return nn.Module.train(self, False)

    bn = nn.BatchNorm1d(4)
    bn.train = types.MethodType(stay_eval, bn)
    model = nn.Sequential(nn.Linear(4, 4), bn)
    model.train = functools.partial(nn.Module.train, model)
    model[0].train = stay_eval
    model[0].eval = model[0].train
    model.eval = lambda: model.train(False)
    keep = model[1].train
    model[1].train = keep
    """) == []


def test_an_imported_function_stored_over_train_is_a_monkeypatch_but_an_imported_constant_is_not():
    # MiniGPT-4 (minigpt4/models/mini_gpt4.py): `Qformer.train = disabled_train`, imported from
    # base_model.py, keeps the frozen Q-Former in eval() whatever the trainer calls
    assert found("""
    import torch.nn as nn
    from minigpt4.models.base_model import disabled_train
    from settings import TRAIN_MODE

    def build(Qformer):
        for name, param in Qformer.named_parameters():
            param.requires_grad = False
        Qformer = Qformer.eval()
        Qformer.train = disabled_train
        Qformer.train = TRAIN_MODE
    """) == [(10, "FZ113")]


def test_eval_overwritten_is_reported_without_a_fix():
    code = """
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))
    model.eval = True
    model.eval = False
    """
    assert found(code) == [(4, "FZ113"), (5, "FZ113")]
    said = messages(code)
    assert said[0].endswith("call `model.eval()`") and said[1].endswith("call `model.train()`")
    assert fixed(code, "unsafe") is None


def test_a_module_known_only_from_use_gets_an_unsafe_fix_naming_the_use():
    code = """
    def freeze(encoder):
        for p in encoder.parameters():
            p.requires_grad = False
        encoder.train = False
    """
    assert found(code) == [(4, "FZ113")]
    assert messages(code)[0].startswith("`encoder` is used as an nn.Module (`encoder.parameters()` at line 2)")
    assert fixed(code) is None
    assert fixed(code, "unsafe").endswith("    encoder.train(False)\n")


def test_a_class_whose_train_is_a_training_loop_gets_no_fix():
    code = """
    import torch.nn as nn

    class Agent(nn.Module):
        def __init__(self):
            super().__init__()
            self.policy = nn.Linear(4, 4)

        def train(self, env, steps=100):
            for _ in range(steps):
                env.step(self.policy(env.observe()))

    agent = Agent()
    agent.train = False
    """
    assert found(code) == [(13, "FZ113")]
    assert "call `torch.nn.Module.train(agent, False)`" in messages(code)[0]
    assert fixed(code, "unsafe") is None


def test_training_flag_is_fz106_not_this_rule():
    assert found("""
    import torch.nn as nn

    model = nn.Linear(4, 4)
    model.training = False
    model.train(False)
    is_on = model.train
    """) == []


def test_a_literal_in_a_module_subclass_body_is_reported_directly_or_through_a_class_of_the_file():
    code = """
    import torch.nn as nn

    class Frozen(nn.Module):
        train = False

    class Base(nn.Module):
        pass

    class Head(Base):
        eval = True
        train: bool = None
    """
    assert found(code) == [(4, "FZ113"), (10, "FZ113"), (11, "FZ113")]
    first = messages(code)[0]
    assert first.startswith("`train = False` in the body of Frozen, an nn.Module subclass, replaces nn.Module's "
                            "`train()` with a value on every instance")
    assert first.endswith("raises TypeError; keep the setting under a name of its own")
    assert fixed(code, "unsafe") is None  # which name the setting takes is the user's


def test_class_body_near_misses_are_not_reported():
    assert found("""
    from dataclasses import dataclass

    import torch.nn as nn
    from mylib import Backbone

    @dataclass
    class Config:
        train: bool = True

    class Dataset:
        train = True

    class Unknown(Backbone):
        train = False

    def keep_eval(self, mode=True):
        return self

    class Patched(nn.Module):
        train = keep_eval

    class Again(nn.Module):
        eval = True

        def eval(self):
            return self.train(False)

    class Annotated(nn.Module):
        train: bool  # an annotation alone binds nothing
    """) == []


def test_the_text_gate_admits_a_class_body_assignment_alone():
    from freezelint.check.prefilter import Prefilter

    text = "import torch.nn as nn\n\nclass Frozen(nn.Module):\n    train = False\n"
    assert "FZ113" in Prefilter(frozenset({"FZ113"})).admitted(text)
    assert "FZ113" not in Prefilter(frozenset({"FZ113"})).admitted("train = load()\n")  # not in a body
