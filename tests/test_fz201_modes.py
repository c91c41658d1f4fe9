"""modes.py: the proofs FZ201 trusts. `quiet` (a function leaves its argument's modes alone) and
`train_keeps` (what a train() override keeps in eval mode) answer only what they can prove:
whatever they cannot read counts as possibly re-freezing."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from freezelint.check.facts import Facts
from freezelint.check.modes import quiet, train_keeps


def _facts(src: str) -> Facts:
    return Facts.of(cst.parse_module(textwrap.dedent(src)))


def _quiet(src: str, pos: int = 0) -> bool:
    facts = _facts(src)
    func = next(s for s in facts.module.body if isinstance(s, cst.FunctionDef) and s.name.value == "f")
    return quiet(facts, func, pos)


@pytest.mark.parametrize("body", [
    "print(sum(p.numel() for p in model.parameters()))",
    "torch.save(model.state_dict(), 'ckpt.pt')",
    "logger.info('params: %d', len(list(model.named_parameters())))",
    "n = 0\n    for name, p in model.named_parameters():\n        n += p.numel()\n    print(n)",
    "helper(model)",  # a function of the file that is quiet in turn
    "save_model(model, 'ckpt.pt')",  # `model` in a name is no `mode`
])
def test_quiet_reads_prints_and_saves(body):
    src = f"import torch, logging\nlogger = logging.getLogger()\n\ndef helper(m):\n    print(m)\n\n" \
          f"def save_model(m, path):\n    torch.save(m.state_dict(), path)\n\n" \
          f"def f(model):\n    {body}\n"
    assert _quiet(src)


@pytest.mark.parametrize("body", [
    "model.eval()",
    "for m in model.modules():\n        m.eval()",  # on what it derives from the argument
    "model.apply(lambda m: None)",
    "model.freeze_bn()",
    "model.backbone.training = False",
    "unknown(model)",  # handed on to what cannot be read
    "sub = model.backbone\n    unknown(sub)",
    "getattr(model, 'freeze')()",
    "x.requires_grad_(False)",  # a mode-like call anywhere in the body
    "helper(model)",  # a function of the file that evals
    "callbacks.on_epoch_start(model)",
])
def test_not_quiet_where_a_mode_may_change(body):
    src = f"def helper(m):\n    m.eval()\n\ndef f(model):\n    {body}\n"
    assert not _quiet(src)


def _keeps(src: str, cls: str = "Net"):
    facts = _facts("import logging\nimport torch.nn as nn\nfrom lib import freeze_norm\n" + textwrap.dedent(src))
    return train_keeps(facts, facts.classes[cls])


def test_train_keeps_nothing_for_a_no_op_or_logging_override():
    assert _keeps("""
        class Net(nn.Module):
            def train(self, mode=True):
                super().train(mode)
                return self
        """) == []
    assert _keeps("""
        class Net(nn.Module):
            def train(self, mode=True):
                '''Logs the switch.'''
                logging.info("train(%s)", mode)
                return super(Net, self).train(mode)
        """) == []


def test_train_keeps_the_parts_it_re_evals_also_through_a_base_of_the_file():
    assert _keeps("""
        class Base(nn.Module):
            def __init__(self):
                super().__init__()
                self.neck = nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8))
                self.head = nn.Linear(8, 4)

            def train(self, mode=True):
                nn.Module.train(self, mode)
                self.neck.eval()
                return self

        class Net(Base):
            def train(self, mode=True):
                super().train(mode)
                if mode:
                    self.head.train(False)
                return self
        """) == ["head", "neck"]


@pytest.mark.parametrize("body", [
    "for m in self.modules():\n" + " " * 20 + "if isinstance(m, nn.BatchNorm2d):\n" + " " * 24 + "m.eval()",
    "self._freeze()",  # a helper that evals
    "freeze_norm(self)",  # a function that cannot be read
    "self.eval()",  # every part
    "self.training = False",
])
def test_train_keeps_is_unknown_where_the_override_may_keep_more(body):
    assert _keeps(f"""
        class Net(nn.Module):
            def train(self, mode=True):
                super().train(mode)
                {body}
                return self

            def _freeze(self):
                self.backbone.eval()
        """) is None


def test_train_keeps_is_unknown_without_the_base_train_or_with_a_base_of_another_file():
    assert _keeps("""
        class Net(nn.Module):
            def train(self, mode=True):  # never puts anything in training mode
                return self
        """) is None
    assert _keeps("""
        from mmcv.runner import BaseModule

        class Net(BaseModule):
            def train(self, mode=True):
                super().train(mode)
                return self
        """) is None


def test_train_keeps_reads_timm_levit_s_cache_clearing_override():
    """timm's LeViT attention: `@torch.no_grad()`, a cache emptied after `super().train(mode)`."""
    assert _keeps("""
        import torch

        class Net(nn.Module):
            @torch.no_grad()
            def train(self, mode=True):
                super().train(mode)
                if self.attention_bias_cache:
                    self.attention_bias_cache = {}  # clear ab cache
        """) == []


def test_a_decorated_function_is_not_quiet():
    assert not _quiet("@register\ndef f(model):\n    print(model)\n")
    assert _quiet("import torch\n\n@torch.no_grad()\ndef f(model):\n    print(model)\n")


HANDED = """
import torch.nn as nn

def fix_bn(m):
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        m.eval()

def train_one_epoch(model, loader, optimizer, hook=None):
    model.train()
    if hook is not None:
        hook(model)
    for x, y in loader:
        criterion(model(x), y).backward()
        optimizer.step()

def fit(model, loader, optimizer, hook):
    for epoch in range(10):
        train_one_epoch(model, loader, optimizer, hook)

def log_stats(model):
    print(model)

def refreeze(model):
    model.apply(fix_bn)

model.apply(fix_bn)
{call}
"""


@pytest.mark.parametrize("call,fires", [
    ("fit(model, loader, optimizer, log_stats)", True),  # handed on through fit's own parameter
    ("train_one_epoch(model, loader, optimizer)", True),  # the default None: nothing re-freezes
    ("train_one_epoch(model, loader, optimizer, hook=None)", True),
    ("fit(model, loader, optimizer, refreeze)", False),
    ("train_one_epoch(model, loader, optimizer, **cfg)", False),  # may pass a hook
    ("train_one_epoch(model, loader, optimizer, lambda m: print(m))", False),  # not read
])
def test_fz201_resolves_the_callable_a_helper_hands_the_model_to(call, fires):
    from freezelint import codes
    from freezelint.check.engine import check_text

    static = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)
    src = HANDED.format(call=call)
    found = [(d.row, d.code) for d in check_text(src, "ex.py", static, force=True).diagnostics]
    assert found == ([(src.splitlines().index(call) + 1, "FZ201")] if fires else [])


def test_train_keeps_no_part_that_may_be_or_hold_another():
    """`self.encoder.eval()` of an alias of the backbone, or of a wrapper built around what the
    model was given, may keep the frozen part itself: not a proof of "another part"."""
    for init in ("self.encoder = self.backbone", "self.encoder = Wrapper(backbone)",
                 "self.encoder = nn.Sequential(backbone, nn.ReLU())",
                 "self.encoder = nn.Sequential(nn.ReLU())\n" + " " * 20 + "self.backbone = self.encoder"):
        assert _keeps(f"""
            class Net(nn.Module):
                def __init__(self, backbone):
                    super().__init__()
                    self.backbone = backbone
                    {init}

                def train(self, mode=True):
                    super().train(mode)
                    self.encoder.eval()
                    return self
            """) is None
    assert _keeps("""
        class Net(nn.Module):
            def __init__(self, backbone, p):
                super().__init__()
                self.backbone = backbone
                self.dropout = nn.Dropout(p)
                self.neck = nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8))

            def train(self, mode=True):
                super().train(mode)
                self.dropout.eval()
                self.neck.eval()
                return self
        """) == ["dropout", "neck"]


WITHIN = '''
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
        self.neck = nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8))
        self.head = nn.Linear(8, 4)

    def train(self, mode=True):
        super().train(mode)
        self.neck.eval()
        return self


def fix_bn(m):
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        m.eval()


def freeze_backbone(model):
    for m in model.backbone.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def freeze_neck(model):
    for m in model.neck.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


a = Net()
freeze_backbone(a)
b = Net()
b.backbone.apply(fix_bn)
c = Net()
freeze_neck(c)
d = Net()
for m in d.backbone.modules():
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        m.eval()
e = Net()
e.apply(fix_bn)
for epoch in range(10):
    a.train()  # expect
    b.train()  # expect
    c.train()
    d.train()  # expect
    e.train()
    for x, y in loader:
        criterion(a(x) + b(x) + c(x) + d(x) + e(x), y).backward()
'''


def test_fz201_tells_the_frozen_part_from_the_part_a_train_override_re_evals():
    """The BatchNorm a loop over `model.backbone.modules()` froze (inline, through a helper of the
    file, or `model.backbone.apply(fix_bn)`) is not kept by a train() that re-evals the neck; one
    frozen in the neck is, and a freeze of the whole model may be (what else holds BatchNorm is
    not known)."""
    from freezelint import codes
    from freezelint.check.engine import check_text

    static = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)
    found = check_text(WITHIN, "ex.py", static, force=True).diagnostics
    want = [i for i, line in enumerate(WITHIN.splitlines(), 1) if line.endswith("# expect")]
    assert [(d.row, d.code) for d in found] == [(i, "FZ201") for i in want] and len(want) == 3
    assert "of `a.backbone` that `freeze_backbone(...)` froze" in found[0].message
    assert "re-applies eval() to `self.neck` only, not to `self.backbone`" in found[0].message


SKIP = '''
import torch.nn as nn
import torchvision


class Mixin:
    pass


class Base(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = torchvision.models.resnet18()
        self.bn_frozen()

    def bn_frozen(self):
        for m in self.backbone.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()

    def train(self, mode=True):
        super().train(mode)
        self.bn_frozen()
        return self


class Child({bases}):
    def train(self, mode=True):
        {call}
        return self
'''


@pytest.mark.parametrize("call,bases,keeps,skipped", [
    ("super(Base, self).train(mode)", "Base", [], ["Base"]),  # nn.Module's train(): Base's re-freeze skipped
    ("nn.Module.train(self, mode)", "Base", [], ["Base"]),
    ("super(Child, self).train(mode)", "Base", None, None),  # Base's train() runs: it re-freezes
    ("super().train(mode)", "Base", None, None),
    ("Base.train(self, mode)", "Base", None, None),
    # skips Base's, but re-freezes itself through a method it does not read: may keep it
    ("super(Base, self).train(mode)\n        self.bn_frozen()", "Base", None, ["Base"]),
    # Mixin may come after Base in the MRO and define train() in a subclass: not read
    ("super(Base, self).train(mode)", "Base, Mixin", None, None),
    ("super(Other, self).train(mode)", "Base", None, None),  # not a base of the file
])
def test_a_base_call_that_skips_the_bases_train(call, bases, keeps, skipped):
    """`super(Base, self).train(mode)` runs what comes after Base in the MRO (nn.Module's train()),
    so what Base.train() re-freezes is not kept, and Base is the override it skips."""
    from freezelint.check.modes import skipped_trains

    facts = _facts(SKIP.format(call=call, bases=bases))
    child = facts.classes["Child"]
    assert train_keeps(facts, child) == keeps
    found = skipped_trains(facts, child)
    assert (found and [c.name for c in found[1]]) == skipped


def _fz201(src: str) -> list:
    from freezelint import codes
    from freezelint.check.engine import check_text

    static = frozenset(c for c, i in codes.CATALOGUE.items() if i.static)
    return [d for d in check_text(src, "ex.py", static, force=True).diagnostics if d.code == "FZ201"]


@pytest.mark.parametrize("call,spelled", [
    ("super(Base, self).train(mode)", "super(Base, self)"),
    ("nn.Module.train(self, mode)", "nn.Module"),
])
def test_fz201_reports_an_override_that_skips_the_bases_re_freeze(call, spelled):
    """Child().train() runs nn.Module's train(), not Base's: the BatchNorm Base.__init__ froze goes
    back to training mode. Reported at the call that skips it."""
    src = SKIP.format(call=call, bases="Base")
    found = _fz201(src)
    assert [d.row for d in found] == [src.splitlines().index(f"        {call}") + 1]
    assert f"`{spelled}.train(...)` in Child.train() skips `Base.train()`" in found[0].message
    assert "Base.__init__ froze" in found[0].message


@pytest.mark.parametrize("call,base_train", [
    ("super(Child, self).train(mode)", None),  # the py2 spelling of super(): Base.train runs
    ("super().train(mode)", None),
    ("Base.train(self, mode)", None),  # the base's override, called by name
    ("super(Base, self).train(mode)\n        self.bn_frozen()", None),  # re-freezes itself
    ("super(Base, self).train(mode)", "super().train(mode)\n        return self"),  # Base re-freezes nothing
])
def test_fz201_is_silent_where_the_bases_re_freeze_runs_or_there_is_none(call, base_train):
    src = SKIP.format(call=call, bases="Base")
    if base_train:
        old = "super().train(mode)\n        self.bn_frozen()\n        return self"
        assert old in src
        src = src.replace(old, base_train)
    assert _fz201(src) == []


def test_fz201_a_skipped_re_freeze_needs_an_inherited_freeze():
    """Base re-freezes in train() only (no freeze in __init__): Child never had it frozen."""
    src = SKIP.format(call="super(Base, self).train(mode)", bases="Base").replace(
        "self.backbone = torchvision.models.resnet18()\n        self.bn_frozen()",
        "self.backbone = torchvision.models.resnet18()")
    assert src.count("self.bn_frozen()") == 1 and _fz201(src) == []
