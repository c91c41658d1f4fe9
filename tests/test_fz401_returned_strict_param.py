"""FZ401 through a method that returns `load_state_dict(..., strict=strict)` with `strict` one of its
parameters (`def load(self, sd, strict=False): return self.load_state_dict(sd, strict=strict)`): the
keys go back to the caller, so a caller that leaves `strict` False (its default, or passed) and drops
what the method returns drops them; one that keeps and reads the result, returns or logs it, is silent."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch

from freezelint.check.engine import check_source

BASE = """
import logging

import torch
import torch.nn as nn

logger = logging.getLogger(__name__)


class Base(nn.Module):
    def load(self, sd, strict={default}):
        return self.load_state_dict(sd, strict=strict)


class Model(Base):
    def __init__(self, sd):
        super().__init__()
        self.fc = nn.Linear(8, 8)
{body}
"""


def _fz401(body: str, default: str = "False") -> list:
    src = BASE.format(default=default, body=textwrap.indent(textwrap.dedent(body), " " * 8))
    return check_source(textwrap.dedent(src).lstrip("\n"), "model.py", select=["FZ401"])


def test_a_caller_that_drops_the_result_of_the_default_false_is_reported():
    found = _fz401("self.load(sd)")
    assert [d.row for d in found] == [18]
    assert found[0].message == (
        "`self.load(...)` runs `load_state_dict(..., strict=strict)` with `strict` left at its default, False, "
        "and returns its missing and unexpected keys (line 11); this call drops them: if no key matches "
        "(a key prefix that differs, added or stripped: `module.`, `backbone.`), nothing is loaded and nothing "
        "says so; check them")


@pytest.mark.parametrize("body, default", [
    ("self.load(sd, strict=False)", "True"),
    ("self.load(sd, False)", "False"),
    ("self.load(sd, strict=False)", "False"),
])
def test_a_caller_that_passes_false_and_drops_the_result_is_reported(body, default):
    found = _fz401(body, default)
    assert [d.row for d in found] == [18]
    assert found[0].message.startswith(
        "`self.load(..., strict=False)` runs `load_state_dict(..., strict=strict)` and returns its missing and "
        "unexpected keys (line 11); this call drops them")


def test_a_result_kept_in_a_name_never_read_is_reported():
    found = _fz401("msg = self.load(sd)")
    assert [d.row for d in found] == [18]
    assert "its result goes to `msg`, never read" in found[0].message


@pytest.mark.parametrize("body, default", [
    ("self.load(sd)", "True"),  # strict: a mismatch raises
    ("self.load(sd, strict=True)", "False"),
    ("msg = self.load(sd)\nassert not msg.unexpected_keys, msg", "False"),
    ("missing, unexpected = self.load(sd)\nlogger.info('missing: %s', missing)", "False"),
    ("logger.info(self.load(sd))", "False"),
    ("print(self.load(sd))", "False"),
    ("if self.load(sd).missing_keys:\n    raise ValueError('keys missing')", "False"),
    ("self.result = self.load(sd)", "False"),
])
def test_a_caller_that_keeps_the_result_or_loads_strictly_is_silent(body, default):
    assert _fz401(body, default) == []


def test_a_method_that_returns_the_result_to_a_caller_who_returns_it_is_silent():
    src = BASE.format(default="False", body="        pass") + (
        "\n\ndef build(sd):\n    model = Model({})\n    return model.load(sd)\n")
    assert check_source(textwrap.dedent(src).lstrip("\n"), "model.py", select=["FZ401"]) == []


def test_what_the_caller_drops_is_the_only_word_of_a_load_that_matched_nothing():
    """Run on torch: the base's default False loads a checkpoint saved under `module.` not at all,
    raises nothing, and only the result the caller drops names the keys."""
    namespace: dict = {}
    exec(compile(BASE.format(default="False", body="        self.load(sd)"), "model.py", "exec"), namespace)
    trained = torch.nn.Linear(8, 8)
    with torch.no_grad():
        trained.weight.fill_(1.0)
    sd = {f"module.fc.{k}": v for k, v in trained.state_dict().items()}
    model = namespace["Model"](sd)
    assert not torch.equal(model.fc.weight, trained.weight)  # nothing loaded, nothing raised
    result = namespace["Base"].load(model, sd)
    assert sorted(result.missing_keys) == ["fc.bias", "fc.weight"]
    assert sorted(result.unexpected_keys) == ["module.fc.bias", "module.fc.weight"]


OTHER_BASE = """
import torch.nn as nn


class Base(nn.Module):
    def load(self, sd, strict=False):
        return self.load_state_dict(sd, strict=strict)
"""

OTHER_MODEL = """
import torch.nn as nn

from models.base import Base


class Model(Base):
    def __init__(self, sd):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.load(sd, strict=False)
        result = self.load(sd, strict=False)
        assert not result.unexpected_keys, result
        self.load(sd, strict=True)
"""


def test_a_base_of_another_file_that_returns_the_keys_is_followed(cli, tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("")
    (tmp_path / "models" / "base.py").write_text(OTHER_BASE.lstrip())
    (tmp_path / "train.py").write_text(OTHER_MODEL.lstrip())
    r = cli(tmp_path, "check", "--format", "json", "--select", "FZ401", "--no-cache", ".")
    found = [(d["filename"], d["location"]["row"], d["message"]) for d in json.loads(r.out)]
    assert [(f.replace("\\", "/"), row) for f, row, _ in found] == [("train.py", 10)], r.out
    assert found[0][2].startswith(
        "`self.load(..., strict=False)` runs `load_state_dict(..., strict=strict)` and returns its missing and "
        "unexpected keys (models/base.py:6); this call drops them")


def test_a_cached_finding_follows_the_base_that_returns_the_keys(cli, tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("")
    base = tmp_path / "models" / "base.py"
    base.write_text(OTHER_BASE.lstrip())
    (tmp_path / "train.py").write_text(OTHER_MODEL.lstrip())

    def rows() -> list[int]:
        r = cli(tmp_path, "check", "--format", "json", "--select", "FZ401", ".")
        return [d["location"]["row"] for d in json.loads(r.out)]

    assert rows() == [10]
    base.write_text(OTHER_BASE.lstrip().replace("        return self.load_state_dict(sd, strict=strict)",
                                                "        result = self.load_state_dict(sd, strict=strict)\n"
                                                "        assert not result.unexpected_keys, result\n"
                                                "        return result"))
    assert rows() == []
    base.write_text(OTHER_BASE.lstrip())
    assert rows() == [10]
