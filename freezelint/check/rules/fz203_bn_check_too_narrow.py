"""FZ203 bn-check-too-narrow: a freeze helper that tests for one BatchNorm class only."""

from __future__ import annotations

import functools
import re
from typing import Callable, Iterable

import libcst as cst

from freezelint.check.facts import Facts, is_batchnorm_class
from freezelint.check.known import class_name_test
from freezelint.check.project import shown_path, without_isinstance_tests
from freezelint.check.syntax import walk as syntax_walk
from freezelint.check.rules.base import Example, Finding, Fix, Rule, code_of, src

# torch.nn re-exports the classes of torch.nn.modules, which re-exports those of its batchnorm module
_PACKAGES = ("torch.nn.", "torch.nn.modules.", "torch.nn.modules.batchnorm.")
_NARROW = frozenset(p + c for p in _PACKAGES for c in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"))


def _base(qual: str | None) -> bool:
    """`_BatchNorm`, torch's or re-exported (mmcv's and mmengine's parrots_wrapper): every kind."""
    return (qual or "").rsplit(".", 1)[-1] == "_BatchNorm"


def _sync(qual: str | None) -> bool:
    """`SyncBatchNorm`, torch's or re-exported by another module (mmengine.utils.dl_utils.parrots_wrapper):
    what convert_sync_batchnorm makes of every BatchNorm."""
    return (qual or "").rsplit(".", 1)[-1] == "SyncBatchNorm"
# The Python module that holds the classes, named where its base class was meant (mmyolo's necks,
# YOLOv8 backbones): isinstance() raises TypeError on a module, so the freeze never runs.
_MODULE = "torch.nn.modules.batchnorm"
# Words that show a BatchNorm layer of another kind in the code: a test for one kind is a mistake
# only where another kind can reach it (a model built with only BatchNorm2d and never converted is
# fully frozen by it).
_KINDS = {"BatchNorm1d": r"BatchNorm1d", "BatchNorm2d": r"BatchNorm2d", "BatchNorm3d": r"BatchNorm3d"}
_LAZY = (r"LazyBatchNorm[123]d",)
_ALWAYS_OTHER = (r"SyncBatchNorm", r"convert_sync_batchnorm", *_LAZY,
                 r"SyncBN")  # OpenMMLab's `norm_cfg=dict(type='SyncBN')`


def _others(tested: set[str]) -> str:
    """The regex of the words for BatchNorm kinds other than `tested` (class names); a test that has
    SyncBatchNorm covers what convert_sync_batchnorm makes, so its words are no other kind then."""
    always = _ALWAYS_OTHER if "SyncBatchNorm" not in tested else _LAZY
    words = [w for k, w in _KINDS.items() if k not in tested] + list(always)
    return r"\b(?:" + "|".join(words) + r")\b"


# How many imports from the file with the test a file naming another kind may be (`train.py` that
# imports the helper's file and the model's, or converts itself): a monorepo's re-export files put
# every model a few imports from every other, and those are built apart.
_TIE_HOPS = 2

_IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+\S+[ \t]+)?import\b[^\n]*(?:\([^)]*\))?", re.M)


def _missed(quals: list[str | None], text: str) -> str:
    """The BatchNorm kinds a test of `quals` misses, as the message lists them; SyncBatchNorm as the
    file (`text`, its code less tests) makes it: built directly (`nn.SyncBatchNorm(c)`, `type='SyncBN'`),
    by convert_sync_batchnorm, or, where it says neither, as another file may: by convert_sync_batchnorm
    or from a `SyncBN` config."""
    tested = {(q or "").rsplit(".", 1)[-1] for q in quals}
    kinds = [k for k in _KINDS if k not in tested]
    if not any(map(_sync, quals)):
        converts = re.search(r"\bconvert_sync_batchnorm\b", text)
        code = _IMPORT_LINE.sub("", text)  # an import of the class builds none
        built = re.search(r"\bSyncBatchNorm\b(?!\s*\.\s*convert_sync_batchnorm)|\bSyncBN\b", code)
        kinds.append("SyncBatchNorm" if built and not converts else
                     "SyncBatchNorm (built here, and after convert_sync_batchnorm)" if built else
                     "SyncBatchNorm after convert_sync_batchnorm" if converts else
                     "SyncBatchNorm from convert_sync_batchnorm or a `SyncBN` config")  # made elsewhere
    return ", ".join(kinds)


def _freezes(node: cst.If, name: str) -> bool:
    """The branch freezes the tested layer: calls its `.eval()` / `.train(False)`, or sets
    requires_grad where it names the layer."""
    body = code_of(node.body)
    return bool(re.search(rf"\b{re.escape(name)}\.(eval\(\)|train\(\s*False\s*\)|requires_grad)", body) or (
        re.search(r"requires_grad", body) and re.search(rf"\b{re.escape(name)}\b", body)))


def _handles_another(node: cst.If, facts: Facts, ctx) -> bool:
    """`if isinstance(m, BatchNorm2d): ... elif isinstance(m, BatchNorm1d): ...` (or a class-name test
    in either): kinds told apart on purpose (one frozen, another trained)."""
    orelse = node.orelse
    named = {id(n) for n, *_ in facts.bn_name_ifs}
    while isinstance(orelse, cst.If):
        if id(orelse) in named:
            return True
        for call in (n for n in syntax_walk(orelse.test) if isinstance(n, cst.Call)):
            if facts.qualname(call.func, ctx.scope) == "isinstance" and len(call.args) > 1:
                value = call.args[1].value
                classes = [e.value for e in value.elements] if isinstance(value, cst.Tuple) else [value]
                if any(is_batchnorm_class(facts.qualname(c, ctx.scope) or "") for c in classes):
                    return True
        orelse = orelse.orelse
    return False


def _other_kind_in_sight(quals: list[str | None], facts: Facts, text: Callable[[], str]) -> bool:
    """A BatchNorm kind the test of `quals` misses is named in the file (`text()`: its code less
    isinstance tests) or, for a test without SyncBatchNorm, in a file tied to it by imports."""
    others = _others({"SyncBatchNorm" if _sync(q) else (q or "").rsplit(".", 1)[-1] for q in quals})
    if re.search(others, text()):
        return True
    # a test that lists SyncBatchNorm names the kinds its model has on purpose: only a kind the file
    # builds itself shows one it left out, not one somewhere in the package it imports
    # (the file itself is read above, less its tests: the project's scan of it counts them)
    return not any(map(_sync, quals)) and facts.project is not None \
        and any(p != shown_path(facts.path) for p in facts.project.mentions_near(others, facts.path, _TIE_HOPS))


def _evidence(module: cst.Module) -> str:
    """The file's code where another BatchNorm kind may be named: less isinstance tests, comments and
    tests of a class's name (`type(m).__name__ in ("SyncBatchNorm", "GroupNorm")`,
    `classname.find("BatchNorm1d") != -1`): a kind named in a test tells kinds apart, it makes none."""
    code = module.code
    for test in _class_name_tests(module):
        code = code.replace(module.code_for_node(test), "")
    return without_isinstance_tests(code)


def _class_name_tests(module: cst.Module) -> list[cst.BaseExpression]:
    """The tests of the file on a class's name (`X.__name__`, or a name the file binds to one) against
    string literals."""
    def named(e) -> bool:
        return isinstance(e, cst.Attribute) and e.attr.value == "__name__"

    holders = {t.target.value for n in syntax_walk(module) if isinstance(n, cst.Assign) and named(n.value)
               for t in n.targets if isinstance(t.target, cst.Name)}
    out = []
    for n in syntax_walk(module):
        found = class_name_test(n) if isinstance(n, (cst.Comparison, cst.Call)) else None
        if found is not None and (named(found[0]) or isinstance(found[0], cst.Name) and found[0].value in holders):
            out.append(n)
    return out


def _listed(quals: list[str]) -> str:
    names = [q.rsplit(".", 1)[-1] for q in quals]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class BnCheckTooNarrow(Rule):
    code = "FZ203"
    words = ("BatchNorm", "batchnorm")
    triggers = (r"isinstance\([^)]*BatchNorm[123]d", r"isinstance\([^)]*\bbatchnorm\s*[,)]",
                # a class-name test: `type(m).__name__ == "BatchNorm2d"`, `.startswith("BatchNorm")`
                r"[\'\"]BatchNorm[123]d[\'\"]", r"(?:startswith|find)\(\s*[\'\"]Batch(?:N|No|Nor|Norm)?[\'\"]")
    requires = (r"\.eval\(\)|\.train\(\s*False|requires_grad",)
    what = "Finds BatchNorm-freezing code that recognises BatchNorm layers with one class only."
    why = (
        "`isinstance(m, nn.BatchNorm2d)` is false for BatchNorm1d/3d, for LazyBatchNorm and for "
        "SyncBatchNorm — which is what `nn.SyncBatchNorm.convert_sync_batchnorm` turns every "
        "BatchNorm2d into for multi-GPU training. The freeze then silently stops applying, and the "
        "running statistics move again. `nn.modules.batchnorm._BatchNorm` is the common base of the "
        "whole family. `isinstance(m, nn.modules.batchnorm)` names the Python module that holds those "
        "classes, not a class: isinstance() raises TypeError, so the freeze fails the first time it runs "
        "(often behind a `norm_eval` or `freeze_all` switch that tests leave off)."
    )
    fix_title = "Test for `nn.modules.batchnorm._BatchNorm`"
    notes = (
        "Reported only where the checked branch freezes (calls `.eval()` on the layer or sets "
        "requires_grad), and where a BatchNorm of another kind is in sight: named in the file or in "
        "another file of the project at most two imports from it (one that imports it or that it imports, "
        "directly or through one other file, or one that a file importing it imports too: `train.py` "
        "importing the helper and the model; a folder of unrelated scripts lends none its neighbours' "
        "layers, and in a monorepo, whose `__init__.py` files re-export every model a few imports from "
        "every other, models farther apart are built apart; a test file, by pytest's names or under "
        "tests/, neither counts nor ties: it imports modules to test them, not to build one model) "
        "(BatchNorm1d/3d, SyncBatchNorm, `convert_sync_batchnorm`, LazyBatchNorm; a name in an isinstance test does not count: it tells kinds apart, it makes "
        "none). A test that has SyncBatchNorm (torch's, or re-exported by another module such as "
        "mmengine's or mmcv's `parrots_wrapper`) covers `convert_sync_batchnorm`; it lists the kinds "
        "of its model on purpose, so it is reported only where the file itself names a kind it lacks "
        "(a BatchNorm1d beside a `(BatchNorm2d, SyncBatchNorm)` test), not another file of the project. "
        "`_BatchNorm`, torch's or re-exported, covers every kind. A test of the class's name "
        "(`type(m).__name__ == \"BatchNorm2d\"`, `m.__class__.__name__ in (...)`, "
        "`classname.startswith(\"BatchNorm\")`, `startswith(\"Batch\")` or `.find(\"BatchNorm\") == 0`, which "
        "SyncBatchNorm's and the Lazy ones' names fail) is read the same way; one every BatchNorm's name "
        "passes (`\"BatchNorm\" in classname`, `.find(\"BatchNorm\") != -1`) covers every kind. A kind quoted in "
        "a test of a class's name (`classname.find(\"BatchNorm1d\") != -1` in a `weights_init`) is no "
        "evidence, as in an isinstance test (in another file of the project, it still counts). "
        "An early exit reads as its `if`: the statements after `if not isinstance(m, nn.BatchNorm2d): continue` "
        "(or `return`, or `type(m).__name__ != \"BatchNorm2d\"`) are that test's branch. "
        "Not where an `elif` of the same test handles another BatchNorm kind. A test on the module "
        "`nn.modules.batchnorm` itself is reported wherever its branch freezes."
    )
    bad = [
        Example(
            """
            import torch.nn as nn

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.BatchNorm2d):  # expect: FZ203
                        m.eval()
                        m.weight.requires_grad = False

            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # every BatchNorm2d is now a SyncBatchNorm
            freeze_bn(model)
            """,
            fixed="""
            import torch.nn as nn

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):  # expect: FZ203
                        m.eval()
                        m.weight.requires_grad = False

            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # every BatchNorm2d is now a SyncBatchNorm
            freeze_bn(model)
            """,
        ),
        Example(
            """
            import torch

            def get_norm(kind, channels):
                return torch.nn.BatchNorm3d(channels) if kind == "3d" else torch.nn.BatchNorm2d(channels)

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, torch.nn.modules.BatchNorm2d):  # expect: FZ203
                        m.eval()
            """,
            fixed="""
            import torch

            def get_norm(kind, channels):
                return torch.nn.BatchNorm3d(channels) if kind == "3d" else torch.nn.BatchNorm2d(channels)

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):  # expect: FZ203
                        m.eval()
            """,
        ),
        Example(
            """
            from torch import nn

            class Neck(nn.Module):
                def _freeze_all(self):
                    for m in self.modules():
                        if isinstance(m, nn.modules.batchnorm):  # expect: FZ203
                            m.eval()
                        for param in m.parameters():
                            param.requires_grad = False
            """,
            fixed="""
            from torch import nn

            class Neck(nn.Module):
                def _freeze_all(self):
                    for m in self.modules():
                        if isinstance(m, nn.modules.batchnorm._BatchNorm):  # expect: FZ203
                            m.eval()
                        for param in m.parameters():
                            param.requires_grad = False
            """,
        ),
        Example(
            """
            from torch.nn.modules import batchnorm

            def train(model, norm_eval=False):
                model.train()
                if norm_eval:
                    for m in model.modules():
                        if isinstance(m, (batchnorm, nn.GroupNorm)):  # expect: FZ203
                            m.eval()
            """,
            fixed="""
            from torch.nn.modules import batchnorm

            def train(model, norm_eval=False):
                model.train()
                if norm_eval:
                    for m in model.modules():
                        if isinstance(m, (batchnorm._BatchNorm, nn.GroupNorm)):  # expect: FZ203
                            m.eval()
            """,
        ),
        Example(
            """
            import torch.nn as nn
            from torch.nn import SyncBatchNorm

            class Encoder(nn.Module):
                def __init__(self, freeze_bn=True):
                    super().__init__()
                    self.freeze_bn = freeze_bn
                    self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
                    self.proj = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))  # walked by self.modules()

                def train(self, mode=True):
                    super().train(mode)
                    if mode and self.freeze_bn:
                        for m in self.modules():
                            if isinstance(m, (nn.BatchNorm2d, SyncBatchNorm)):  # expect: FZ203
                                m.eval()
            """,
            instead="""
            import torch.nn as nn

            class Encoder(nn.Module):
                def __init__(self, freeze_bn=True):
                    super().__init__()
                    self.freeze_bn = freeze_bn
                    self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
                    self.proj = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))

                def train(self, mode=True):
                    super().train(mode)
                    if mode and self.freeze_bn:
                        for m in self.modules():
                            if isinstance(m, nn.modules.batchnorm._BatchNorm):  # every BatchNorm, SyncBatchNorm too
                                m.eval()
            """,
        ),
        Example(
            """
            import torch.nn as nn

            def freeze_bn(model):
                for m in model.modules():
                    if type(m).__name__ == "BatchNorm2d":  # expect: FZ203
                        m.eval()
                        m.weight.requires_grad = False

            model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.BatchNorm1d(8))
            freeze_bn(model)  # the BatchNorm1d keeps updating its statistics
            """,
            instead="""
            import torch.nn as nn

            def freeze_bn(model):
                for m in model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):  # every BatchNorm kind
                        m.eval()
                        m.weight.requires_grad = False

            model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.BatchNorm1d(8))
            freeze_bn(model)
            """,
        ),
        Example(
            """
            import torch.nn as nn

            def set_bn_eval(module):
                classname = module.__class__.__name__
                if classname.startswith("BatchNorm"):  # expect: FZ203
                    module.eval()

            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # SyncBatchNorm: no "BatchNorm" prefix
            model.apply(set_bn_eval)
            """,
            instead="""
            import torch.nn as nn

            def set_bn_eval(module):
                if isinstance(module, nn.modules.batchnorm._BatchNorm):  # SyncBatchNorm too
                    module.eval()

            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            model.apply(set_bn_eval)
            """,
        ),
        Example(
            """
            import torch.nn as nn

            def set_bn_eval(m):
                if m.__class__.__name__.find("BatchNorm") == 0:  # expect: FZ203
                    m.eval()

            def fix_bn(m):
                if type(m).__name__.startswith("Batch"):  # expect: FZ203
                    m.eval()

            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # "SyncBatchNorm" starts with neither
            model.apply(set_bn_eval)
            model.apply(fix_bn)
            """,
            instead="""
            import torch.nn as nn

            def set_bn_eval(m):
                if isinstance(m, nn.modules.batchnorm._BatchNorm):  # SyncBatchNorm too
                    m.eval()

            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            model.apply(set_bn_eval)
            """,
        ),
    ]
    good = [
        """
        import torch.nn as nn

        def weights_init(m):
            classname = m.__class__.__name__
            if classname.find("BatchNorm1d") != -1 or classname == "SyncBatchNorm":  # a test makes no layer
                nn.init.normal_(m.weight, 1.0, 0.02)

        def freeze_bn(model):
            for m in model.modules():
                if m.__class__.__name__.find("BatchNorm2d") != -1:  # the model has BatchNorm2d only
                    m.eval()

        model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
        model.apply(weights_init)
        freeze_bn(model)
        """,
        """
        import torch.nn as nn

        def set_bn_eval(m):
            if "BatchNorm" in type(m).__name__:  # every BatchNorm kind's name has it, SyncBatchNorm's too
                m.eval()

        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model.apply(set_bn_eval)
        """,
        """
        import torch.nn as nn

        def set_bn_eval(m):
            if m.__class__.__name__ == "BatchNorm2d":  # the model has BatchNorm2d only, never converted
                m.eval()

        model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        model.apply(set_bn_eval)
        """,
        """
        import torch.nn as nn

        def freeze_norms(model):
            for m in model.modules():
                if type(m).__name__ == "LayerNorm":  # not a BatchNorm test
                    m.eval()
                    m.weight.requires_grad = False

        model = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.BatchNorm1d(8), nn.LayerNorm(8)))
        """,
        """
        import torch.nn as nn

        def split_bn(model, frozen, trained):
            for m in model.modules():
                if type(m).__name__ == "BatchNorm2d":  # the kinds told apart on purpose
                    m.eval()
                elif type(m).__name__ == "BatchNorm1d":
                    trained.extend(m.parameters())
        """,
        """
        from torch import nn

        def init_weights(model):
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm):  # not a freeze: FZ203 speaks of freezes
                    nn.init.ones_(m.weight)
        """,
        """
        from torch import nn

        def freeze_bn(model, batchnorm=nn.BatchNorm2d):  # a parameter named batchnorm, a class
            for m in model.modules():
                if isinstance(m, batchnorm):
                    m.eval()
        """,
        """
        import torch.nn as nn

        def freeze_bn(model):  # every BatchNorm in sight is a BatchNorm2d, and none is converted
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()

        model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        freeze_bn(model)
        """,
        """
        import torch.nn as nn

        def partial_bn(model, bn_params):
            count = 0
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):  # all but the first frozen, on purpose
                    count += 1
                    if count >= 2:
                        m.eval()
                        m.weight.requires_grad = False
                elif isinstance(m, nn.BatchNorm1d):  # trained: the kinds are told apart
                    bn_params.extend(m.parameters())
        """,
        """
        import torch.nn as nn

        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
                if isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)  # initialisation, not a freeze
        """,
        """
        import torch.nn as nn

        def init_weights(model):
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):  # m.eval() would freeze it
                    nn.init.constant_(m.weight, 1)
                    # for p in m.parameters(): p.requires_grad = False
        """,
        """
        import torch.nn as nn

        def freeze_bn(model):
            for m in model.modules():
                if isinstance(m, (nn.modules.BatchNorm2d, nn.modules.SyncBatchNorm)):  # converted copies too
                    m.eval()
        """,
        """
        import torch.nn as nn
        from mmengine.utils.dl_utils.parrots_wrapper import SyncBatchNorm  # torch's, re-exported

        class Encoder(nn.Module):
            def __init__(self, freeze_bn=True):
                super().__init__()
                self.freeze_bn = freeze_bn
                self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))

            def train(self, mode=True):
                super().train(mode)
                if mode and self.freeze_bn:
                    for m in self.modules():
                        if isinstance(m, (nn.BatchNorm2d, SyncBatchNorm)):  # converted copies too
                            m.eval()
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        text = functools.cache(lambda: _evidence(module))  # once a file, for a candidate only
        yield from self._isinstance_tests(facts, text)
        yield from self._name_tests(facts, text)

    def _name_tests(self, facts: Facts, text: Callable[[], str]) -> Iterable[Finding]:
        """`type(m).__name__ == "BatchNorm2d"`, `m.__class__.__name__.startswith("BatchNorm")`: the
        same narrow test by the class's name, read through the shared class-name predicate."""
        for node, name, test, quals, ctx in facts.bn_name_ifs:
            if any(map(_base, quals)) or not any(q in _NARROW for q in quals):
                continue
            if not _freezes(node, name) or _handles_another(node, facts, ctx) \
                    or not _other_kind_in_sight(quals, facts, text):
                continue
            yield self.finding(
                test,
                f"`{src(test)}` tests the class's name for {_listed(quals)} only and misses the other BatchNorm "
                f"layers ({_missed(quals, text())}): the freeze silently skips them; test "
                f"`isinstance({name}, nn.modules.batchnorm._BatchNorm)`",
                ctx,
            )

    def _isinstance_tests(self, facts: Facts, text: Callable[[], str]) -> Iterable[Finding]:
        for node, name, classes, ctx in facts.isinstance_ifs:
            quals = [facts.qualname(c, ctx.scope) for c in classes]
            if _MODULE in quals:
                if _freezes(node, name):
                    yield self._module_finding(classes[quals.index(_MODULE)], name, ctx)
                continue
            if any(map(_base, quals)) or not any(q in _NARROW for q in quals):
                continue
            if not _freezes(node, name):
                continue
            narrow = [c for c, q in zip(classes, quals) if q in _NARROW]
            if _handles_another(node, facts, ctx):
                continue
            if not _other_kind_in_sight(quals, facts, text):
                continue
            tested = src(classes[0]) if len(classes) == 1 else f"({', '.join(src(c) for c in classes)})"
            fix = None
            if len(classes) == 1 and isinstance(classes[0], cst.Attribute):
                # the `nn` (`torch.nn`, `nn.modules`, `nn.modules.batchnorm`) the code already uses
                base, q = src(classes[0].value), quals[0] or ""
                rest = ("_BatchNorm" if q.startswith("torch.nn.modules.batchnorm.") else
                        "batchnorm._BatchNorm" if q.startswith("torch.nn.modules.") else "modules.batchnorm._BatchNorm")
                new = cst.parse_expression(f"{base}.{rest}")
                fix = Fix(f"Test for `{base}.{rest}`", [(classes[0], new)], safe=False)
            yield self.finding(
                narrow[0],
                f"`isinstance({name}, {tested})` misses the other BatchNorm layers "
                f"({_missed(quals, text())}): the freeze silently skips them; "
                f"test for `nn.modules.batchnorm._BatchNorm`"
                + (" in place of its BatchNorm classes" if len(classes) > 1 else ""),
                ctx,
                fix,
            )

    def _module_finding(self, named: cst.BaseExpression, name: str, ctx) -> Finding:
        """`isinstance(m, nn.modules.batchnorm)`: a module of torch where its base class was meant."""
        fixed = cst.Attribute(value=named, attr=cst.Name("_BatchNorm"))
        return self.finding(
            named,
            f"`{src(named)}` is the Python module that holds torch's BatchNorm classes, not a class: "
            f"`isinstance({name}, ...)` raises TypeError the first time this line runs, so the freeze never "
            f"happens; test for `{src(named)}._BatchNorm`",
            ctx,
            Fix(f"Test for `{src(named)}._BatchNorm`", [(named, fixed)], safe=False),
        )
