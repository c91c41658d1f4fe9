"""FZ201 in a trainer that inherits the methods that train its model: `class MyTrainer(BaseTrainer)`
froze BatchNorm with .eval() in `__init__`, and BaseTrainer's `fit()` calls `self.train_one_epoch()`,
whose `self.model.train()` undoes it before training. The base's methods are read as the subclass runs
them (its overrides first); a base of this file is reported at that train(), one of another project
file at the freeze, from its summary. A base that is no project class, an override or hook that may
re-freeze, or a base constructor run after the freeze keeps it silent. A subclass's override of a hook
the base calls right before training that calls train() itself is reported at that train()."""

from __future__ import annotations

import json
import textwrap

import pytest

from test_fz201_constructed import _fz201, _row

HEAD = "import torch\nimport torch.nn as nn\n"
BASE = """
class BaseTrainer{bases}:
    def __init__(self, cfg):
        self.cfg = cfg

    def fit(self, loader):
        for epoch in range(3):
            self.train_one_epoch(loader)

    def train_one_epoch(self, loader):
        self.model.train()
        self.on_epoch_start()
        for x in loader:
            self.optimizer.zero_grad()
            self.model(x).mean().backward()
            self.optimizer.step()

    def on_epoch_start(self):
        pass
"""
SUB = """
class MyTrainer({base}):
    def __init__(self, cfg):
        {before}
        self.model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
        for m in self.model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)
        {after}
{methods}
"""
TRAINS = "        for x in loader:\n            self.model(x).mean().backward()\n"
# name: (the subclass's methods, its __init__ before and after the freeze, fires (same file, other file))
CASES = {
    "inherited": ("", "super().__init__(cfg)", "", (True, True)),
    "own_fit_calls_inherited": ("    def run(self, loader):\n        self.train_one_epoch(loader)\n",
                                "super().__init__(cfg)", "", (True, True)),
    # the subclass's hook is read instead of the base's: one that only logs leaves the freeze undone
    "hook_logs": ("    def on_epoch_start(self):\n        print('epoch')\n", "super().__init__(cfg)", "",
                  (True, True)),
    # near-misses
    "override_refreezes": ("    def train_one_epoch(self, loader):\n        self.model.train()\n"
                           "        self.model.apply(set_bn_eval)\n" + TRAINS, "super().__init__(cfg)", "",
                           (False, False)),
    "override_no_train": ("    def train_one_epoch(self, loader):\n" + TRAINS, "super().__init__(cfg)", "",
                          (False, False)),
    "hook_refreezes": ("    def on_epoch_start(self):\n        self.model.apply(set_bn_eval)\n",
                       "super().__init__(cfg)", "", (False, False)),
    "hook_train_mode": ("    def on_epoch_start(self):\n        self.model.train(self.mode)\n",
                        "super().__init__(cfg)", "", (False, False)),
    "hook_hands_self_on": ("    def on_epoch_start(self):\n        self.callbacks.on_epoch(self)\n",
                           "super().__init__(cfg)", "", (False, False)),
    "hook_hands_model_on": ("    def on_epoch_start(self):\n        self.logger.watch(self.model)\n",
                            "super().__init__(cfg)", "", (False, False)),
    "base_init_after_freeze": ("", "pass", "super().__init__(cfg)", (False, False)),
}


def _sources(case: str, bases: str = "") -> tuple[str, str]:
    methods, before, after, _ = CASES[case]
    return BASE.format(bases=bases), SUB.format(base="BaseTrainer", before=before, after=after, methods=methods)


@pytest.mark.parametrize("case", CASES)
def test_a_trainer_inheriting_from_a_base_of_the_file(case):
    base, sub = _sources(case)
    src = HEAD + base + "\n" + sub
    compile(src, "x.py", "exec")
    assert _fz201(src) == ([_row(src, "self.model.train()")] if CASES[case][3][0] else [])


def test_the_message_names_the_trainer_whose_init_froze():
    from freezelint import codes
    from freezelint.check.engine import check_text

    base, sub = _sources("inherited")
    found = check_text(HEAD + base + "\n" + sub, "ex.py", frozenset(codes.CATALOGUE), force=True).diagnostics
    [message] = [d.message for d in found if d.code == "FZ201"]
    assert "frozen in `MyTrainer.__init__` with .eval()" in message


def _project(tmp_path, files: dict[str, str]) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    for name, text in files.items():
        (tmp_path / name).write_text(text)


def _found(cli, tmp_path) -> list[tuple[str, int]]:
    r = cli(tmp_path, "check", "--format", "json", ".")
    assert r.code in (0, 1), r.err
    return [(d["filename"].rsplit("/", 1)[-1], d["location"]["row"]) for d in json.loads(r.out) if d["code"] == "FZ201"]


@pytest.mark.parametrize("case", CASES)
def test_a_trainer_inheriting_from_a_base_of_another_file(cli, tmp_path, case):
    """Reported at the freeze of the subclass's `__init__`, naming the method and its train()'s line;
    an override of a method the base's calls keeps it silent (the summary read the base's own)."""
    base, sub = _sources(case)
    _project(tmp_path, {"base.py": HEAD + base, "sub.py": HEAD + "from base import BaseTrainer\n" + sub})
    freeze = _row(HEAD + "from base import BaseTrainer\n" + sub, "m.eval()")
    assert _found(cli, tmp_path) == ([("sub.py", freeze)] if CASES[case][3][1] else [])


def test_the_message_across_files_names_the_method_and_its_train(cli, tmp_path):
    base, sub = _sources("inherited")
    _project(tmp_path, {"base.py": HEAD + base, "sub.py": HEAD + "from base import BaseTrainer\n" + sub})
    r = cli(tmp_path, "check", "--format", "json", ".")
    [message] = [d["message"] for d in json.loads(r.out)]
    train = _row(HEAD + base, "self.model.train()")
    assert message.startswith("MyTrainer freezes BatchNorm of `self.model` with .eval() in __init__, but the "
                              f"`train_one_epoch` it inherits from `BaseTrainer` (base.py) calls "
                              f"`self.model.train()` at line {train} before training")
    assert message.endswith("(override `train_one_epoch` in MyTrainer to do so)")


def test_a_base_with_a_metaclass_is_read():
    """A metaclass gives the instances no methods (`class BaseTrainer(metaclass=ABCMeta)`)."""
    base, sub = _sources("inherited", "(metaclass=abc.ABCMeta)")
    src = HEAD + "import abc\n" + base + "\n" + sub
    assert _fz201(src) == [_row(src, "self.model.train()")]


@pytest.mark.parametrize("bases", ["(transformers.Trainer)", "(Trainer, Mixin)"])
def test_a_base_that_is_no_project_class_is_not_read(cli, tmp_path, bases):
    """A library's trainer (its own methods unknown), several bases: silent, in one file and across
    files."""
    base, sub = _sources("inherited", bases)
    head = HEAD + "import transformers\nfrom somewhere import Trainer, Mixin\n"
    assert _fz201(head + base + "\n" + sub) == []
    _project(tmp_path, {"base.py": head + base, "sub.py": HEAD + "from base import BaseTrainer\n" + sub})
    assert _found(cli, tmp_path) == []


def test_a_line_of_bases_is_read_a_few_classes_deep():
    """Through a middle class of the file; a line longer than the bound is not read."""
    base, sub = _sources("inherited")
    middle = "\n\nclass Middle{n}(Middle{m}):\n    pass\n"
    two = base + middle.format(n=1, m="").replace("(Middle)", "(BaseTrainer)")
    src = HEAD + two + "\n" + sub.replace("(BaseTrainer)", "(Middle1)")
    assert _fz201(src) == [_row(src, "self.model.train()")]
    long = base + middle.format(n=1, m="").replace("(Middle)", "(BaseTrainer)") + "".join(
        middle.format(n=i, m=i - 1) for i in range(2, 6))
    src = HEAD + long + "\n" + sub.replace("(BaseTrainer)", "(Middle5)")
    assert _fz201(src) == []


def test_the_summary_records_what_a_subclass_inherits():
    from freezelint.check.summaries import summarise_text

    base, _ = _sources("inherited")
    record = summarise_text(textwrap.dedent(HEAD + base))["classes"]["BaseTrainer"]["trainer"]
    train = _row(HEAD + base, "self.model.train()")
    assert record == {"methods": {"fit": {"cls": "BaseTrainer", "calls": ["train_one_epoch"]},
                                  "train_one_epoch": {"cls": "BaseTrainer", "calls": ["on_epoch_start"],
                                                      "trains": {"self.model": [train, True]},
                                                      "then": {"on_epoch_start": [train + 1, ["self.model"]]}}}}


def test_a_base_handing_the_model_to_a_function_of_a_third_file_is_not_recorded(cli, tmp_path):
    """`prepare(self.model)` between the base's train() and its training, `prepare` of another
    project file: the base's summary cannot read it (it may re-freeze), so it records no train()."""
    base, sub = _sources("inherited")
    base = base.replace("        self.on_epoch_start()\n", "        prepare(self.model)\n")
    _project(tmp_path, {"base.py": HEAD + "from utils import prepare\n" + base,
                        "utils.py": "def prepare(model):\n    model.apply(set_bn_eval)\n",
                        "sub.py": HEAD + "from base import BaseTrainer\n" + sub})
    assert _found(cli, tmp_path) == []


ABC_HEAD = HEAD + "import abc\nimport typing\nfrom abc import ABC, ABCMeta\nfrom typing import Generic, TypeVar\nT = TypeVar('T')\n"


@pytest.mark.parametrize("bases", ["(ABC)", "(abc.ABC)", "(Generic[T])", "(typing.Generic[T])", "(ABC, Generic[T])",
                                   "(object, metaclass=ABCMeta)"])
def test_an_abstract_or_generic_base_is_looked_through(cli, tmp_path, bases):
    """`ABC` and `Generic[T]` give the instances no methods: the base's own are read, in one file and
    across files."""
    base, sub = _sources("inherited", bases)
    src = ABC_HEAD + base + "\n" + sub
    assert _fz201(src) == [_row(src, "self.model.train()")]
    sub = ABC_HEAD + "from base import BaseTrainer\n" + sub
    _project(tmp_path, {"base.py": ABC_HEAD + base, "sub.py": sub})
    assert _found(cli, tmp_path) == [("sub.py", _row(sub, "m.eval()"))]


@pytest.mark.parametrize("bases", ["(ABC, transformers.Trainer)", "(Generic[T], Trainer)"])
def test_an_abstract_base_beside_a_library_base_is_not_read(cli, tmp_path, bases):
    """The library base beside `ABC` has methods of its own, not read: silent."""
    base, sub = _sources("inherited", bases)
    head = ABC_HEAD + "import transformers\nfrom somewhere import Trainer\n"
    assert _fz201(head + base + "\n" + sub) == []
    _project(tmp_path, {"base.py": head + base, "sub.py": HEAD + "from base import BaseTrainer\n" + sub})
    assert _found(cli, tmp_path) == []


def test_a_subclass_naming_abc_beside_its_project_base_is_read():
    """`class MyTrainer(BaseTrainer, ABC)`: its one project base is read."""
    base, sub = _sources("inherited")
    src = ABC_HEAD + base + "\n" + sub.replace("(BaseTrainer)", "(BaseTrainer, ABC)")
    assert _fz201(src) == [_row(src, "self.model.train()")]


# A hook the base runs before training: `fit` calls `self.on_epoch_start()` and then trains `self.model`;
# the subclass's override of the hook puts the model back in train mode.
HOOK_BASE = """
class BaseTrainer{bases}:
    def __init__(self, cfg):
        self.cfg = cfg

    def fit(self, loader):
        for epoch in range(3):
            {start}
            {between}
            for x in loader:
                self.optimizer.zero_grad()
                self.model(x).mean().backward()
                self.optimizer.step()
            {end}

    def on_epoch_start(self):
        pass

    def freeze_bn(self):
        self.model.apply(set_bn_eval)

    def log(self):
        print('epoch')
"""
HOOK = "    def on_epoch_start(self):\n        self.model.train()\n"
START = "self.on_epoch_start()"
# name: (the subclass's methods, the base's call before training, between it and training, after training,
# whether the subclass froze BatchNorm, fires (same file, other file))
HOOK_CASES = {
    "hook_trains": (HOOK, START, "pass", "pass", True, (True, True)),
    "hook_trains_and_logs": ("    def on_epoch_start(self):\n        print('epoch')\n        self.model.train()\n",
                             START, "pass", "pass", True, (True, True)),
    # near-misses
    "hook_refreezes_after": (HOOK + "        self.model.apply(set_bn_eval)\n", START, "pass", "pass", True,
                             (False, False)),
    "hook_calls_freeze_bn_after": (HOOK + "        self.freeze_bn()\n", START, "pass", "pass", True, (False, False)),
    "base_refreezes_between": (HOOK, START, "self.model.apply(set_bn_eval)", "pass", True, (False, False)),
    "base_freeze_method_between": (HOOK, START, "self.freeze_bn()", "pass", True, (False, False)),
    "base_evals_between": (HOOK, START, "self.model.eval()", "pass", True, (False, False)),
    # another method of self between: a subclass may override it to re-freeze, which the base's summary
    # does not know (its own is read in one file)
    # after training in the epoch loop: the next epoch trains after it, which the base's summary does not
    # record (it names hooks training follows in the method's order)
    "epoch_end_hook": (HOOK, "pass", "pass", START, True, (True, False)),
    "never_froze": (HOOK, START, "pass", "pass", False, (False, False)),
    "hook_trains_another": ("    def on_epoch_start(self):\n        self.teacher.train()\n", START, "pass", "pass",
                            True, (False, False)),
    "hook_train_mode": ("    def on_epoch_start(self):\n        self.model.train(self.mode)\n", START, "pass", "pass",
                        True, (False, False)),
    # the subclass's own fit runs instead of the base's
    "own_fit": (HOOK + "    def fit(self, loader):\n        pass\n", START, "pass", "pass", True, (False, False)),
    "base_logs_between": (HOOK, START, "self.log()", "pass", True, (True, False)),
}


def _hook_sources(case: str, bases: str = "") -> tuple[str, str]:
    methods, start, between, end, froze, _ = HOOK_CASES[case]
    sub = SUB.format(base="BaseTrainer", before="super().__init__(cfg)", after="self.teacher = nn.Linear(2, 2)",
                     methods=methods)
    if not froze:
        sub = sub.replace("        for m in self.model.modules():\n            if isinstance(m, nn.BatchNorm2d):\n"
                          "                m.eval()\n", "")
    return HOOK_BASE.format(bases=bases, start=start, between=between, end=end), sub


@pytest.mark.parametrize("case", HOOK_CASES)
def test_a_hook_override_the_base_runs_before_training_in_one_file(case):
    """Reported at the base's call of the hook (the method's own train() it runs)."""
    base, sub = _hook_sources(case)
    src = HEAD + base + "\n" + sub
    compile(src, "x.py", "exec")
    assert _fz201(src) == ([_row(src, START)] if HOOK_CASES[case][5][0] else [])


@pytest.mark.parametrize("bases", ["", "(ABC)"])
@pytest.mark.parametrize("case", HOOK_CASES)
def test_a_hook_override_the_base_runs_before_training_across_files(cli, tmp_path, case, bases):
    """Reported at the override's train(), a line of the subclass's file, from the base's summary
    ("then": the hooks it calls that training follows)."""
    base, sub = _hook_sources(case, bases)
    sub = ABC_HEAD + "from base import BaseTrainer\n" + sub
    _project(tmp_path, {"base.py": ABC_HEAD + base, "sub.py": sub})
    assert _found(cli, tmp_path) == ([("sub.py", _row(sub, "self.model.train()"))] if HOOK_CASES[case][5][1] else [])


def test_the_message_of_a_hook_override_names_the_base_method_that_runs_it(cli, tmp_path):
    base, sub = _hook_sources("hook_trains")
    sub = HEAD + "from base import BaseTrainer\n" + sub
    _project(tmp_path, {"base.py": HEAD + base, "sub.py": sub})
    r = cli(tmp_path, "check", "--format", "json", ".")
    [message] = [d["message"] for d in json.loads(r.out)]
    call = _row(HEAD + base, START)
    assert message == ("`self.model.train()` in MyTrainer.on_epoch_start() puts the BatchNorm layers of `self.model` "
                       "that MyTrainer.__init__ froze with .eval() back into training mode, and the `fit` it inherits "
                       f"from `BaseTrainer` (base.py) calls `self.on_epoch_start()` at line {call} and then trains "
                       "`self.model`, so their running statistics move again; re-apply the freeze in `on_epoch_start` "
                       "right after that train()")


def test_a_base_that_starts_to_call_the_hook_before_training_is_read_again(cli, tmp_path):
    """The cached result of the subclass's file depends on the base's summary: a hook call added
    before training (the base's text still names no train()) reports the override."""
    base, sub = _hook_sources("epoch_end_hook")
    sub = HEAD + "from base import BaseTrainer\n" + sub
    _project(tmp_path, {"base.py": HEAD + base, "sub.py": sub})
    assert _found(cli, tmp_path) == []
    base, _ = _hook_sources("hook_trains")
    (tmp_path / "base.py").write_text(HEAD + base)
    assert _found(cli, tmp_path) == [("sub.py", _row(sub, "self.model.train()"))]
