"""FZ401 through a helper: a function or method that returns the result of
`load_state_dict(..., strict=False)` hands the missing and unexpected keys to its caller, and a
caller that drops that result (a statement of its own) drops them. The helper is found in the same
file, and through the project: a base class in another file (MiniGPT-4's `MiniGPT4.__init__` calls
LAVIS' `BaseModel.load_from_pretrained` as a bare statement), a function imported from another file."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from freezelint.check.engine import check_source
from freezelint.check.summaries import summarise_text

from conftest import write

# Vision-CAIR/MiniGPT-4's pattern in one file: the base's load_from_pretrained returns the keys (its log
# of them commented out), the subclass's __init__ drops them.
SAME_FILE = '''
import torch
import torch.nn as nn


class Base(nn.Module):
    def load_from_pretrained(self, path):
        state_dict = torch.load(path, map_location="cpu")["model"]
        msg = self.load_state_dict(state_dict, strict=False)
        return msg


class Model(Base):
    def __init__(self, qformer_ckpt):
        super().__init__()
        self.qformer = nn.Linear(8, 8)
        self.proj = nn.Linear(8, 8)
        self.load_from_pretrained(qformer_ckpt)
'''


def _fz401(src: str) -> list:
    return check_source(textwrap.dedent(src).lstrip("\n"), "train.py", select=["FZ401"])


def _rows(src: str) -> list[int]:
    return [d.row for d in _fz401(src)]


def test_the_reproducer_fires_at_the_call_that_drops_the_keys():
    found = _fz401(SAME_FILE)
    assert [d.row for d in found] == [17]
    msg = found[0].message
    assert msg.startswith("`self.load_from_pretrained(...)` returns `load_state_dict(..., strict=False)`'s missing and "
                          "unexpected keys (line 8) and this call drops them")
    assert "a checkpoint whose keys do not match loads nothing and nothing says so; check them" in msg


def test_a_load_with_keys_that_do_not_match_changes_nothing_and_returns_the_keys():
    """What the message says, shown with torch: a checkpoint saved with a prefix the model does not
    have loads nothing, raises nothing, and only the returned result names the keys."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Base(nn.Module):
        def load_from_pretrained(self, state_dict):
            msg = self.load_state_dict(state_dict, strict=False)
            return msg

    class Model(Base):
        def __init__(self, state_dict):
            super().__init__()
            self.qformer = nn.Linear(8, 8)
            self.before = self.qformer.weight.detach().clone()
            self.load_from_pretrained(state_dict)  # the result is dropped

    trained = nn.Linear(8, 8)
    with torch.no_grad():
        trained.weight.fill_(1.0)
    prefixed = {f"Qformer.{k}": v for k, v in trained.state_dict().items()}  # saved under another name
    model = Model(prefixed)
    assert torch.equal(model.qformer.weight, model.before)  # nothing was loaded
    assert not torch.equal(model.qformer.weight, trained.weight)
    result = model.load_from_pretrained(prefixed)  # what the dropped call returned
    assert sorted(result.missing_keys) == ["qformer.bias", "qformer.weight"]
    assert sorted(result.unexpected_keys) == ["Qformer.bias", "Qformer.weight"]
    assert torch.equal(model.qformer.weight, model.before)


def test_functions_of_the_file_and_methods_through_bases_of_the_file():
    src = '''
    import torch
    import torch.nn as nn

    def load_weights(model, path):
        sd = torch.load(path)
        return model.load_state_dict(sd, strict=False)

    def load_named(model, path):
        result: object = model.load_state_dict(torch.load(path), strict=False)
        return result

    class Base(nn.Module):
        def load_from_pretrained(self, path):
            msg = self.load_state_dict(torch.load(path), strict=False)
            return msg

        def load_checkpoint_from_config(self, cfg):
            self.load_from_pretrained(cfg["pretrained"])

    class Middle(Base):
        pass

    class Model(Middle, nn.Module):
        def __init__(self, path):
            super().__init__()
            self.load_from_pretrained(path)

    def main(path):
        model = nn.Linear(2, 2)
        load_weights(model, path)
        load_named(model, path)
        load_weights(model, path) if path else None
        load_either(model, path, True)

    def load_either(model, path, assign):
        if assign:
            load_result = model.load_state_dict(torch.load(path), strict=False, assign=True)
        else:
            load_result = model.load_state_dict(torch.load(path), strict=False)
        return load_result  # the name holds a load's result on every path
    '''
    assert _rows(src) == [18, 26, 30, 31, 32, 33]


@pytest.mark.parametrize("caller", [
    "msg = self.load_from_pretrained(path)\n        print(msg)",
    "print(self.load_from_pretrained(path))",
    "self.msg = self.load_from_pretrained(path)",
    "assert self.load_from_pretrained(path) is not None",
    "missing, unexpected = self.load_from_pretrained(path)\n        assert not missing",
])
def test_a_caller_that_keeps_the_result_is_silent(caller):
    src = f'''
import torch
import torch.nn as nn

class Base(nn.Module):
    def load_from_pretrained(self, path):
        msg = self.load_state_dict(torch.load(path), strict=False)
        return msg

class Model(Base):
    def __init__(self, path):
        super().__init__()
        {caller}
'''
    assert _fz401(src) == []


@pytest.mark.parametrize("helper", [
    # the helper looks at the keys itself before returning them: returning is extra
    'msg = self.load_state_dict(sd, strict=False)\n        logging.info("Missing keys {}".format(msg.missing_keys))\n'
    '        return msg',
    "msg = self.load_state_dict(sd, strict=False)\n        assert not msg.unexpected_keys\n        return msg",
    "msg = self.load_state_dict(sd, strict=False)\n        self.last = msg\n        return msg",
    # something else on some path
    "if sd is None:\n            return None\n        return self.load_state_dict(sd, strict=False)",
    "msg = self.load_state_dict(sd, strict=False)\n        return msg, sd",
    "msg = self.load_state_dict(sd, strict=False)\n        return self, msg",
    "msg = None\n        msg = self.load_state_dict(sd, strict=False)\n        return msg",
    "return self.load_state_dict(sd, strict=False) if sd else None",
    # strict loads: a mismatch raises
    "return self.load_state_dict(sd)",
    "msg = self.load_state_dict(sd, strict=True)\n        return msg",
    # a load FZ401 leaves alone: every key spelled out, or the keys compared first
    'return self.load_state_dict({"proj.weight": sd["w"]}, strict=False)',
    "missing = set(self.state_dict()) - set(sd)\n        if missing:\n            raise KeyError(missing)\n"
    "        return self.load_state_dict(sd, strict=False)",
    # the result is used inside a nested function
    "msg = self.load_state_dict(sd, strict=False)\n        def show():\n            print(msg)\n        return msg",
])
def test_near_misses_of_the_helper_are_silent(helper):
    src = f'''
import logging
import torch.nn as nn

class Model(nn.Module):
    def load_from_pretrained(self, sd):
        {helper}

    def __init__(self, sd):
        super().__init__()
        self.load_from_pretrained(sd)
'''
    assert _fz401(src) == []


def test_what_self_names_is_followed_only_as_python_would():
    src = '''
    import torch
    import torch.nn as nn

    def load_from_pretrained(model, path):
        return model.load_state_dict(torch.load(path), strict=False)

    class Base(nn.Module):
        def load_from_pretrained(self, path):
            return self.load_state_dict(torch.load(path), strict=False)

    class Checked(Base):
        def load_from_pretrained(self, path):  # overrides the base's, and checks the keys
            result = self.load_state_dict(torch.load(path), strict=False)
            assert not result.missing_keys, result.missing_keys

        def __init__(self, path):
            super().__init__()
            self.load_from_pretrained(path)

    class Swapped(Base):
        def __init__(self, path, loader):
            super().__init__()
            self.load_from_pretrained = loader  # an attribute of the instance, not the method
            self.load_from_pretrained(path)

    class Unknown(SomeBase, Base):  # SomeBase may define it first
        def __init__(self, path):
            self.load_from_pretrained(path)

    class Helper:
        @staticmethod
        def run(other, path):
            other.load_from_pretrained(path)  # not self: not followed
            load_from_pretrained(other, path)  # expect
    '''
    assert _rows(src) == [34]


def test_the_summary_records_which_functions_and_methods_return_a_partial_load():
    summary = summarise_text(textwrap.dedent('''
    import logging
    import torch
    import torch.nn as nn

    def load_weights(model, path):
        return model.load_state_dict(torch.load(path), strict=False)

    def load_checked(model, path):
        msg = model.load_state_dict(torch.load(path), strict=False)
        logging.info(msg)
        return msg

    class BaseModel(nn.Module):
        def load_from_pretrained(self, path):
            msg = self.load_state_dict(torch.load(path), strict=False)
            return msg

        def load_checkpoint(self, path):
            return self.load_state_dict(torch.load(path))
    ''').lstrip("\n"))
    assert summary["functions"]["load_weights"]["partial"] == 6
    assert "partial" not in summary["functions"]["load_checked"]
    assert summary["classes"]["BaseModel"]["partial"] == {"load_from_pretrained": 15}


BASE = """
import os
import logging

import torch
import torch.nn as nn


class BaseModel(nn.Module):
    def load_checkpoint(self, url_or_filename):
        checkpoint = torch.load(url_or_filename, map_location="cpu")
        msg = self.load_state_dict(checkpoint["model"], strict=False)
        logging.info("Missing keys {}".format(msg.missing_keys))
        return msg

    def load_from_pretrained(self, url_or_filename):
        if not os.path.isfile(url_or_filename):
            raise RuntimeError("checkpoint url or path is invalid")
        checkpoint = torch.load(url_or_filename, map_location="cpu")
        state_dict = checkpoint["model"]
        msg = self.load_state_dict(state_dict, strict=False)
        # logging.info("Missing keys {}".format(msg.missing_keys))
        logging.info("load checkpoint from %s" % url_or_filename)
        return msg
"""

# A base between the two, in a third file (MiniGPT-4's MiniGPTBase), that neither defines the helper
# nor says `strict=False`.
MIDDLE = """
from models.base_model import BaseModel


class MiniGPTBase(BaseModel):
    def __init__(self, vit_model="eva_clip_g"):
        super().__init__()
        self.vit_model = vit_model
"""

SUBCLASS = """
import torch.nn as nn

from models.minigpt_base import MiniGPTBase


class MiniGPT4(MiniGPTBase):
    def __init__(self, q_former_model="blip2_pretrained.pth", finetuned=None):
        super().__init__()
        self.Qformer = nn.Linear(8, 8)
        self.load_from_pretrained(url_or_filename=q_former_model)  # load q-former weights here
        if finetuned:
            self.load_checkpoint(finetuned)
"""

HELPERS = """
import torch


def load_weights(model, path):
    return model.load_state_dict(torch.load(path, map_location="cpu"), strict=False)
"""

SCRIPT = """
import torch.nn as nn

import utils.io
from utils.io import load_weights

model = nn.Linear(8, 8)
load_weights(model, "backbone.pt")
utils.io.load_weights(model, "backbone.pt")
result = load_weights(model, "backbone.pt")
print(result.missing_keys)
"""


def _project(root: Path) -> Path:
    write(root / "pyproject.toml", "")
    write(root / "models" / "__init__.py", "")
    write(root / "models" / "base_model.py", BASE)
    write(root / "models" / "minigpt_base.py", MIDDLE)
    write(root / "models" / "mini_gpt4.py", SUBCLASS)
    write(root / "utils" / "__init__.py", "")
    write(root / "utils" / "io.py", HELPERS)
    write(root / "train.py", SCRIPT)
    return root


def _found(cli, root: Path, *args: str) -> list[tuple[str, int, str]]:
    r = cli(root, "check", "--format", "json", "--select", "FZ401", *args)
    assert r.code in (0, 1), r.err
    return [(Path(d["filename"]).as_posix(), d["location"]["row"], d["message"]) for d in json.loads(r.out)]


def test_a_base_class_in_another_file_is_followed(cli, tmp_path):
    root = _project(tmp_path / "proj")
    assert "strict" not in SUBCLASS and "strict" not in MIDDLE and "strict" not in SCRIPT  # admitted through the project
    found = _found(cli, root, "--no-cache", ".")
    assert [(f, row) for f, row, _ in found] == [("models/mini_gpt4.py", 10), ("train.py", 7), ("train.py", 8)]
    assert "(models/base_model.py:20)" in found[0][2] and "`self.load_from_pretrained(...)`" in found[0][2]
    assert "(utils/io.py:5)" in found[1][2] and "`load_weights(...)`" in found[1][2]
    assert "`utils.io.load_weights(...)`" in found[2][2]
    # one file given: the project is still read
    assert [(f, row) for f, row, _ in _found(cli, root, "--no-cache", "models/mini_gpt4.py")] == \
        [("models/mini_gpt4.py", 10)]


def test_the_subclass_alone_finds_nothing(cli, tmp_path):
    alone = tmp_path / "alone"
    write(alone / "pyproject.toml", "")
    write(alone / "mini_gpt4.py", SUBCLASS)
    assert _found(cli, alone, "--no-cache", ".") == []


def test_a_cached_finding_follows_the_helper_in_the_other_file(cli, tmp_path):
    root = _project(tmp_path / "proj")
    assert len(_found(cli, root, ".")) == 3
    base = root / "models" / "base_model.py"
    # the helper now reports the keys itself: the callers' findings go, without --no-cache
    base.write_text(base.read_text().replace('        # logging.info("Missing keys {}".format(msg.missing_keys))',
                                             '        logging.info("Missing keys {}".format(msg.missing_keys))'))
    assert [(f, row) for f, row, _ in _found(cli, root, ".")] == [("train.py", 7), ("train.py", 8)]
    io = root / "utils" / "io.py"
    io.write_text(io.read_text().replace("strict=False", "strict=True"))
    assert _found(cli, root, ".") == []
    io.write_text(HELPERS)
    assert [(f, row) for f, row, _ in _found(cli, root, ".")] == [("train.py", 7), ("train.py", 8)]


def test_near_misses_across_files(cli, tmp_path):
    root = tmp_path / "proj"
    write(root / "pyproject.toml", "")
    write(root / "base.py", """
import torch
import torch.nn as nn


class Base(nn.Module):
    def load_from_pretrained(self, path):
        msg = self.load_state_dict(torch.load(path), strict=False)
        return msg

    def load_or_none(self, path):
        if not path:
            return None
        return self.load_state_dict(torch.load(path), strict=False)


def load_strict(model, path):
    return model.load_state_dict(torch.load(path))
""")
    write(root / "model.py", """
import torch.nn as nn

from base import Base, load_strict
from other import Other


class Kept(Base):
    def __init__(self, path):
        super().__init__()
        msg = self.load_from_pretrained(path)
        assert not msg.unexpected_keys, msg


class Overridden(Base):
    def load_from_pretrained(self, path):
        return None

    def __init__(self, path):
        super().__init__()
        self.load_from_pretrained(path)
        self.load_or_none(path)
        load_strict(self, path)


class Mixed(Other, Base):  # Other, earlier, defines it
    def __init__(self, path):
        super().__init__()
        self.load_from_pretrained(path)
""")
    write(root / "other.py", """
import torch.nn as nn


class Other(nn.Module):
    def load_from_pretrained(self, path):
        self.path = path
""")
    assert _found(cli, root, "--no-cache", ".") == []
