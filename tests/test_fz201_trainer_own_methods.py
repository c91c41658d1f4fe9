"""FZ201 in a trainer's method that calls other methods of its class between `self.model.train()` and the
training (`self.log_lr()`): those methods are read, a few deep, instead of making the method unread. One
that may re-freeze (its name, an eval(), a `train(mode)`, a `.training` set, `self` handed on, a call back
into the method) still keeps it silent."""

from __future__ import annotations

import pytest

from test_fz201_constructed import TRAINER, _fz201, _row

HELPERS = {
    "log": "def helper(self):\n        print(self.optimizer.param_groups[0]['lr'])\n",
    "deeper": "def helper(self):\n        self.deeper()\n\n    def deeper(self):\n        self.step_count = 0\n",
    # a train() of its own: reported at the call too, as a second `self.model.train()` in its place is
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
    expected = [train, train + 1] if helper == "model_trained" else [train] if helper in FIRES else []
    assert _fz201(src) == expected


def test_a_method_of_the_trainer_that_trains_for_it():
    src = TRAINER.format(bases="", refreeze="pass").replace(
        "        for x in loader:\n            self.optimizer.zero_grad()\n            self.model(x).mean().backward()\n"
        "            self.optimizer.step()\n",
        "        for x in loader:\n            self.step(x)\n", 1) + (
        "\n    def step(self, x):\n        self.optimizer.zero_grad()\n        self.model(x).mean().backward()\n"
        "        self.optimizer.step()\n")
    assert "self.step(x)" in src
    assert _fz201(src) == [_row(src, "self.model.train()")]
