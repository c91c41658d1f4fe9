"""FZ401 and a dict keyed by the receiver's own keys (its `state_dict()`, `named_parameters()`,
`named_buffers()`, `named_modules()` joined with each child's keys, or a snapshot of them taken from
the same object): no key can miss, so a dropped result loses nothing. A count of the loaded dict kept
in a name and logged. And a helper that loads with its caller's `strict` and drops the result,
called with `strict=False` (in the same file, and in another file of the project)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from freezelint.check.engine import check_source
from freezelint.check.summaries import summarise_text

from conftest import write


def _rows(src: str) -> list[int]:
    return [d.row for d in check_source(textwrap.dedent(src).lstrip("\n"), "train.py", select=["FZ401"])]


# avalanche's MER / Reptile step: values interpolated between two snapshots, keyed by named_parameters()
MER = """
from copy import deepcopy


class MER:
    def __init__(self, model, beta):
        self.model = model
        self.beta = beta

    def inner_update(self):
        w_bef = deepcopy(self.model.state_dict())
        w_aft = self.model.state_dict()
        load_dict = {}
        for name, param in self.model.named_parameters():
            load_dict[name] = w_bef[name] + (w_aft[name] - w_bef[name]) * self.beta
        self.model.load_state_dict(load_dict, strict=False)
"""

# YOLOX's all_reduce_norm: the norm states of the module's own children, averaged, loaded back
YOLOX = """
from collections import OrderedDict

from torch import nn


def get_norm_states(module):
    states = OrderedDict()
    for name, child in module.named_modules():
        if isinstance(child, nn.BatchNorm2d):
            for k, v in child.state_dict().items():
                states[".".join([name, k])] = v
    return states


def all_reduce_norm(module, all_reduce):
    states = get_norm_states(module)
    states = all_reduce(states, op="mean")
    module.load_state_dict(states, strict=False)
"""

# espnet's hubert encoders: a snapshot of the module's state_dict, reloaded into it
SNAPSHOT = """
import copy

from torch import nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
        self.pretrained_params = copy.deepcopy(model.state_dict())
        self.encoders = model

    def reload_pretrained_parameters(self):
        self.encoders.load_state_dict(self.pretrained_params, strict=False)
"""

# ultralytics' BaseModel.load: the intersected dict's size logged through a name
COUNTED = """
import logging

LOGGER = logging.getLogger(__name__)


def load(self, weights, intersect_dicts):
    csd = weights.float().state_dict()
    updated_csd = intersect_dicts(csd, self.state_dict())
    self.load_state_dict(updated_csd, strict=False)
    len_updated_csd = len(updated_csd)
    LOGGER.info(f"Transferred {len_updated_csd}/{len(self.model.state_dict())} items from pretrained weights")
"""


@pytest.mark.parametrize("src", [MER, YOLOX, SNAPSHOT, COUNTED], ids=["mer", "yolox", "snapshot", "counted"])
def test_the_reproducers_are_silent(src):
    assert _rows(src) == []


def test_own_keys_cannot_mismatch_but_another_modules_can():
    """What the exemption rests on, shown with torch: a dict keyed by a module's own parameter names
    loads every entry (only the running statistics left out are missing, nothing unexpected); the same
    module's `state_dict()` loaded into a part of it matches no key and loads nothing."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    own = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    result = model.load_state_dict(own, strict=False)
    assert result.unexpected_keys == []
    assert sorted(result.missing_keys) == ["1.running_mean", "1.running_var"]
    assert all(torch.count_nonzero(p) == 0 for p in model.parameters())

    outer = nn.Sequential(nn.Sequential(nn.Linear(4, 4)))
    before = outer[0][0].weight.detach().clone()
    snapshot = {k: torch.ones_like(v) for k, v in outer.state_dict().items()}
    result = outer[0].load_state_dict(snapshot, strict=False)  # the outer model's keys, one level too deep
    assert sorted(result.missing_keys) == ["0.bias", "0.weight"]
    assert sorted(result.unexpected_keys) == ["0.0.bias", "0.0.weight"]
    assert torch.equal(outer[0][0].weight, before)  # nothing loaded, nothing raised


@pytest.mark.parametrize("src, rows", [
    # the whole model's state_dict into a part of it
    ("""
    def reset(model):
        model.backbone.load_state_dict(model.state_dict(), strict=False)
    """, [2]),
    # a snapshot taken before the name was rebound to another module
    ("""
    import copy
    def reload(model):
        snap = copy.deepcopy(model.state_dict())
        model = model.module
        model.load_state_dict(snap, strict=False)
    """, [5]),
    # another module's names, and a prefix added to the receiver's own
    ("""
    def mix(student, teacher):
        d = {}
        for n, p in teacher.named_parameters():
            d[n] = p
        student.load_state_dict(d, strict=False)
        e = {f"module.{n}": p for n, p in student.named_parameters()}
        student.load_state_dict(e, strict=False)
    """, [5, 7]),
    # a key from elsewhere stored beside the own ones; keys added by update()
    ("""
    def fill(model, extra, ckpt):
        d = {n: p for n, p in model.named_parameters()}
        d[extra] = 0
        model.load_state_dict(d, strict=False)
        e = dict(model.state_dict())
        e.update(ckpt)
        model.load_state_dict(e, strict=False)
    """, [4, 7]),
    # renamed, or merged with a checkpoint, on the way
    ("""
    def sync(model, rename_keys, merge, ckpt):
        states = rename_keys(model.state_dict())
        model.load_state_dict(states, strict=False)
        merged = merge(model.state_dict(), ckpt)
        model.load_state_dict(merged, strict=False)
    """, [3, 5]),
    # named_modules() names alone (module names, not parameter keys); the child of another loop
    ("""
    def norms(module, other):
        a = {name: m for name, m in module.named_modules()}
        module.load_state_dict(a, strict=False)
        b = {}
        for name, child in other.named_modules():
            for k, v in child.state_dict().items():
                b[f"{name}.{k}"] = v
        module.load_state_dict(b, strict=False)
    """, [3, 8]),
    # a checkpoint
    ("""
    import torch
    def load(model, path):
        sd = torch.load(path)
        model.load_state_dict(sd, strict=False)
    """, [4]),
])
def test_keys_not_the_receivers_own_stay_reported(src, rows):
    assert _rows(src) == rows


def test_a_snapshot_of_another_module_or_a_checkpoint_stays_reported():
    src = """
    import copy
    import torch
    from torch import nn

    class Rebound(nn.Module):
        def __init__(self, build):
            super().__init__()
            model = build()
            self.pretrained_params = copy.deepcopy(model.state_dict())
            model = model.encoder
            self.encoders = model

        def reload(self):
            self.encoders.load_state_dict(self.pretrained_params, strict=False)

    class FromFile(nn.Module):
        def __init__(self, build, path, cached):
            super().__init__()
            model = build()
            if cached:
                self.pretrained_params = copy.deepcopy(torch.load(path))
            else:
                self.pretrained_params = copy.deepcopy(model.state_dict())
            self.encoders = model

        def reload(self):
            self.encoders.load_state_dict(self.pretrained_params, strict=False)

    class Replaced(nn.Module):
        def __init__(self, model, other):
            super().__init__()
            self.pretrained_params = copy.deepcopy(model.state_dict())
            self.encoders = model

        def swap(self, other):
            self.encoders = other

        def reload(self):
            self.encoders.load_state_dict(self.pretrained_params, strict=False)
    """
    assert _rows(src) == [14, 27, 39]


def test_a_count_kept_in_a_name_with_additions_is_read():
    # ultralytics' tasks.py as it is: the count plus the rows remapped, and one more for an adapted first conv
    src = """
    def load(self, csd, intersect_dicts, cls_remapped, LOGGER, adapted):
        updated_csd = intersect_dicts(csd, self.state_dict())
        self.load_state_dict(updated_csd, strict=False)
        len_updated_csd = len(updated_csd) + cls_remapped
        if adapted:
            len_updated_csd += 1
        LOGGER.info(f"Transferred {len_updated_csd}/{len(self.model.state_dict())} items")
    """
    assert _rows(src) == []
    # bound twice: not known to be the count
    assert _rows(src.replace("        if adapted:\n            len_updated_csd += 1",
                             "        if adapted:\n            len_updated_csd = 7")) == [3]


def test_a_count_read_only_before_the_load_or_not_logged_stays_reported():
    src = """
    def load(model, csd, LOGGER):
        n = len(csd)
        model.load_state_dict(csd, strict=False)
        m = len(csd)
        total = m + 1
    """
    assert _rows(src) == [3]


HELPER = """
import torch


def load_checkpoint(model, checkpoint_path, strict=True):
    state_dict = torch.load(checkpoint_path, mmap=True)
    state_dict = state_dict.get("model", state_dict)
    model.load_state_dict(state_dict, strict=strict)
"""


def test_strict_false_through_a_helper_of_the_file():
    src = HELPER + """

def setup(model, checkpoint_path):
    load_checkpoint(model, checkpoint_path, strict=False)
    load_checkpoint(model, checkpoint_path, False)
    load_checkpoint(model, checkpoint_path, strict=True)
    load_checkpoint(model, checkpoint_path)
    load_checkpoint(model, checkpoint_path, strict=flag)
"""
    found = check_source(src.lstrip("\n"), "train.py", select=["FZ401"])
    assert [d.row for d in found] == [11, 12]
    assert found[0].message.startswith(
        "`load_checkpoint(..., strict=False)` runs `load_state_dict(..., strict=strict)` and drops its missing "
        "and unexpected keys (line 7): if no key matches")


@pytest.mark.parametrize("helper", [
    # reports the keys itself
    """
    import logging
    def load_checkpoint(model, path, strict=True):
        result = model.load_state_dict(path, strict=strict)
        logging.info(result)
    """,
    # not only the caller's value
    """
    def load_checkpoint(model, path, strict=True):
        strict = strict and path.endswith(".pt")
        model.load_state_dict(path, strict=strict)
    """,
    # the loaded dict is the model's own
    """
    def load_checkpoint(model, path, strict=True):
        model.load_state_dict(model.state_dict(), strict=strict)
    """,
])
def test_near_misses_of_the_helper_are_silent(helper):
    src = textwrap.dedent(helper) + "\n\ndef setup(model, path):\n    load_checkpoint(model, path, strict=False)\n"
    assert _rows(src) == []


def test_a_helper_that_hands_the_keys_back_is_reported_where_the_caller_drops_them():
    helper = "def load_checkpoint(model, path, strict=True):\n    return model.load_state_dict(path, strict=strict)\n"
    found = check_source(helper + "\n\ndef setup(model, path):\n    load_checkpoint(model, path, strict=False)\n",
                         "train.py", select=["FZ401"])
    assert [d.row for d in found] == [6]
    assert found[0].message.startswith(
        "`load_checkpoint(..., strict=False)` runs `load_state_dict(..., strict=strict)` and returns its missing "
        "and unexpected keys (line 2); this call drops them")
    kept = helper + "\n\ndef setup(model, path):\n    missing, unexpected = load_checkpoint(model, path, strict=False)\n" \
        "    assert not unexpected, unexpected\n"
    assert _rows(kept) == []


def test_a_dropped_load_through_the_callers_strict_loads_nothing():
    """The litgpt case, shown with torch: the helper called with strict=False and a checkpoint whose
    keys carry a prefix loads nothing, raises nothing, and returns nothing to look at."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def load_checkpoint(model, state_dict, strict=True):
        model.load_state_dict(state_dict, strict=strict)

    model = nn.Linear(4, 4)
    before = model.weight.detach().clone()
    prefixed = {f"model.{k}": torch.ones_like(v) for k, v in model.state_dict().items()}
    assert load_checkpoint(model, prefixed, strict=False) is None
    assert torch.equal(model.weight, before)
    with pytest.raises(RuntimeError, match="Missing key"):
        load_checkpoint(model, prefixed)


def test_the_summary_records_a_load_through_the_strict_parameter():
    summary = summarise_text(HELPER.lstrip("\n") + """

def load_kw(model, sd, *, strict):
    model.load_state_dict(sd, strict)


def load_fixed(model, sd, strict=True):
    model.load_state_dict(sd, strict=False)


def load_loose(model, sd, strict=False):
    model.load_state_dict(sd, strict=strict)


class Base:
    def load(self, path, strict=False):
        self.net.load_state_dict(torch.load(path), strict=strict)
""")
    functions = summary["functions"]
    # [line, parameter, its position as a caller passes it, whether it defaults to False]
    assert functions["load_checkpoint"]["strict_arg"] == [7, "strict", 2, False]
    assert functions["load_kw"]["strict_arg"] == [11, "strict", None, False]
    assert "strict_arg" not in functions["load_fixed"]
    assert functions["load_loose"]["strict_arg"] == [19, "strict", 2, True]
    assert summary["classes"]["Base"]["strict_arg"] == {"load": [24, "strict", 1, True]}  # after self


def _found(cli, root: Path, *args: str) -> list[tuple[str, int, str]]:
    r = cli(root, "check", "--format", "json", "--select", "FZ401", *args)
    assert r.code in (0, 1), r.err
    return [(Path(d["filename"]).as_posix(), d["location"]["row"], d["message"]) for d in json.loads(r.out)]


def test_strict_false_through_a_helper_of_another_file(cli, tmp_path):
    root = tmp_path / "proj"
    write(root / "pyproject.toml", "")
    write(root / "pkg" / "__init__.py", "")
    write(root / "pkg" / "utils.py", HELPER)
    write(root / "pkg" / "finetune.py", """
from pkg.utils import load_checkpoint
import pkg.utils as utils


def setup(model, checkpoint_path):
    # strict=False because of the LoRA weights the checkpoint lacks
    load_checkpoint(model, checkpoint_path, strict=False)
    utils.load_checkpoint(model, checkpoint_path, strict=False)
    load_checkpoint(model, checkpoint_path)
""")
    found = _found(cli, root, ".")
    assert [(f, row) for f, row, _ in found] == [("pkg/finetune.py", 7), ("pkg/finetune.py", 8)]
    assert "(pkg/utils.py:7)" in found[0][2]
    # the helper now checks the keys: the callers' findings go, without --no-cache
    utils = root / "pkg" / "utils.py"
    utils.write_text(HELPER.replace("    model.load_state_dict(state_dict, strict=strict)",
                                    "    result = model.load_state_dict(state_dict, strict=strict)\n"
                                    "    assert not result.unexpected_keys, result"))
    assert _found(cli, root, ".") == []
    utils.write_text(HELPER)
    assert [row for _, row, _ in _found(cli, root, ".")] == [7, 8]
