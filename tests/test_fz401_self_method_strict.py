"""FZ401 through a method of the caller's own class that loads with its `strict` parameter and
drops the result: `self.load_checkpoint(config, path, strict=False)` (coqui-tts's GPTTrainer,
trial 34) is the same dropped partial load as the plain function `load_checkpoint(model, path,
strict=False)`. Followed to the method the class defines, or the first of its bases of the same
file that does; not through a base of another file."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

METHOD = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, path):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.load_weights(path, strict=False)

    def load_weights(self, path, strict=True):
        self.load_state_dict(torch.load(path), strict=strict)
"""


def _fz401(src: str) -> list:
    return check_source(textwrap.dedent(src).lstrip("\n"), "model.py", select=["FZ401"])


def test_a_self_method_given_strict_false_is_reported_at_the_call():
    found = _fz401(METHOD)
    assert [d.row for d in found] == [9]
    assert found[0].message == (
        "`self.load_weights(..., strict=False)` runs `load_state_dict(..., strict=strict)` and drops its missing "
        "and unexpected keys (line 12): if no key matches (a key prefix that differs, added or stripped: "
        "`module.`, `backbone.`), nothing is loaded "
        "and nothing says so; check the keys, or return them and check them here")


def test_the_method_given_strict_false_loads_nothing_from_prefixed_keys(tmp_path):
    """What the call risks, run on the class itself: a `module.` prefix loads nothing, silently."""
    torch = pytest.importorskip("torch")
    namespace: dict = {}
    exec(compile(textwrap.dedent(METHOD), "model.py", "exec"), namespace)
    Net = namespace["Net"]
    source = torch.nn.Linear(4, 4)
    torch.save({f"module.fc.{k}": torch.ones_like(v) for k, v in source.state_dict().items()}, tmp_path / "ckpt.pt")
    torch.manual_seed(0)
    net = Net(tmp_path / "ckpt.pt")
    torch.manual_seed(0)
    assert torch.equal(net.fc.weight, torch.nn.Linear(4, 4).weight)  # still its random init
    with pytest.raises(RuntimeError, match="Missing key"):
        net.load_weights(tmp_path / "ckpt.pt")


# coqui-tts's GPTTrainer: the method spread over lines, `strict` keyword-only, the load on a part of self
COQUI = """
import torch.nn as nn


class GPTTrainer(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.xtts = nn.Linear(4, 4)
        if args.xtts_checkpoint:
            self.load_checkpoint(args, args.xtts_checkpoint, eval=False, strict=False)

    def load_checkpoint(
        self,
        config,
        checkpoint_path,
        *,
        eval: bool = False,
        strict: bool = True,
    ):
        state = self.xtts.get_compatible_checkpoint_state_dict(checkpoint_path)
        self.xtts.load_state_dict(state, strict=strict)
        if eval:
            self.eval()
"""


# the method defined by a base class of the same file, not by Net
BASE_OF_THE_FILE = """
import torch
import torch.nn as nn
from .bases import Imported


class Loader(nn.Module):
    def load_weights(self, path, strict=True):
        self.load_state_dict(torch.load(path), strict=strict)


class Net({bases}):
    def __init__(self, path):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.load_weights(path, strict=False)
"""


@pytest.mark.parametrize("src, rows", [
    (COQUI, [9]),
    # by position, in a file that says strict=False
    (METHOD.replace("self.load_weights(path, strict=False)", "self.load_weights(path, False)\n"
                    "        self.load_weights(path, strict=False)"), [9, 10]),
    # defined by a base class of the same file
    (BASE_OF_THE_FILE.format(bases="Loader"), [15]),
    # a staticmethod called through self: no receiver before its parameters
    ("""
import torch

class Runner:
    def setup(self, model, path):
        self.load(model, path, False)

    @staticmethod
    def load(model, path, strict=True):
        model.load_state_dict(torch.load(path, weights_only=True), strict=strict)

    def other(self, model, path):
        self.load(model, path, strict=False)
""", [5, 12]),
])
def test_forms_of_the_self_method_are_reported(src, rows):
    assert [d.row for d in _fz401(src)] == rows


@pytest.mark.parametrize("src", [
    # the method checks the keys itself
    METHOD.replace("        self.load_state_dict(torch.load(path), strict=strict)",
                   "        result = self.load_state_dict(torch.load(path), strict=strict)\n"
                   "        assert not result.unexpected_keys, result"),
    # the method hands the keys back and the caller checks them
    METHOD.replace("        self.load_weights(path, strict=False)",
                   "        result = self.load_weights(path, strict=False)\n"
                   "        assert not result.unexpected_keys, result").replace(
        "        self.load_state_dict(torch.load(path), strict=strict)",
        "        return self.load_state_dict(torch.load(path), strict=strict)"),
    # strict given True, or not given
    METHOD.replace("strict=False)", "strict=True)"),
    METHOD.replace("self.load_weights(path, strict=False)", "self.load_weights(path)\n        x = dict(strict=False)"),
    # a method of another object, not of self
    METHOD.replace("self.load_weights(path, strict=False)", "nn.Identity().load_weights(path, strict=False)"),
    # `self.load_weights` is an attribute the class assigns, not the method
    METHOD.replace("        self.fc = nn.Linear(4, 4)\n",
                   "        self.fc = nn.Linear(4, 4)\n        self.load_weights = print\n"),
    # the method's strict is rebound before the load
    METHOD.replace("        self.load_state_dict(torch.load(path), strict=strict)",
                   "        strict = strict and path.endswith('.pt')\n"
                   "        self.load_state_dict(torch.load(path), strict=strict)"),
])
def test_near_misses_of_the_self_method_are_silent(src):
    assert _fz401(src) == []


def test_a_base_of_another_file_before_the_one_that_defines_it_stays_silent():
    """`class Net(Imported, Loader)`: the imported base comes first and may define the method itself."""
    assert [d.row for d in _fz401(BASE_OF_THE_FILE.format(bases="Loader, Imported"))] == [15]
    assert _fz401(BASE_OF_THE_FILE.format(bases="Imported, Loader")) == []
    # nor where it comes first through a base of the file that defines no such method
    between = BASE_OF_THE_FILE.replace("class Net(", "class Mixin(Imported):\n    pass\n\n\nclass Net(")
    assert _fz401(between.format(bases="Mixin, Loader")) == []
    assert [d.row for d in _fz401(between.format(bases="Loader, Mixin"))] == [19]
