"""FZ201 in a trainer's method that calls other methods of its class between `self.model.train()` and the
training (`self.log_lr()`): those methods are read, a few deep, instead of making the method unread. One
that may re-freeze (its name, an eval(), a `train(mode)`, a `.training` set, `self` handed on, a call back
into the method) still keeps it silent."""

from __future__ import annotations

import textwrap

import pytest

from test_fz201_constructed import ALL_STATIC, MODEL_FILE, TRAINER, _fz201, _row

from freezelint.check.engine import check_text

HELPERS = {
    "log": "def helper(self):\n        print(self.optimizer.param_groups[0]['lr'])\n",
    "deeper": "def helper(self):\n        self.deeper()\n\n    def deeper(self):\n        self.step_count = 0\n",
    # a train() of its own: one mistake with the caller's train(), reported there and naming the method
    "model_trained": "def helper(self):\n        self.model.train()\n",
    # may re-freeze
    "named": "def helper(self):\n        self.model.freeze_bn()\n",
    "deeper_named": "def helper(self):\n        self.deeper()\n\n    def deeper(self):\n        self.model.freeze_bn()\n",
    "eval": "def helper(self):\n        self.model.eval()\n",
    "train_false": "def helper(self):\n        self.model.train(False)\n",
    "train_mode": "def helper(self):\n        self.model.train(self.mode)\n",
    "flag": "def helper(self):\n        self.model.training = False\n",
    "handed": "def helper(self):\n        hooks.before_epoch(self)\n",
    "recursive": "def helper(self):\n        self.training(None)\n",
}
FIRES = {"log", "deeper", "model_trained"}


@pytest.mark.parametrize("helper", HELPERS)
def test_a_method_of_the_trainer_called_between_train_and_training_is_read(helper):
    src = TRAINER.format(bases="", refreeze="self.helper()") + "\n    " + HELPERS[helper]
    compile(src, "x.py", "exec")
    train = _row(src, "self.model.train()")
    assert _fz201(src) == ([train] if helper in FIRES else [])


def test_a_method_of_the_trainer_that_trains_for_it():
    src = TRAINER.format(bases="", refreeze="pass").replace(
        "        for x in loader:\n            self.optimizer.zero_grad()\n            self.model(x).mean().backward()\n"
        "            self.optimizer.step()\n",
        "        for x in loader:\n            self.step(x)\n", 1) + (
        "\n    def step(self, x):\n        self.optimizer.zero_grad()\n        self.model(x).mean().backward()\n"
        "        self.optimizer.step()\n")
    assert "self.step(x)" in src
    assert _fz201(src) == [_row(src, "self.model.train()")]


def _messages(src: str) -> list[tuple[int, str]]:
    found = check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
    return [(d.row, d.message) for d in found if d.code == "FZ201"]


def test_a_method_that_calls_train_again_is_named_at_the_train_before_it():
    """`self.model.train(); self.helper()` where the helper calls train() again: one finding, at the
    caller's train(), naming the helper and saying to re-apply the freeze after its call."""
    src = TRAINER.format(bases="", refreeze="self.helper()") + "\n    " + HELPERS["model_trained"]
    [(row, message)] = _messages(src)
    assert row == _row(src, "self.model.train()")
    helper_train = len(textwrap.dedent(src).splitlines())
    assert f"(and `self.helper(...)` after it, which calls train() again at line {helper_train})" in message
    assert message.endswith("re-apply the freeze after `self.helper(...)` (or override train())")


# the training moved into a method of its own, called from the loop over epochs
EPOCHS = TRAINER.format(bases="", refreeze="pass").replace(
    "    def training(self, loader):\n", "    def fit(self, loader):\n{fit}\n\n    def training(self, loader):\n", 1)


@pytest.mark.parametrize("fit,also", [
    ("        for epoch in range(3):\n            self.training(loader)", None),
    ("        self.model.train()\n        self.training(loader)", None),  # its train() repeats the caller's
    ("        self.run_epoch(loader)\n\n    def run_epoch(self, loader):\n        self.training(loader)", None),
    # the caller trains after the method returns too: the freeze re-applied in the method covers both
    ("        self.training(loader)\n        self.model(loader).mean().backward()", None),
    # near-miss of the dropping: a method that trains nothing after its train() keeps the call's finding
    ("        self.set_mode()\n        self.model(loader).mean().backward()\n\n    def set_mode(self):\n"
     "        self.model.train()", "self.set_mode()"),
])
def test_a_method_that_trains_after_its_own_train_is_reported_there_once(fit, also):
    """`fit()` calling `self.training()`, whose `self.model.train()` is followed by the training: one
    finding, at that train() (where the freeze is re-applied), not a second at the call in fit."""
    src = EPOCHS.replace("{fit}", fit)
    compile(src, "x.py", "exec")
    expected = {_row(src, "def training(self, loader):") + 1}  # the train() of `training`
    if also:
        expected.add(_row(src, also))
    assert set(_fz201(src)) == expected and len(_fz201(src)) == len(expected)


def test_a_method_that_trains_after_its_own_train_across_files(cli, tmp_path):
    """The model's class in another project file: still one finding, at the method's train()."""
    import json

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "model.py").write_text(MODEL_FILE)
    (tmp_path / "train.py").write_text(
        "import torch\nfrom model import DeepLab\n\n\nclass Trainer(object):\n    def __init__(self, args):\n"
        "        self.model = DeepLab(num_classes=4, freeze_bn=args.freeze_bn)\n\n    def fit(self, loader):\n"
        "        for epoch in range(3):\n            self.training(loader)\n\n    def training(self, loader):\n"
        "        self.model.train()\n        for x in loader:\n            self.model(x).mean().backward()\n")
    r = cli(tmp_path, "check", "--format", "json", ".")
    assert r.code in (0, 1), r.err
    assert [(d["location"]["row"], d["code"]) for d in json.loads(r.out)] == [(14, "FZ201")]


ENGINE = """def train_one_epoch(model, loader, optimizer):
    model.train()
    for x in loader:
        optimizer.zero_grad()
        model(x).mean().backward()
        optimizer.step()
"""
RUN = """
def get_model():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    return model


class Trainer:
    def __init__(self):
        self.model = get_model()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)

    def fit(self, loader):
        self.model.train()
        train_one_epoch(self.model, loader, self.optimizer)


model = get_model()
model.train()
train_one_epoch(model, loader, opt)
"""


def _last(src: str, code: str) -> int:
    return len(src.splitlines()) - src.splitlines()[::-1].index(code)


def test_a_train_repeated_by_a_helper_function_of_the_file_is_one_finding():
    """`model.train()` then `train_one_epoch(model, ...)`, whose own train() comes before its steps:
    one finding, at the caller's train(), naming the helper and where to re-apply the freeze."""
    src = "import torch\nimport torch.nn as nn\n\n\n" + ENGINE + RUN
    found = _messages(src)
    assert [row for row, _ in found] == [_row(src, "self.model.train()"), _last(src, "model.train()")]
    for _, message in found:
        assert "(and `train_one_epoch(...)` after it, which calls train() again at line 6)" in message
        assert "re-apply the freeze inside `train_one_epoch`, right after its train()" in message


def test_a_train_repeated_by_a_helper_function_of_another_file_is_one_finding(cli, tmp_path):
    import json

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "engine.py").write_text(ENGINE)
    src = "import torch\nimport torch.nn as nn\n\nfrom engine import train_one_epoch\n" + RUN
    (tmp_path / "run.py").write_text(src)
    r = cli(tmp_path, "check", "--format", "json", ".")
    assert r.code in (0, 1), r.err
    found = [(d["location"]["row"], d["message"]) for d in json.loads(r.out) if d["code"] == "FZ201"]
    assert [row for row, _ in found] == [_row(src, "self.model.train()"), _last(src, "model.train()")]
    assert all("which calls train() again at engine.py:2)" in message for _, message in found)
