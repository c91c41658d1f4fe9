"""FZ203 through a test of the class's NAME: `type(m).__name__ == "BatchNorm2d"` or
`m.__class__.__name__ == "BatchNorm2d"` is the same too-narrow BatchNorm freeze as
`isinstance(m, nn.BatchNorm2d)`, read through the shared class-name predicate (known.py) and
reported on the same evidence (another BatchNorm kind in sight). `"BatchNorm" in type(m).__name__`
covers every kind; `.startswith("BatchNorm")` does not cover SyncBatchNorm."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

LOOP = """
    import torch.nn as nn

    def freeze_bn(model):
        for m in model.modules():
            if {test}:
                m.eval()
                m.weight.requires_grad = False

    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.BatchNorm1d(8))
    {after}
    freeze_bn(model)
    """


def _found(test: str, after: str = "") -> list[tuple[int, str]]:
    source = textwrap.dedent(LOOP.format(test=test, after=after)).lstrip()
    compile(source, "train.py", "exec")
    return [(d.row, d.message) for d in check_source(source, "train.py", select=["FZ203"])]


@pytest.mark.parametrize("test", ['type(m).__name__ == "BatchNorm2d"', "m.__class__.__name__ == 'BatchNorm2d'",
                                  '"BatchNorm2d" in type(m).__name__', 'type(m).__name__ in ("BatchNorm2d",)'])
def test_a_class_name_test_for_one_kind_beside_another_kind_is_reported(test):
    found = _found(test)
    assert [row for row, _ in found] == [5]
    assert found[0][1] == (
        f"`{test}` tests the class's name for BatchNorm2d only and misses the other BatchNorm layers (BatchNorm1d, "
        "BatchNorm3d, SyncBatchNorm from convert_sync_batchnorm or a `SyncBN` config): the freeze silently skips "
        "them; test `isinstance(m, nn.modules.batchnorm._BatchNorm)`")


def test_a_bound_class_name_and_a_tuple_without_a_kind_in_sight():
    source = textwrap.dedent("""
        import torch.nn as nn

        def set_bn_eval(m):
            classname = m.__class__.__name__
            if classname in ("BatchNorm2d", "SyncBatchNorm"):
                m.eval()

        proj = nn.BatchNorm1d(8)
    """).lstrip()
    found = [(d.row, d.message) for d in check_source(source, "train.py", select=["FZ203"])]
    assert [row for row, _ in found] == [5]
    assert "for BatchNorm2d and SyncBatchNorm only and misses the other BatchNorm layers (BatchNorm1d, " \
           "BatchNorm3d)" in found[0][1]


def test_startswith_batchnorm_misses_syncbatchnorm_only():
    assert _found('type(m).__name__.startswith("BatchNorm")') == []  # 1d and 2d both start so
    found = _found('type(m).__name__.startswith("BatchNorm")', "model = nn.SyncBatchNorm.convert_sync_batchnorm(model)")
    assert [row for row, _ in found] == [5]
    assert "misses the other BatchNorm layers (SyncBatchNorm after convert_sync_batchnorm)" in found[0][1]


@pytest.mark.parametrize("test", ['"BatchNorm" in type(m).__name__', 'type(m).__name__.find("Norm") != -1',
                                  'type(m).__name__ == "LayerNorm"'])
def test_a_test_every_batchnorm_passes_or_a_test_of_another_name_is_silent(test):
    assert _found(test, "model = nn.SyncBatchNorm.convert_sync_batchnorm(model)") == []


def test_a_model_with_batchnorm2d_only_is_silent():
    source = textwrap.dedent(LOOP.format(test='type(m).__name__ == "BatchNorm2d"', after="")).lstrip()
    source = source.replace(", nn.Flatten(), nn.BatchNorm1d(8)", "")
    assert check_source(source, "train.py", select=["FZ203"]) == []


def test_what_the_message_says_with_torch():
    """A converted model's BatchNorm layers are SyncBatchNorm: the name test skips every one, and
    their running statistics move in a forward pass after the freeze."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    model = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)))
    model.train()
    for m in model.modules():
        if type(m).__name__ == "BatchNorm2d":
            m.eval()
    bn = model[1]
    assert type(bn).__name__ == "SyncBatchNorm" and bn.training
    assert isinstance(bn, nn.modules.batchnorm._BatchNorm)


# The same tests in early-exit form: the statements after `if not <test>: continue` run for what the test lets
# through, as the body of `if <test>:` does
EXIT = """
    import torch.nn as nn

    def freeze_bn(model):
        for name, m in model.named_modules():
            if not name.startswith("backbone"):
                continue
            if {test}:
                {leave}
            {act}

    def set_bn_eval(m):
        if {test}:
            {leave_fn}
        {act}

    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.BatchNorm1d(8))
    freeze_bn(model)
    model.apply(set_bn_eval)
    """


def _exits(test: str, act: str = "m.eval()", leave: str = "continue") -> list[tuple[int, str]]:
    leave_fn = "return" if leave == "continue" else leave.replace("break", "return m")
    source = textwrap.dedent(EXIT.format(test=test, act=act, leave=leave, leave_fn=leave_fn)).lstrip()
    compile(source, "train.py", "exec")
    return [(d.row, d.message) for d in check_source(source, "train.py", select=["FZ203"])]


@pytest.mark.parametrize("test", [
    "not isinstance(m, nn.BatchNorm2d)",
    'type(m).__name__ != "BatchNorm2d"',
    'not type(m).__name__.startswith("BatchNorm2d")',
    "not (isinstance(m, nn.BatchNorm2d))",
])
def test_an_early_exit_on_a_narrow_test_is_reported_as_the_if_form_is(test):
    found = _exits(test)
    assert [row for row, _ in found] == [7, 12], found
    assert all("misses the other BatchNorm layers (BatchNorm1d, BatchNorm3d, SyncBatchNorm" in m for _, m in found)


def test_the_early_exit_message_quotes_the_test_it_reads():
    (_, first), _ = _exits('not type(m).__name__.startswith("BatchNorm2d")')
    assert first.startswith('`type(m).__name__.startswith("BatchNorm2d")` tests the class\'s name for BatchNorm2d')


@pytest.mark.parametrize("test,act,leave", [
    ("not isinstance(m, nn.modules.batchnorm._BatchNorm)", "m.eval()", "continue"),  # every kind
    ('"BatchNorm" not in type(m).__name__', "m.eval()", "continue"),  # every kind's name has it
    ("not isinstance(m, nn.BatchNorm2d)", "nn.init.ones_(m.weight)", "continue"),  # no freeze
    ("isinstance(m, nn.BatchNorm2d)", "m.eval()", "continue"),  # skips BatchNorm2d: not a BatchNorm freeze
    ("not isinstance(m, nn.BatchNorm2d)", "m.eval()", "m.train()"),  # the branch does more than leave
    ("not isinstance(m, nn.BatchNorm2d)", "m.eval()", "break"),
])
def test_an_early_exit_that_covers_every_kind_or_freezes_nothing_is_silent(test, act, leave):
    assert _exits(test, act, leave) == []
