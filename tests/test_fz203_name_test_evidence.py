"""FZ203 on the forms of a class-name test: what each covers (`type(m).__name__ in ("BatchNorm2d",
"SyncBatchNorm")` covers convert_sync_batchnorm; `.find("BatchNorm") != -1` every kind;
`.startswith("Batch")` and `.find("BatchNorm") == 0` not SyncBatchNorm's name), and a kind quoted in a
test of a class's name elsewhere in the file (`weights_init`'s `classname.find("BatchNorm1d") != -1`)
tells kinds apart and makes none: no evidence of another kind in sight, as an isinstance test is not."""

from __future__ import annotations

import json

import pytest
import torch

from freezelint.check.engine import check_source

FILE = """
import torch.nn as nn


def freeze_bn(model):
    for m in model.modules():
        classname = m.__class__.__name__
        if {test}:
            m.eval()
            m.weight.requires_grad = False


def weights_init(m):
    {other}


def build(model):
    {extra}
    freeze_bn(model)
    return model
"""
CONVERT = "model = nn.SyncBatchNorm.convert_sync_batchnorm(model)"


def _src(test: str, extra: str = "pass", other: str = "pass") -> str:
    return FILE.format(test=test, extra=extra, other=other).lstrip()


def _rows(test: str, extra: str = "pass", other: str = "pass") -> list[int]:
    return [d.row for d in check_source(_src(test, extra, other), "train.py", select=["FZ203"])]


@pytest.mark.parametrize("test", ['classname.startswith("Batch")', 'classname.find("BatchNorm") == 0',
                                  'type(m).__name__.startswith("BatchN")'])
def test_a_prefix_that_synbatchnorm_fails_is_reported_beside_convert_sync_batchnorm(test):
    found = check_source(_src(test, CONVERT), "train.py", select=["FZ203"])
    assert [d.row for d in found] == [7]
    assert found[0].message == (
        f"`{test}` tests the class's name for BatchNorm1d, BatchNorm2d and BatchNorm3d only and misses the other "
        "BatchNorm layers (SyncBatchNorm after convert_sync_batchnorm): the freeze silently skips them; test "
        "`isinstance(m, nn.modules.batchnorm._BatchNorm)`")


@pytest.mark.parametrize("test, extra", [
    ('classname.startswith("Batch")', "head = nn.BatchNorm1d(3)"),  # every BatchNormNd's name passes it
    ('type(m).__name__ in ("BatchNorm2d", "SyncBatchNorm")', CONVERT),  # lists the converted kind
    ('m.__class__.__name__.find("BatchNorm") != -1', CONVERT),  # every kind's name has it
    ('classname.find("BatchNorm") > -1', CONVERT),
    ('classname.startswith("Batch") or classname == "SyncBatchNorm"', CONVERT),
    ('classname.startswith("Bat")', CONVERT),  # too short to say BatchNorm: not read as a BatchNorm test
])
def test_a_test_that_covers_what_is_in_sight_is_silent(test, extra):
    assert _rows(test, extra) == []


@pytest.mark.parametrize("other", [
    'if type(m).__name__.find("BatchNorm1d") != -1:\n        nn.init.normal_(m.weight, 1.0, 0.02)',
    'if type(m).__name__ in ("SyncBatchNorm", "GroupNorm"):\n        nn.init.normal_(m.weight, 1.0, 0.02)',
    'if m.__class__.__name__ == "SyncBatchNorm":\n        nn.init.normal_(m.weight, 1.0, 0.02)',
])
def test_a_kind_quoted_in_another_class_name_test_is_no_evidence(other, cli, tmp_path):
    test = 'classname.find("BatchNorm2d") != -1'
    assert _rows(test, other=other) == []
    # the same through the project, where the file's own text is scanned too
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "train.py").write_text(_src(test, other=other))
    r = cli(tmp_path, "check", "--format", "json", "--select", "FZ203", "--no-cache", ".")
    assert json.loads(r.out) == [], r.out


def test_a_kind_quoted_in_another_class_name_test_beside_a_real_one_is_reported(cli, tmp_path):
    test = 'classname.find("BatchNorm2d") != -1'
    other = 'if type(m).__name__.find("BatchNorm1d") != -1:\n        nn.init.normal_(m.weight, 1.0, 0.02)'
    assert _rows(test, "head = nn.BatchNorm1d(3)", other) == [7]
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "train.py").write_text(_src(test, "head = nn.BatchNorm1d(3)", other))
    r = cli(tmp_path, "check", "--format", "json", "--select", "FZ203", "--no-cache", ".")
    assert [d["location"]["row"] for d in json.loads(r.out)] == [7], r.out


def test_what_each_prefix_lets_through_on_torch_classes():
    """The names the forms read: SyncBatchNorm's fails `startswith("Batch")` and `find("BatchNorm") == 0`,
    and passes `find("BatchNorm") != -1`; every BatchNormNd's passes all three."""
    sync = type(torch.nn.SyncBatchNorm(4)).__name__
    plain = [type(c(4)).__name__ for c in (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)]
    assert not sync.startswith("Batch") and sync.find("BatchNorm") not in (0, -1)
    assert all(n.startswith("Batch") and n.find("BatchNorm") == 0 for n in plain)
    lazy = type(torch.nn.LazyBatchNorm2d()).__name__
    assert not lazy.startswith("Batch")
