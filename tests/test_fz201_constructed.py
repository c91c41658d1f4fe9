"""FZ201 for a model whose `__init__` froze BatchNorm through a public method of its class
(`self.freeze_bn()`, pytorch-deeplab-xception's DeepLab): no caller can re-apply a constructor,
but a caller can call the method again, so the class is not reported; the train() sites that
follow the construction without that re-freeze are, in the code that built the model and in the
methods of a trainer that holds it (`self.model = DeepLab()`)."""

from __future__ import annotations

import textwrap

import pytest

from freezelint import codes
from freezelint.check.engine import check_text

ALL_STATIC = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)


def _fz201(src: str) -> list[int]:
    found = check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
    return [d.row for d in found if d.code == "FZ201"]


def _row(src: str, code: str) -> int:
    return next(i for i, line in enumerate(textwrap.dedent(src).splitlines(), 1) if line.strip() == code)


DEEPLAB = """
import torch
import torch.nn as nn


class DeepLab(nn.Module):
    def __init__(self, num_classes=4, freeze_bn=True):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        {init}

    def freeze_bn(self):
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
{override}

model = {build}
for epoch in range(3):
    model.train()
    {refreeze}
    for x in loader:
        model(x).mean().backward()
"""
OVERRIDE = """
    def train(self, mode=True):
        super().train(mode)
        self.freeze_bn()
        return self
"""


@pytest.mark.parametrize("init,build,fires", [
    ("self.freeze_bn()", "DeepLab()", True),
    ("if freeze_bn:\n            self.freeze_bn()", "DeepLab(freeze_bn=args.freeze_bn)", True),
    ("if freeze_bn:\n            self.freeze_bn()", "DeepLab(4, args.freeze_bn)", True),
    ("if freeze_bn:\n            self.freeze_bn()", "DeepLab()", True),  # the default: on
    ("if freeze_bn:\n            self.freeze_bn()", "DeepLab(freeze_bn=False)", False),  # provably off
    ("if freeze_bn:\n            self.freeze_bn()", "DeepLab(4, False)", False),
    ("self.freeze_bn()", "DeepLab().cuda()", True),
    ("pass", "DeepLab()", False),  # nothing frozen
])
def test_a_freeze_by_a_public_method_in_init_is_undone_where_the_model_trains(init, build, fires):
    src = DEEPLAB.format(init=init, build=build, override="", refreeze="pass")
    assert _fz201(src) == ([_row(src, "model.train()")] if fires else [])


def _messages(src: str) -> list[str]:
    found = check_text(textwrap.dedent(src), "ex.py", ALL_STATIC, force=True).diagnostics
    return [d.message for d in found if d.code == "FZ201"]


@pytest.mark.parametrize("build,when", [
    ("DeepLab(freeze_bn=args.freeze_bn)", " (when `args.freeze_bn` is true) "),
    ("DeepLab(4, args.freeze_bn)", " (when `args.freeze_bn` is true) "),  # by position
    ("DeepLab(freeze_bn=cfg['freeze'])", " (when `cfg['freeze']` is true) "),
    ("DeepLab(freeze_bn=True)", " "),  # on, whatever the run: no condition
    ("DeepLab()", " "),  # the default, on
    ("DeepLab(**cfg)", " "),  # the flag not seen at the call
])
def test_the_message_names_the_flag_the_freeze_depends_on(build, when):
    src = DEEPLAB.format(init="if freeze_bn:\n            self.freeze_bn()", build=build, override="",
                         refreeze="pass")
    [message] = _messages(src)
    assert f"that `DeepLab(...)` froze with .eval(){when}back into training mode" in message


def test_the_flag_off_by_default_is_off_where_the_call_leaves_it_out():
    src = DEEPLAB.format(init="if freeze_bn:\n            self.freeze_bn()", build="DeepLab()", override="",
                         refreeze="pass").replace("freeze_bn=True", "freeze_bn=False")
    assert _fz201(src) == []


@pytest.mark.parametrize("override,refreeze", [
    (OVERRIDE, "pass"),  # the class re-freezes in its own train()
    ("", "model.freeze_bn()"),  # the loop re-freezes after every train()
])
def test_re_frozen_after_train_is_silent(override, refreeze):
    assert _fz201(DEEPLAB.format(init="self.freeze_bn()", build="DeepLab()", override=override,
                                 refreeze=refreeze)) == []


# pytorch-deeplab-xception's DeepLab: `freeze_bn` off by default, applied in __init__ through the method
DEEPLAB_CLASS = """\
class DeepLab(nn.Module):
    def __init__(self, num_classes=21, freeze_bn=False):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        if freeze_bn:
            self.freeze_bn()

    def freeze_bn(self):
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
"""
MODEL_FILE = "import torch.nn as nn\n\n\n" + DEEPLAB_CLASS
TRAINER = "\nimport torch\nimport torch.nn as nn\n\n\n" + DEEPLAB_CLASS + """

class Trainer{bases}:
    def __init__(self, args):
        self.model = DeepLab(freeze_bn=args.freeze_bn)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)

    def training(self, loader):
        self.model.train()
        {refreeze}
        for x in loader:
            self.optimizer.zero_grad()
            self.model(x).mean().backward()
            self.optimizer.step()

    def validation(self, loader):
        self.model.eval()
        for x in loader:
            self.model(x)
"""


@pytest.mark.parametrize("bases,refreeze,fires", [
    ("", "pass", True),  # jfzhang95/pytorch-deeplab-xception's train.py
    ("(object)", "pass", True),
    ("", "self.model.freeze_bn()", False),
    ("", "self.model.module.freeze_bn()", False),  # not read through DataParallel: the name is enough
    ("", "self.refreeze()", False),  # another method of the trainer: it may re-freeze
    ("", "hooks.after_train(self)", False),  # the trainer handed on
    ("", "self.callbacks.on_train_start(self.model)", False),  # the model handed to an object the trainer holds
    ("", "self.logger.info(self.model.training)", True),  # not the model itself
    ("(BaseTrainer)", "pass", False),  # a base that is no project class (not defined, not imported): not read
])
def test_a_trainer_that_holds_the_model(bases, refreeze, fires):
    src = TRAINER.format(bases=bases, refreeze=refreeze)
    if "refreeze()" in refreeze:
        src += "\n    def refreeze(self):\n        self.model.freeze_bn()\n"
    assert _fz201(src) == ([_row(src, "self.model.train()")] if fires else [])


@pytest.mark.parametrize("build,refreeze,fires", [
    ("DeepLab(freeze_bn=args.freeze_bn)", "pass", True),
    ("DeepLab(21, True)", "pass", True),
    ("DeepLab()", "pass", False),  # off by default
    ("DeepLab(freeze_bn=False)", "pass", False),
    ("DeepLab(freeze_bn=True)", "model.freeze_bn()", False),
])
def test_a_model_class_of_another_file(cli, tmp_path, build, refreeze, fires):
    import json
    from pathlib import Path

    from freezelint.check.summaries import summarise_text

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "model.py").write_text(MODEL_FILE)
    (tmp_path / "train.py").write_text(
        f"from model import DeepLab\n\nmodel = {build}\nfor epoch in range(2):\n    model.train()\n"
        f"    {refreeze}\n    for x in loader:\n        model(x).sum().backward(); opt.step()\n")
    r = cli(tmp_path, "check", "--format", "json", ".")
    assert r.code in (0, 1), r.err
    found = [(Path(d["filename"]).name, d["location"]["row"], d["code"]) for d in json.loads(r.out)]
    assert found == ([("train.py", 5, "FZ201")] if fires else [])
    assert summarise_text(MODEL_FILE)["classes"]["DeepLab"]["init_bn"] == [
        {"inner": "", "flags": [[1, "freeze_bn", True]]}]


def test_a_trainer_holding_a_model_class_of_another_file(cli, tmp_path):
    import json

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "model.py").write_text(MODEL_FILE)
    (tmp_path / "train.py").write_text(
        "import torch\nfrom model import DeepLab\n\n\nclass Trainer(object):\n    def __init__(self, args):\n"
        "        self.model = DeepLab(num_classes=4, freeze_bn=args.freeze_bn)\n\n    def training(self, loader):\n"
        "        self.model.train()\n        for x in loader:\n            self.model(x).mean().backward()\n")
    r = cli(tmp_path, "check", "--format", "json", ".")
    assert r.code in (0, 1), r.err
    assert [(d["location"]["row"], d["code"]) for d in json.loads(r.out)] == [(10, "FZ201")]


OVERRIDE = "\n    def train(self, mode=True):\n        super().train(mode)\n        self.freeze_bn()\n        return self\n"


def test_a_trainer_holding_a_model_whose_class_refreezes_in_train(cli, tmp_path):
    """The model's class overrides train() to re-apply its freeze: the trainer's
    `self.model.train()` keeps the BatchNorm in eval mode; silent, the class in this file or another."""
    src = TRAINER.format(bases="", refreeze="pass")
    src = src.replace("                m.eval()\n\n\nclass Trainer", "                m.eval()\n" + OVERRIDE + "\n\nclass Trainer")
    assert "def train(self, mode=True)" in src and _fz201(src) == []
    import json

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "model.py").write_text(MODEL_FILE + OVERRIDE)
    (tmp_path / "train.py").write_text(
        "import torch\nfrom model import DeepLab\n\n\nclass Trainer(object):\n    def __init__(self, args):\n"
        "        self.model = DeepLab(num_classes=4, freeze_bn=args.freeze_bn)\n\n    def training(self, loader):\n"
        "        self.model.train()\n        for x in loader:\n            self.model(x).mean().backward()\n")
    r = cli(tmp_path, "check", "--format", "json", ".")
    assert r.code in (0, 1), r.err
    assert json.loads(r.out) == []


# jfzhang95's Trainer.__init__ as written: built into locals, stored by tuple assignment, then wrapped
STORED = """
        model = DeepLab(num_classes=4, freeze_bn={flag})
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        {store}
        if args.cuda:
            self.model = torch.nn.DataParallel(self.model)
            self.model = self.model.cuda()
"""


@pytest.mark.parametrize("flag,store,fires", [
    ("args.freeze_bn", "self.model, self.optimizer = model, optimizer", True),
    ("args.freeze_bn", "self.model = model\n        self.optimizer = optimizer", True),
    ("args.freeze_bn", "[self.model, self.optimizer] = [model, optimizer]", True),
    ("False", "self.model, self.optimizer = model, optimizer", False),  # provably off
    ("args.freeze_bn", "self.model, self.optimizer = Other(), optimizer", False),  # another model held
    ("args.freeze_bn", "model = DeepLab(num_classes=4)\n        self.model, self.optimizer = model, optimizer",
     False),  # the local rebound to a new model (the flag off by default) before it is stored
    ("args.freeze_bn", "self.model, self.optimizer = model, optimizer\n        self.model = nn.Sequential(nn.Conv2d(3, 8, 3))",
     False),  # the trainer's model replaced with a new one in __init__
])
def test_a_trainer_that_stores_the_model_from_a_local(flag, store, fires):
    src = TRAINER.format(bases="", refreeze="pass")
    init = "        self.model = DeepLab(freeze_bn=args.freeze_bn)\n        self.optimizer = torch.optim.SGD(" \
           "self.model.parameters(), lr=0.1)\n"
    assert init in src
    src = src.replace(init, STORED.format(flag=flag, store=store).lstrip("\n"))
    assert _fz201(src) == ([_row(src, "self.model.train()")] if fires else [])


@pytest.mark.parametrize("build,call,fires", [
    ("DeepLab()", "self.model.freeze_bn()", True),  # a class of the file: its method freezes BatchNorm
    ("build_model(args)", "self.model.freeze_bn()", True),  # class not known: a BatchNorm freeze by its name
    ("build_model(args)", "self.model.fix_bn()", True),
    ("build_model(args)", "self.model.init_weights()", False),  # no freeze by its name
    ("DeepLab()", "self.model.init_weights()", False),
    ("build_model(args)", "print(self.model)", False),
])
def test_a_freeze_method_called_on_the_held_model_in_init(build, call, fires):
    src = TRAINER.format(bases="", refreeze="pass").replace("import torch\n", "import torch\nfrom zoo import build_model\n")
    src = src.replace("self.model = DeepLab(freeze_bn=args.freeze_bn)\n",
                      f"model = {build}\n        self.model, self.optimizer = model, None\n        {call}\n")
    assert _fz201(src) == ([_row(src, "self.model.train()")] if fires else [])


def test_a_trainer_storing_a_model_class_of_another_file_by_tuple(cli, tmp_path):
    import json

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "model.py").write_text(MODEL_FILE)
    (tmp_path / "train.py").write_text(
        "import torch\nfrom model import DeepLab\n\n\nclass Trainer(object):\n    def __init__(self, args):\n"
        + STORED.format(flag="args.freeze_bn", store="self.model, self.optimizer = model, optimizer").lstrip("\n")
        + "\n    def training(self, loader):\n        self.model.train()\n        for x in loader:\n"
        "            self.model(x).mean().backward()\n")
    r = cli(tmp_path, "check", "--format", "json", ".")
    assert r.code in (0, 1), r.err
    assert [(d["location"]["row"], d["code"]) for d in json.loads(r.out)] == [(15, "FZ201")]


@pytest.mark.parametrize("imports,fires", [
    ("from model import *", True),  # jfzhang95's `from modeling.deeplab import *`
    ("from model import DeepLab", True),
    ("from model import *\nfrom zoo import *", True),  # not a project module: nothing of it bound
    ("from model import *\nfrom zoo import DeepLab", False),  # bound by name: not the project's class
    ("from zoo import *", False),
])
def test_a_trainer_in_a_file_that_star_imports_the_model_class(cli, tmp_path, imports, fires):
    import json

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "model.py").write_text(MODEL_FILE)
    (tmp_path / "train.py").write_text(
        f"import torch\n{imports}\n\n\nclass Trainer(object):\n    def __init__(self, args):\n"
        + STORED.format(flag="args.freeze_bn", store="self.model, self.optimizer = model, optimizer").lstrip("\n")
        + "\n    def training(self, loader):\n        self.model.train()\n        for x in loader:\n"
        "            self.model(x).mean().backward()\n")
    r = cli(tmp_path, "check", "--format", "json", ".")
    assert r.code in (0, 1), r.err
    row = 15 + imports.count("\n")
    assert [(d["location"]["row"], d["code"]) for d in json.loads(r.out)] == ([(row, "FZ201")] if fires else [])


def test_a_cached_result_follows_what_a_star_imported_module_comes_to_define(cli, tmp_path):
    # train.py calls DeepLab, which model.py does not define at first: nothing is bound and nothing
    # found; once model.py defines it, the cached result of train.py is not reused
    import json

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    model = tmp_path / "model.py"
    model.write_text(MODEL_FILE.replace("class DeepLab(", "class DeepLabV3("))
    (tmp_path / "train.py").write_text(
        "import torch\nfrom model import *\n\n\nclass Trainer(object):\n    def __init__(self, args):\n"
        + STORED.format(flag="args.freeze_bn", store="self.model, self.optimizer = model, optimizer").lstrip("\n")
        + "\n    def training(self, loader):\n        self.model.train()\n        for x in loader:\n"
        "            self.model(x).mean().backward()\n")
    cache = ["--cache-dir", str(tmp_path / ".cache")]

    def found() -> list[tuple[str, int, str]]:
        r = cli(tmp_path, "check", *cache, "--format", "json", "train.py")
        assert r.code in (0, 1), r.err
        return [(d["filename"], d["location"]["row"], d["code"]) for d in json.loads(r.out)]

    assert found() == [] and found() == []  # cold, then warm
    model.write_text(MODEL_FILE)
    assert [(row, code) for _, row, code in found()] == [(15, "FZ201")]


def test_star_imports_bind_only_names_the_file_calls_and_binds_nowhere():
    import libcst as cst

    from freezelint.check.facts import Facts

    facts = Facts.of(cst.parse_module(
        "from a import *\nfrom .b import *\nfrom c import Net\n\nmodel = Net()\nhead = Head(2)\nprint(model)\n"
        "def f(Local):\n    return Local()\n"))
    facts.bind_star_imports(lambda q: q if q in ("a.Head", ".b.Head", "a.Net") else None)
    bound = facts.module_scope.bindings
    assert [b.qualname for b in bound["Head"]] == [".b.Head"]  # the later star import wins
    assert [b.how for b in bound["Net"]] == ["import"] and bound["Net"][0].qualname == "c.Net"
    assert "print" not in bound and "Local" not in bound  # a builtin; a name no star-imported module defines
