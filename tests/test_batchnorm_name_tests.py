"""The one predicate every BatchNorm rule asks of an `if` that picks a layer by its class's name
(known.batchnorm_name_tests): what it proves, and what it leaves alone."""

from __future__ import annotations

import libcst as cst
import pytest

from freezelint.check.known import batchnorm_name_tests

FAMILY = "torch.nn.modules.batchnorm._BatchNorm"
BOUND = {"classname": cst.parse_expression("m.__class__.__name__"), "cname": cst.parse_expression("type(m).__name__"),
         "label": cst.parse_expression("m.name")}.get


@pytest.mark.parametrize("test,found", [
    ('"BatchNorm2d" in classname', [("m", "torch.nn.BatchNorm2d")]),
    ("classname.find('BatchNorm') != -1", [("m", FAMILY)]),
    ("cname.find('BatchNorm') >= 0", [("m", FAMILY)]),
    ('type(layer).__name__ == "BatchNorm2d"', [("layer", "torch.nn.BatchNorm2d")]),
    ('m.__class__.__name__.startswith("BatchNorm")', [("m", FAMILY)]),
    ('classname in ("BatchNorm1d", "BatchNorm2d")', [("m", FAMILY)]),
    ('m.training and "BatchNorm" in m.__class__.__name__', [("m", FAMILY)]),
])
def test_a_batchnorm_picked_by_its_class_name(test, found):
    assert batchnorm_name_tests(cst.parse_expression(test), BOUND) == found


@pytest.mark.parametrize("test", [
    "classname.find('Conv') != -1",  # another layer
    "classname.find('BatchNorm') == -1",  # every layer but BatchNorm
    'classname in ("BatchNorm2d", "Conv2d")',
    '"BatchNorm" in label',  # not a class's name
    '"BatchNorm" in str(m)',
    'not "BatchNorm" in classname',
])
def test_what_proves_no_batchnorm(test):
    assert batchnorm_name_tests(cst.parse_expression(test), BOUND) == []


@pytest.mark.parametrize("test,covers", [
    ('"Norm" in classname', True),  # every BatchNorm's name passes it: an eval() under it reaches them
    ("classname.find('Batch') != -1", True),
    ('classname.startswith("Batch")', True),
    ('"Norm" in classname and m.training', True),
    ('classname == "Norm"', False),  # no BatchNorm's name equals it
    ('"Nor" in classname', False),  # too short to read as meant for them
    ('"Conv" in classname', False),
    ('b"Norm" in classname', False),  # bytes never match a class name (and must not fail)
    ('"Norm" in label', False),
])
def test_a_test_every_batchnorm_passes_covers_them_for_a_freeze_only(test, covers):
    expr = cst.parse_expression(test)
    assert batchnorm_name_tests(expr, BOUND, covering=True) == ([("m", FAMILY)] if covers else [])
    assert batchnorm_name_tests(expr, BOUND) == []  # proves no layer a BatchNorm (FZ204's narrowing)
