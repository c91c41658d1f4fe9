"""The project layer reads another file's functions and classes as whole blocks, also where a
signature spans several lines, black's form (`def f(\n    net, path, strict=True\n):`): the `)`
at column 0 does not end the block. Trial 34: pyiqa's arch_util.py `load_pretrained_network`,
called with `strict=False` from metaiqa_arch.py, was followed only with its def on one line; and a
class whose bases span lines (`class Net(\n    BaseModel\n):`) was summarised as if it had none."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import write

PROJECTS = Path(__file__).parent / "projects"
EXPECT = re.compile(r"#\s*expect:\s*(FZ\d{3})")
# a top-level `def` or `class` whose arguments (or bases) fit on its line
_ONE_LINE_SIGNATURE = re.compile(r"^((?:async )?(?:def|class) \w+)\(([^()\n]+)\)(\s*(?:->\s*[^:\n]+)?):", re.M)

MULTILINE_HELPER = """
import torch


def load_pretrained_network(
    net, model_path, strict=True
):
    state_dict = torch.load(model_path, map_location="cpu")
    net.load_state_dict(state_dict, strict=strict)
"""

CALLER = """
import torch.nn as nn
from {module} import load_pretrained_network


class Net(nn.Module):
    def __init__(self, path):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        load_pretrained_network(self, path, strict={strict})
"""


def _explode(text: str) -> str:
    """Each top-level signature spread over three lines, its `)` at column 0."""
    return _ONE_LINE_SIGNATURE.sub(lambda m: f"{m.group(1)}(\n    {m.group(2)}\n){m.group(3)}:", text)


def _found(cli, root: Path, *args: str) -> list[tuple[str, int, str]]:
    r = cli(root, "check", "--no-cache", "--format", "json", *args, ".")
    assert r.code in (0, 1), r.err
    return sorted((Path(d["filename"]).as_posix(), d["location"]["row"], d["code"]) for d in json.loads(r.out))


def _project(tmp_path: Path, helper: str, strict: str = "False") -> Path:
    root = tmp_path / "proj"
    write(root / "pyproject.toml", "")
    write(root / "mypkg" / "__init__.py", "")
    write(root / "mypkg" / "util.py", helper)
    write(root / "mypkg" / "arch.py", CALLER.format(module="mypkg.util", strict=strict))
    write(root / "mypkg" / "arch_rel.py", CALLER.format(module=".util", strict=strict))
    return root


def test_strict_false_through_a_multiline_def_of_another_file_is_reported_at_each_caller(cli, tmp_path):
    root = _project(tmp_path, MULTILINE_HELPER)
    r = cli(root, "check", "--no-cache", "--format", "json", "--select", "FZ401", ".")
    found = json.loads(r.out)
    assert sorted((Path(d["filename"]).as_posix(), d["location"]["row"]) for d in found) == [
        ("mypkg/arch.py", 9), ("mypkg/arch_rel.py", 9)]
    assert all(d["message"].startswith(
        "`load_pretrained_network(..., strict=False)` runs `load_state_dict(..., strict=strict)` and drops its "
        "missing and unexpected keys (mypkg/util.py:8)") for d in found)


@pytest.mark.parametrize("helper, strict", [
    # the helper checks the keys itself
    (MULTILINE_HELPER.replace("    net.load_state_dict(state_dict, strict=strict)",
                              "    result = net.load_state_dict(state_dict, strict=strict)\n"
                              "    assert not result.unexpected_keys, result"), "False"),
    # the callers load strictly
    (MULTILINE_HELPER, "True"),
])
def test_near_misses_through_a_multiline_def_are_silent(cli, tmp_path, helper, strict):
    root = _project(tmp_path, helper, strict)
    assert _found(cli, root, "--select", "FZ401") == []


def test_the_multiline_helper_given_strict_false_loads_nothing_from_prefixed_keys(tmp_path):
    """What the callers risk, run on the helper's own text: a `module.` prefix loads nothing, silently."""
    torch = pytest.importorskip("torch")
    helper = write(tmp_path / "util.py", MULTILINE_HELPER)
    spec = importlib.util.spec_from_file_location("multiline_util", helper)
    util = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(util)
    net = torch.nn.Linear(4, 4)
    before = net.weight.detach().clone()
    torch.save({f"module.{k}": torch.ones_like(v) for k, v in net.state_dict().items()}, tmp_path / "ckpt.pt")
    assert util.load_pretrained_network(net, tmp_path / "ckpt.pt", strict=False) is None
    assert torch.equal(net.weight, before)


def test_a_returned_load_of_a_multiline_def_or_class_of_another_file_is_reported(cli, tmp_path):
    root = tmp_path / "proj"
    write(root / "pyproject.toml", "")
    write(root / "pkg" / "__init__.py", "")
    write(root / "pkg" / "util.py", """
import torch
import torch.nn as nn


def load_ret(
    net, path
):
    msg = net.load_state_dict(torch.load(path), strict=False)
    return msg


class Base(
    nn.Module
):
    def load_from_pretrained(self, path):
        msg = self.load_state_dict(torch.load(path), strict=False)
        return msg
""")
    write(root / "pkg" / "use.py", """
import torch.nn as nn
from pkg.util import Base, load_ret


class Model(Base):
    def __init__(self, path):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.load_from_pretrained(path)


def main(path):
    net = nn.Linear(4, 4)
    load_ret(net, path)
    print(load_ret(net, path))
""")
    assert _found(cli, root, "--select", "FZ401") == [("pkg/use.py", 9, "FZ401"), ("pkg/use.py", 14, "FZ401")]


def _expected(root: Path) -> list[tuple[str, int, str]]:
    out = []
    for f in sorted(root.rglob("*.py")):
        for i, line in enumerate(f.read_text().splitlines(), 1):
            out.extend((f.relative_to(root).as_posix(), i, code) for code in EXPECT.findall(line))
    return out


# the fixtures with a top-level signature to spread (trainermethods' classes have no bases)
SPREAD = sorted(p.name for p in PROJECTS.iterdir() if p.is_dir()
                and any(_ONE_LINE_SIGNATURE.search(f.read_text()) for f in p.rglob("*.py")))


@pytest.mark.parametrize("name", SPREAD)
def test_each_fixture_project_with_multiline_signatures_finds_its_marked_lines(cli, tmp_path, name):
    """Every multi-file fixture (test_project.py), each top-level signature spread over lines: the
    same findings, none lost (FZ201 through engine.py's `def train_one_epoch(\n...\n):`) and none
    added (a good twin's block cut at its `):`)."""
    root = tmp_path / name
    shutil.copytree(PROJECTS / name, root)
    for f in root.rglob("*.py"):
        f.write_text(_explode(f.read_text()))
    assert _found(cli, root) == _expected(root)  # the marks move with the lines the signatures gain


STRING_LINES_HELPER = '''
import torch

USAGE = """
def not_a_function(x):
    pass
"""


def load_pretrained_network(net, model_path, strict=True):
    note = """
Loading {path}:
keys that do not match are {what}
""".format(path=model_path, what="kept" if strict else "dropped")
    print(note, 'a line \\
continued at column 0')
    state_dict = torch.load(model_path, map_location="cpu")
    net.load_state_dict(state_dict, strict=strict)
'''


def test_a_multiline_string_with_lines_at_column_0_ends_no_block(cli, tmp_path):
    """A string inside the helper whose lines start at column 0 (a help text, a template) and a
    backslash-continued one: the block goes on to the load; a `def` inside a string is no def."""
    root = _project(tmp_path, STRING_LINES_HELPER)
    found = _found(cli, root, "--select", "FZ401")
    assert found == [("mypkg/arch.py", 9, "FZ401"), ("mypkg/arch_rel.py", 9, "FZ401")]
    assert _found(cli, _project(tmp_path / "strict", STRING_LINES_HELPER, "True"), "--select", "FZ401") == []
