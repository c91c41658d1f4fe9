"""FZ201 in a trainer whose project base class calls a method the trainer overrides: BaseTrainer's
`fit()` calls `self.train_epoch()`, a step it leaves to subclasses (`pass`, `raise NotImplementedError`,
an abstractmethod, or one that trains without train()), and `MyTrainer(BaseTrainer)` froze BatchNorm
with .eval() in `__init__` and overrides `train_epoch` with one that calls `self.model.train()` and
then trains. The override is what runs, in one file and across files (a base whose text names
nothing that trains has no summary: its methods are named only, and a call of one may re-freeze).
The reverse: a base whose `train_epoch` calls train() overridden by one that does not."""

from __future__ import annotations

import textwrap

import pytest

from test_fz201_constructed import _fz201, _row
from test_fz201_trainer_inherited import _found, _project

HEAD = "import abc\nimport torch\nimport torch.nn as nn\nfrom abc import ABC, abstractmethod\n"
BASE = """
class BaseTrainer{bases}:
    def __init__(self, cfg):
        self.cfg = cfg

    def fit(self, loader):
        for epoch in range(3):
            self.train_epoch(loader)
{extra}
{step}
"""
TRAINS = "        for x in loader:\n            self.model(x).mean().backward()\n"
STEPS = {
    "pass": ("", "    def train_epoch(self, loader):\n        pass\n"),
    "raise": ("", "    def train_epoch(self, loader):\n        raise NotImplementedError\n"),
    "abstract": ("(ABC)", "    @abstractmethod\n    def train_epoch(self, loader):\n        ...\n"),
    "docstring": ("(abc.ABC)", '    def train_epoch(self, loader):\n        """One epoch."""\n'),
    # trains without train(): the subclass's override brings the train() in
    "trains": ("", "    def train_epoch(self, loader):\n" + TRAINS),
}
# a method that names eval(): the base's file then has a summary (its "trainer" record)
EVALUATES = "\n    def evaluate(self, loader):\n        self.model.eval()\n"
SUB = """
class MyTrainer(BaseTrainer):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
        for m in self.model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()

    def train_epoch(self, loader):
{override}
"""
SET_BN_EVAL = """
def set_bn_eval(m):
    if isinstance(m, nn.BatchNorm2d):
        m.eval()
"""
OVERRIDES = {  # the override's body: whether it fires
    "trains": ("        self.model.train()\n" + TRAINS, True),
    "refreezes": ("        self.model.train()\n        self.model.apply(set_bn_eval)\n" + TRAINS, False),
    "no_train": (TRAINS, False),
    "train_only": ("        self.model.train()\n", False),
}


def _sources(step: str, extra: str = "", override: str = "trains") -> tuple[str, str]:
    bases, body = STEPS[step]
    return (BASE.format(bases=bases, extra=extra, step=body),
            SUB.format(override=OVERRIDES[override][0]))


@pytest.mark.parametrize("override", OVERRIDES)
@pytest.mark.parametrize("step", STEPS)
def test_an_override_of_the_step_a_base_of_the_file_calls(step, override):
    base, sub = _sources(step, override=override)
    src = textwrap.dedent(HEAD + SET_BN_EVAL + base + "\n" + sub)
    compile(src, "x.py", "exec")
    assert _fz201(src) == ([_row(src, "self.model.train()")] if OVERRIDES[override][1] else [])


@pytest.mark.parametrize("extra", ["", EVALUATES], ids=["no_summary", "summary"])
@pytest.mark.parametrize("override", OVERRIDES)
@pytest.mark.parametrize("step", STEPS)
def test_an_override_of_the_step_a_base_of_another_file_calls(cli, tmp_path, step, override, extra):
    """Reported at the override's train() in the subclass's file."""
    base, sub = _sources(step, extra, override)
    sub = HEAD + SET_BN_EVAL + "from base import BaseTrainer\n" + sub
    _project(tmp_path, {"base.py": HEAD + base, "sub.py": sub})
    assert _found(cli, tmp_path) == ([("sub.py", _row(sub, "self.model.train()"))] if OVERRIDES[override][1] else [])


REFREEZING_BASE_METHOD = "\n    def reset_stats(self):\n        freeze_bn(self.model)\n"
QUIET_BASE_METHOD = "\n    def reset_stats(self):\n        self.on_reset()\n"


@pytest.mark.parametrize("method", [REFREEZING_BASE_METHOD, QUIET_BASE_METHOD], ids=["freeze_bn", "self_call"])
def test_an_override_calling_a_base_method_that_may_refreeze_is_silent(cli, tmp_path, method):
    """`self.reset_stats()` between the override's train() and its training: a base method that
    hands the model to a function of a third file, or (a base without a summary) calls a method of
    self the subclass may define, may re-apply the freeze."""
    base, _ = _sources("pass", method)
    sub = SUB.format(override="        self.model.train()\n        self.reset_stats()\n" + TRAINS)
    sub = HEAD + "from base import BaseTrainer\n" + sub + "\n    def on_reset(self):\n        self.model.apply(set_bn_eval)\n"
    _project(tmp_path, {"base.py": HEAD + "from utils import freeze_bn\n" + base,
                        "utils.py": HEAD + "def freeze_bn(model):\n    model.apply(set_bn_eval)\n" + SET_BN_EVAL,
                        "sub.py": sub + SET_BN_EVAL})
    assert _found(cli, tmp_path) == []


def test_a_base_with_a_project_base_of_its_own_is_not_read(cli, tmp_path):
    """A base without a summary whose own base is a class of a third file: what that one adds is
    not read, silent."""
    base, sub = _sources("pass")
    base = base.replace("class BaseTrainer:", "class BaseTrainer(Core):")
    sub = HEAD + SET_BN_EVAL + "from base import BaseTrainer\n" + sub
    _project(tmp_path, {"core.py": "class Core:\n    def log(self):\n        print(1)\n",
                        "base.py": HEAD + "from core import Core\n" + base, "sub.py": sub})
    assert _found(cli, tmp_path) == []


BASE_TRAINS = "    def train_epoch(self, loader):\n        self.model.train()\n" + TRAINS


def test_a_base_step_that_calls_train_overridden_by_one_that_does_not(cli, tmp_path):
    """The reverse near-miss: the base's `train_epoch` calls train() and trains, the subclass's
    override trains without it; `fit` (read through the base's own step) is not what runs."""
    base = BASE.format(bases="(ABC)", extra="", step=BASE_TRAINS)
    sub = SUB.format(override=TRAINS)
    src = HEAD + base + "\n" + sub
    assert _fz201(src) == []
    sub = HEAD + "from base import BaseTrainer\n" + sub
    _project(tmp_path, {"base.py": HEAD + base, "sub.py": sub})
    assert _found(cli, tmp_path) == []
    # without the override, the base's train() is what runs
    sub = sub[:sub.index("    def train_epoch")]
    _project(tmp_path, {"base.py": HEAD + base, "sub.py": sub})
    assert _found(cli, tmp_path) == [("sub.py", _row(sub, "m.eval()"))]


def test_the_summary_records_a_base_that_leaves_a_step_to_its_subclasses():
    from freezelint.check.summaries import summarise_text

    base, _ = _sources("pass", EVALUATES)
    record = summarise_text(textwrap.dedent(HEAD + base))["classes"]["BaseTrainer"]["trainer"]
    assert record == {"methods": {"fit": {"cls": "BaseTrainer", "calls": ["train_epoch"]},
                                  "evaluate": {"cls": "BaseTrainer", "refreeze": True}}}


def test_a_base_without_a_summary_on_a_class_line_of_several_lines(cli, tmp_path):
    """`class BaseTrainer(\\n    ABC,\\n):`: its bases are read past the first line; a project base
    added there keeps it silent."""
    base, sub = _sources("pass")
    sub = HEAD + SET_BN_EVAL + "from base import BaseTrainer\n" + sub
    split = base.replace("class BaseTrainer:", "class BaseTrainer(\n    ABC,\n):")
    _project(tmp_path, {"base.py": HEAD + split, "sub.py": sub})
    assert _found(cli, tmp_path) == [("sub.py", _row(sub, "self.model.train()"))]
    split = base.replace("class BaseTrainer:", "class BaseTrainer(\n    ABC, Core,\n):")
    _project(tmp_path, {"core.py": "class Core:\n    pass\n", "base.py": HEAD + "from core import Core\n" + split})
    assert _found(cli, tmp_path) == []
