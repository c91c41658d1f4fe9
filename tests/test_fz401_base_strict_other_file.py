"""FZ401 through a method of a base class of ANOTHER project file that loads with its `strict`
parameter and drops the result: `class Base:` in models/base.py with `def load(self, path,
strict=False): self.net.load_state_dict(torch.load(path), strict=strict)`, and `class
Trainer(Base)` in train.py calling `self.load(path)` (the default, False) or `self.load(path,
strict=False)`. Followed through the project's summaries ("strict_arg" of the class's method);
within one file, a False default is read the same way."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from freezelint.check.engine import check_source

from conftest import write

BASE = """
import torch


class Base:
    def load(self, path, strict=False):
        self.net.load_state_dict(torch.load(path), strict=strict)
"""

TRAINER = """
import torch.nn as nn

from models.base import Base


class Trainer(Base):
    def __init__(self, path):
        self.net = nn.Linear(2, 2)
        self.load(path)
        self.load(path, strict=False)
        self.load(path, strict=True)
        self.load(path, True)
"""

DEFAULT = ("`self.load(...)` runs `load_state_dict(..., strict=strict)` with `strict` left at its default, False, "
           "and drops its missing and unexpected keys (models/base.py:6): if no key matches (a key prefix that "
           "differs, added or stripped: `module.`, `backbone.`), nothing is loaded and nothing says so; check the "
           "keys, or return them and check "
           "them here")


def _project(root: Path, base: str = BASE, trainer: str = TRAINER) -> Path:
    write(root / "pyproject.toml", "")
    write(root / "models" / "__init__.py", "")
    write(root / "models" / "base.py", base)
    write(root / "train.py", trainer)
    return root


def _found(cli, root: Path, *args: str) -> list[tuple[str, int, str]]:
    r = cli(root, "check", "--format", "json", "--select", "FZ401", *args)
    assert r.code in (0, 1), r.err
    return [(Path(d["filename"]).as_posix(), d["location"]["row"], d["message"]) for d in json.loads(r.out)]


def test_the_base_of_another_file_is_followed(cli, tmp_path):
    found = _found(cli, _project(tmp_path / "p"), "--no-cache", ".")
    assert [(f, row) for f, row, _ in found] == [("train.py", 9), ("train.py", 10)]
    assert found[0][2] == DEFAULT
    assert found[1][2].startswith("`self.load(..., strict=False)` runs `load_state_dict(..., strict=strict)` and "
                                  "drops its missing and unexpected keys (models/base.py:6)")


def test_without_strict_false_in_the_subclass_it_is_admitted_through_the_project(cli, tmp_path):
    trainer = TRAINER.replace("        self.load(path, strict=False)\n", "")
    assert "strict=False" not in trainer and "load_state_dict" not in trainer
    found = _found(cli, _project(tmp_path / "p", trainer=trainer), "--no-cache", "train.py")
    assert [(f, row) for f, row, _ in found] == [("train.py", 9)]


def test_a_base_through_a_middle_class_of_a_third_file(cli, tmp_path):
    root = _project(tmp_path / "p", trainer=TRAINER.replace("from models.base import Base", "from models.mid import Base"))
    write(root / "models" / "mid.py", "from models.base import Base as Root\n\n\nclass Base(Root):\n    pass\n")
    assert [(f, row) for f, row, _ in _found(cli, root, "--no-cache", ".")] == [("train.py", 9), ("train.py", 10)]


CHECKED = ("        result = self.net.load_state_dict(torch.load(path), strict=strict)\n"
           "        assert not result.unexpected_keys, result")


def test_a_base_that_checks_the_result_is_silent(cli, tmp_path):
    base = BASE.replace("        self.net.load_state_dict(torch.load(path), strict=strict)", CHECKED)
    assert _found(cli, _project(tmp_path / "p", base=base), "--no-cache", ".") == []


def test_a_base_that_returns_the_result_is_reported_where_the_caller_drops_it(cli, tmp_path):
    base = BASE.replace("        self.net.load_state_dict", "        return self.net.load_state_dict")
    found = _found(cli, _project(tmp_path / "p", base=base), "--no-cache", ".")
    assert [(f, row) for f, row, _ in found] == [("train.py", 9), ("train.py", 10)]
    assert found[0][2].startswith(
        "`self.load(...)` runs `load_state_dict(..., strict=strict)` with `strict` left at its default, False, "
        "and returns its missing and unexpected keys (models/base.py:6); this call drops them")


def test_a_strict_default_is_reported_only_where_false_is_passed(cli, tmp_path):
    base = BASE.replace("strict=False):", "strict=True):")
    found = _found(cli, _project(tmp_path / "p", base=base), "--no-cache", ".")
    assert [(f, row) for f, row, _ in found] == [("train.py", 10)]


def test_a_cached_finding_follows_the_base(cli, tmp_path):
    root = _project(tmp_path / "p")
    assert len(_found(cli, root, ".")) == 2
    base = root / "models" / "base.py"
    base.write_text(BASE.replace("        self.net.load_state_dict(torch.load(path), strict=strict)", CHECKED))
    assert _found(cli, root, ".") == []
    base.write_text(BASE)
    assert len(_found(cli, root, ".")) == 2


def test_one_file_a_false_default_is_the_same_drop():
    source = textwrap.dedent(BASE + TRAINER.replace("from models.base import Base", "")).lstrip()
    rows = [d.row for d in check_source(source, "train.py", select=["FZ401"])]
    assert rows == [16, 17]


def test_the_keys_are_what_the_call_drops_with_torch():
    """What the message says, shown with torch: a checkpoint with a prefix loads nothing under
    `strict=False`, raises nothing, and only the result the base drops names the keys."""
    torch = pytest.importorskip("torch")
    net = torch.nn.Linear(2, 2)
    before = net.weight.detach().clone()
    sd = {f"module.{k}": torch.zeros_like(v) for k, v in net.state_dict().items()}
    result = net.load_state_dict(sd, strict=False)
    assert torch.equal(net.weight, before)
    assert sorted(result.missing_keys) == ["bias", "weight"] and len(result.unexpected_keys) == 2


def test_a_call_that_may_pass_strict_by_star_is_silent():
    source = textwrap.dedent('''
        import torch
        import torch.nn as nn


        class Base:
            def load(self, path, verbose=True, strict=False):
                self.net.load_state_dict(torch.load(path), strict=strict)


        class Trainer(Base):
            def __init__(self, path, *args, **kw):
                self.net = nn.Linear(2, 2)
                self.load(path, verbose=False, **kw)  # `**kw` may pass strict
                self.load(path, *args)  # so may `*args`
                self.load(path, False)  # verbose=False: strict left at its default
    ''').lstrip()
    assert [d.row for d in check_source(source, "train.py", select=["FZ401"])] == [15]
