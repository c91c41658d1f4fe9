"""FZ106: `self.training = v` in a class that visibly makes no submodule (botorch's
StratifiedStandardize: buffers only, its own flag flipped around `super().forward(...)`) sets all
that eval() would; silent. Where the class has, or may have, a submodule (a layer stored, a
parameter that may be a Module, a call not known to return a non-Module, a base of another file or a
library's, `add_module`), the flag is still reported. A function of another project file is read by
its return annotation, a dependency of the cached result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from freezelint.check.engine import check_source

from conftest import write

CLASS = """\
import torch
from torch import Tensor, nn
from torch.nn import Module


def remap(values: Tensor) -> "Tensor | None":
    return values


def build(n: int) -> nn.Module:
    return nn.Linear(n, n)


class Standardize(Module):
    def __init__(self, values: Tensor, m: int = 1, scale=2.0):
        super().__init__()
        self.register_buffer("means", torch.zeros(1))
        self.mapping = remap(values)
        self.m = m
        self.scale = scale
        self.names = [nn.Linear(2, 2)]  # a list: registers nothing
{extra}

class Stratified(Standardize):
    def forward(self, y):
        training = self.training
        self.training = False
        out = super().forward(y)
        self.training = training
        return out
"""


def _rows(extra: str = "", base: str = "Module") -> list[int]:
    source = CLASS.format(extra=extra).replace("class Standardize(Module)", f"class Standardize({base})")
    compile(source, "outcome.py", "exec")
    return [d.row for d in check_source(source, "outcome.py", select=["FZ106"])]


def test_buffers_only_is_silent():
    assert _rows() == []


@pytest.mark.parametrize("extra", [
    "        self.fc = nn.Linear(2, 2)",
    "        self.net = build(m)",  # annotated to return a Module
    "        self.thing = torch.compile(nn.Linear(2, 2))",
    "        self.add_module('fc', nn.Linear(2, 2))",
])
def test_a_child_is_reported(extra):
    assert _rows(extra) == [27, 29]


@pytest.mark.parametrize("signature, body", [
    ("encoder", "self.encoder = encoder"),  # no annotation: may be a Module
    ("encoder=None", "self.encoder = encoder"),
    ("layers: 'Sequence[nn.Module]'", "self.layers = layers"),  # may be an nn.ModuleList
    ("n", "self.n = int(n)\n        self.later = make(n)"),  # a call of nothing known
])
def test_a_parameter_or_call_that_may_be_a_module_is_reported(signature, body):
    source = (f"import torch.nn as nn\n\n\nclass M(nn.Module):\n    def __init__(self, {signature}):\n"
              f"        super().__init__()\n        {body}\n\n    def forward(self, y):\n"
              f"        self.training = False\n        return y\n")
    compile(source, "m.py", "exec")
    assert [d.code for d in check_source(source, "m.py", select=["FZ106"])] == ["FZ106"]


def test_a_base_that_may_hold_children_is_reported():
    assert _rows(base="torch.nn.ModuleDict") == [27, 29]  # botorch's ChainedOutcomeTransform's base


HELPERS = """\
from torch import Tensor, nn


def remap(values: Tensor) -> Tensor | None:
    return values
"""

OUTCOME = """\
import torch
from torch import Tensor
from torch.nn import Module

from pkg.helpers import remap


class Stratified(Module):
    def __init__(self, values: Tensor):
        super().__init__()
        self.mapping = remap(values)
        self.register_buffer("means", torch.zeros(1))

    def forward(self, y):
        self.training = False
        return y - self.means
"""


def _found(cli, root: Path, *args: str) -> list[int]:
    r = cli(root, "check", "--format", "json", "--select", "FZ106", *args, ".")
    assert r.code in (0, 1), r.err
    return [d["location"]["row"] for d in json.loads(r.out)]


def test_a_project_function_is_read_by_its_return_annotation(cli, tmp_path):
    root = tmp_path / "p"
    write(root / "pyproject.toml", "")
    write(root / "pkg" / "__init__.py", "")
    write(root / "pkg" / "helpers.py", HELPERS)
    write(root / "outcome.py", OUTCOME)
    assert _found(cli, root) == []
    # the annotation says a Module now: the cached result is stale
    write(root / "pkg" / "helpers.py", HELPERS.replace("-> Tensor | None:", "-> nn.Module:"))
    assert _found(cli, root) == [15]
    assert _found(cli, root, "--no-cache") == [15]


@pytest.mark.parametrize("init, method", [
    ("path: str", "        self.model = torch.load(path, weights_only=False)"),  # a pickled model
    ("name: str", "        self.model = torch.hub.load('pytorch/vision', name)"),
    ("cfg: dict", "        self.encoder = cfg['encoder']"),  # an element of a container
    ("parts: 'list[nn.Module]'", "        self.encoder = parts[0]"),
    ("m: int = 1", "        self.m = m\n\n    def attach(self, encoder):\n        self.encoder = encoder"),
    ("m: int = 1", "        self.m = m\n\n    def setup(self):\n        self.model = build_model()"),
    ("m: int = 1", "        self.m = m\n\n    def attach(self, encoder):\n        enc = encoder\n        self.encoder = enc"),
    ("m: int = 1", "        self.m = m\n\n    def setup(self):\n        model = build_model()\n        self.model = model"),
])
def test_a_child_stored_from_a_load_an_element_or_another_method_is_reported(init, method):
    source = (f"import torch\nimport torch.nn as nn\nfrom mylib import build_model\n\n\nclass M(nn.Module):\n"
              f"    def __init__(self, {init}):\n        super().__init__()\n{method}\n\n"
              f"    def forward(self, y):\n        self.training = False\n        return y\n")
    compile(source, "m.py", "exec")
    assert [d.code for d in check_source(source, "m.py", select=["FZ106"])] == ["FZ106"]


def test_plain_stores_in_other_methods_and_a_tensor_element_stay_silent():
    source = """\
import torch
from torch import Tensor, nn


class Std(nn.Module):
    def __init__(self, values: Tensor, m: int = 1):
        super().__init__()
        self.first = values[0]  # an element of a tensor: a tensor
        self.register_buffer("means", torch.zeros(m))

    def set_scale(self, s: float):
        self.scale = s

    def reset(self):
        self.cache = torch.zeros(3)

    def forward(self, y):
        if self.training:
            self.means = y.mean(0)  # a method of a local value
            stdvs = torch.std(y, 0)
            if y.dim() > 2:
                _, stdvs = self._stats(y)  # unpacked from a method annotated to return tensors
            self.stdvs = stdvs  # a local bound to those
        training = self.training
        self.training = False
        out = y - self.means
        self.training = training
        return out

    def _stats(self, y) -> "tuple[Tensor, Tensor]":
        return y.mean(0), y.std(0)
"""
    compile(source, "m.py", "exec")
    assert check_source(source, "m.py", select=["FZ106"]) == []


@pytest.mark.parametrize("returns", ["tuple[nn.Module, Tensor]", "tuple", "Any"])
def test_an_element_unpacked_from_a_method_that_may_give_a_module_is_reported(returns):
    source = f"""\
import torch
from typing import Any
from torch import Tensor, nn


class M(nn.Module):
    def __init__(self, m: int = 1):
        super().__init__()
        enc, _ = self._parts(m)
        self.enc = enc

    def _parts(self, m) -> "{returns}":
        return nn.Linear(m, m), torch.zeros(m)

    def forward(self, y):
        self.training = False
        return y
"""
    compile(source, "m.py", "exec")
    assert [d.code for d in check_source(source, "m.py", select=["FZ106"])] == ["FZ106"]


# A method other than __init__ storing a parameter without annotation: a Module it may be (transformers'
# `set_input_embeddings(self, new_embeddings)`, a `set_head(self, head)`), a child then; not where the file
# shows it plain: the method uses it as a number, or every call of the method passes a plain value
SETTER = """\
import torch
from torch import Tensor, nn


class Std(nn.Module):
    def __init__(self, values: Tensor):
        super().__init__()
        self.register_buffer("means", values.mean(0))
        self.scale = 1.0

    def {setter}

    def forward(self, y):
        self.training = False
        return (y - self.means) * self.scale
{after}"""


def _setter_rows(setter: str, after: str = "") -> list[int]:
    source = SETTER.format(setter=setter, after=after)
    compile(source, "std.py", "exec")
    return [d.row for d in check_source(source, "std.py", select=["FZ106"])]


@pytest.mark.parametrize("setter, after", [
    ("set_head(self, head):\n        self.head = head", ""),  # nothing shows what it is
    ("set_head(self, head):\n        self.head = head", "\nstd = Std(torch.zeros(3))\nstd.set_head(nn.Linear(3, 3))\n"),
    ("set_scale(self, scale):\n        self.scale = scale", "\nstd = Std(torch.zeros(3))\nstd.set_scale(0.5)\n"
     "std.set_scale(make_scale())\n"),  # one call passes what may be a Module
    ("set_head(self, head):\n        self.head = head\n        self.n = head * 2", ""),  # nn.Sequential * 2 is one
])
def test_a_setter_that_may_store_a_module_makes_a_child(setter, after):
    lines = SETTER.format(setter=setter, after=after).splitlines()
    assert _setter_rows(setter, after) == [lines.index("        self.training = False") + 1]


@pytest.mark.parametrize("setter, after", [
    ("set_scale(self, scale):\n        self.scale = scale", "\nstd = Std(torch.zeros(3))\nstd.set_scale(0.5)\n"),
    ("set_scale(self, scale):\n        self.scale = scale", "\nstd = Std(torch.zeros(3))\nstd.set_scale(torch.ones(3))\n"),
    ("update_num_rays(self, num_rays):\n        self.num_rays = num_rays\n        self.half = num_rays // 2", ""),
    ("set_scale(self, scale):\n        if scale <= 0:\n            raise ValueError(scale)\n        self.scale = scale", ""),
    ("set_scale(self, scale):\n        self.scale = float(scale)", ""),  # a call of a builtin: plain already
])
def test_a_setter_the_file_shows_plain_keeps_the_class_childless(setter, after):
    assert _setter_rows(setter, after) == []
