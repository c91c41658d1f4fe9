"""FZ102/FZ103 on `self.requires_grad = requires_grad` (`self.trainable = trainable`): a record of a
method's argument is no finding where the argument also acts in that method (a condition, a call
argument, a keyword) or where the attribute is read back; the record that is the argument's only
effect, a constant and a submodule's attribute are still reported, and the safe fix (which removes the
attribute) is never offered where `.requires_grad` is read on an object the checker cannot tell."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source, check_text


def _found(code: str, *codes: str) -> list[tuple[str, int]]:
    source = textwrap.dedent(code).lstrip()
    compile(source, "x.py", "exec")
    return [(d.code, d.row) for d in check_source(source, select=list(codes or ("FZ102", "FZ103")))]


RECORDS = """
import torch
import torch.nn as nn

class Fbank(nn.Module):
    def __init__(self, requires_grad=False):
        super().__init__()
        self.requires_grad = requires_grad
        self.filters = nn.Linear(4, 4).requires_grad_(requires_grad)

class Encoder(nn.Module):
    def __init__(self, requires_grad=False):
        super().__init__()
        self.requires_grad = requires_grad
        self.frontend = Fbank(requires_grad=not requires_grad)

class EMA(nn.Module):
    def __init__(self, n, trainable=True):
        super().__init__()
        self.trainable = trainable
        self.weights = nn.Parameter(torch.ones(n), requires_grad=trainable)

class Smearing(nn.Module):
    def __init__(self, n, trainable=True):
        super().__init__()
        self.trainable = trainable
        if trainable:
            self.register_parameter("means", nn.Parameter(torch.zeros(n)))
        else:
            self.register_buffer("means", torch.zeros(n))
"""


def test_a_record_of_an_argument_that_acts_otherwise_is_no_finding():
    assert _found(RECORDS) == []


def test_the_records_argument_does_the_freezing():
    """What the silence rests on, on real modules: the argument, not the attribute, freezes."""
    namespace: dict = {}
    exec(compile(textwrap.dedent(RECORDS), "records.py", "exec"), namespace)
    fbank, ema, smearing = namespace["Fbank"](), namespace["EMA"](3, trainable=False), namespace["Smearing"](3, False)
    assert not fbank.filters.weight.requires_grad and fbank.requires_grad is False
    assert not ema.weights.requires_grad
    assert [n for n, _ in smearing.named_parameters()] == [] and "means" in dict(smearing.named_buffers())


@pytest.mark.parametrize("line, code", [
    ("self.requires_grad = requires_grad", "FZ102"),  # the argument's only effect: the flag does nothing
    ("self.requires_grad = False", "FZ102"),
    ("self.trainable = requires_grad", "FZ103"),
    ("self.proj.requires_grad = requires_grad", "FZ102"),  # a submodule's attribute, whatever the argument does
])
def test_still_reported(line, code):
    source = f"""
    import torch
    import torch.nn as nn

    class Frontend(nn.Module):
        def __init__(self, requires_grad=False):
            super().__init__()
            self.proj = nn.Linear(4, 4)
            {line}
            self.scale = nn.Parameter(torch.ones(1), requires_grad=True)  # a keyword so named is no use of it
    """
    assert _found(source) == [(code, 8)]


def test_a_submodule_attribute_is_reported_beside_a_used_argument():
    assert _found("""
    import torch.nn as nn

    class HoulsbyLinear(nn.Module):
        def __init__(self, target_linear, freeze=True):
            super().__init__()
            self.pretrained_linear = nn.Linear(4, 4)
            self.pretrained_linear.requires_grad = freeze
            self.adapter = nn.Linear(4, 4, bias=freeze)
    """) == [("FZ102", 7)]


READ_ON_INSTANCE = """
import torch.nn as nn

class Probe(nn.Module):
    def __init__(self, requires_grad=False):
        super().__init__()
        self.requires_grad = requires_grad
        self.proj = nn.Linear(4, 4)

probe = Probe()
trainable = probe.requires_grad
"""


def test_read_back_on_an_instance_or_in_a_subclass_is_a_setting():
    assert _found(READ_ON_INSTANCE) == []
    assert _found("""
    import torch
    import torch.nn as nn

    class Base(nn.Module):
        def __init__(self, trainable=False):
            super().__init__()
            self.trainable = trainable
            self.requires_grad = False
            self.proj = nn.Linear(4, 4)

    class Scaled(Base):
        def forward(self, x):
            with torch.set_grad_enabled(self.requires_grad and self.trainable):
                return self.proj(x)
    """) == []


def test_the_removed_attribute_is_read_back():
    """Why a read back rules the rewrite out: the Module has no `requires_grad` once the record is a call."""
    fixed = READ_ON_INSTANCE.replace("self.requires_grad = requires_grad", "self.requires_grad_(requires_grad)")
    with pytest.raises(AttributeError, match="requires_grad"):
        exec(compile(textwrap.dedent(fixed), "fixed.py", "exec"), {})


@pytest.mark.parametrize("code, attr", [("FZ102", "requires_grad"), ("FZ103", "trainable")])
def test_no_safe_fix_where_the_attribute_is_read_on_an_unknown_object(code, attr):
    source = textwrap.dedent(f"""
    import torch.nn as nn

    class Frontend(nn.Module):
        def __init__(self, flag=False):
            super().__init__()
            self.proj = nn.Linear(4, 4)
            self.{attr} = flag

    def is_trainable(part):
        return part.{attr}
    """).lstrip()
    safe = check_text(source, "x.py", frozenset({code}), fix="safe")
    assert [d.code for d in safe.diagnostics] == [code] and safe.new_text is None
    unsafe = check_text(source, "x.py", frozenset({code}), fix="unsafe")
    assert "self.requires_grad_(flag)" in unsafe.new_text
    plain = source.replace(f"return part.{attr}", "return part")  # no read: the fix is safe again
    assert "self.requires_grad_(flag)" in check_text(plain, "x.py", frozenset({code}), fix="safe").new_text


GUARDED = """
import torch.nn as nn

class HoulsbyLinear(nn.Module):
    def __init__(self, target_linear):
        super().__init__()
        if not isinstance(target_linear, nn.Linear):
            GUARD
        self.pretrained_linear = target_linear
        self.pretrained_linear.requires_grad = False
        self.adapter = nn.Linear(4, 4)

    def forward(self, x):
        return self.pretrained_linear(x) + self.adapter(x)
"""


@pytest.mark.parametrize("guard", ['raise ValueError("only nn.Linear")', "return"])
def test_an_isinstance_guard_proves_the_class_and_the_fix_is_safe(guard):
    source = textwrap.dedent(GUARDED).lstrip().replace("GUARD", guard)
    found = check_text(source, "x.py", frozenset({"FZ102"})).diagnostics
    assert [d.message.split(":")[0] for d in found] == [
        "`self.pretrained_linear` is an nn.Linear (the `isinstance` check before lets nothing else through)"]
    fixed = check_text(source, "x.py", frozenset({"FZ102"}), fix="safe")
    assert fixed.diagnostics == [] and "self.pretrained_linear.requires_grad_(False)" in fixed.new_text


def test_a_test_that_only_warns_proves_nothing():
    source = textwrap.dedent(GUARDED).lstrip().replace("GUARD", 'print("expected an nn.Linear")')
    out = check_text(source, "x.py", frozenset({"FZ102"}), fix="safe")
    assert [d.message.split(":")[0] for d in out.diagnostics] == [
        "`self.pretrained_linear` is used as an nn.Module (`self.pretrained_linear(x)` at line 13)"]
    assert out.new_text is None  # a Module by use only: the fix needs review
