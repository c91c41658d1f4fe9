"""FZ108 freeze-method-shadowed: `self.freeze_bn = freeze_bn` hides the class's own `freeze_bn()`."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check.facts import Facts
from freezelint.check.rules.base import ASSIGNED, Example, Finding, Rule, is_property, src
from freezelint.check.rules.fz107_freeze_method_not_called import FREEZE_NAME, SETTINGS_ROOTS
from freezelint.check.scopes import ClassInfo

_LITERALS = (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString,
             cst.Comparison, cst.BooleanOperation, cst.UnaryOperation)
_CONSTANTS = frozenset({"True", "False", "None"})
_DATA_CALLS = frozenset({"bool", "int", "float", "str"})


class FreezeMethodShadowed(Rule):
    code = "FZ108"
    words = ("freeze",)
    triggers = (r"self\.\w*freeze\w*" + ASSIGNED,)
    requires = (r"def[ \t]+\w*freeze",)  # and a method of such a name somewhere in the file
    what = ("Finds an instance attribute given the name of the class's own freezing method: "
            "`self.freeze_bn = freeze_bn` in a class that defines `freeze_bn()`.")
    why = (
        "Python finds an attribute set on the instance before a method of its class. From that line "
        "on, `model.freeze_bn` is the flag: `model.freeze_bn()` raises TypeError (\"'bool' object is not "
        "callable\"), so the method can no longer run on any instance, and the layers it would freeze "
        "(BatchNorm statistics, the first stages) keep training while the flag is read elsewhere as if "
        "they were frozen."
    )
    notes = (
        "Reported when the class, or a base class of the same file, defines a method whose name says it "
        "freezes (`freeze`, `freeze_bn`, `_freeze_stages`, `unfreeze_backbone`) and the value assigned is "
        "data: a literal, a comparison or boolean expression, a parameter of the method, or a setting "
        "(`cfg.freeze_bn`, `args.freeze`). A callable assigned on purpose (a lambda, a function, "
        "`self._freeze_impl`, `functools.partial(...)`) and a `@property` are not reported. No fix: the "
        "flag's new name must be chosen, and every read of it changed with it."
    )
    bad = [
        Example(
            """
            import torch.nn as nn

            class DeepLab(nn.Module):
                def __init__(self, backbone, freeze_bn=False):
                    super().__init__()
                    self.backbone = backbone
                    self.freeze_bn = freeze_bn  # expect: FZ108

                def freeze_bn(self):
                    for m in self.modules():
                        if isinstance(m, nn.BatchNorm2d):
                            m.eval()
            """,
            instead="""
            import torch.nn as nn

            class DeepLab(nn.Module):
                def __init__(self, backbone, freeze_bn=False):
                    super().__init__()
                    self.backbone = backbone
                    self.bn_frozen = freeze_bn  # the flag under a name of its own
                    if freeze_bn:
                        self.freeze_bn()

                def freeze_bn(self):
                    for m in self.modules():
                        if isinstance(m, nn.BatchNorm2d):
                            m.eval()
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class Base(nn.Module):
                def _freeze_stages(self):
                    for p in self.stem.parameters():
                        p.requires_grad = False

            class ResNet(Base):
                def __init__(self, cfg):
                    super().__init__()
                    self.stem = nn.Conv2d(3, 8, 3)
                    self._freeze_stages = cfg.frozen_stages > 0  # expect: FZ108
            """,
        ),
    ]
    good = [
        """
        import torch.nn as nn

        class DeepLab(nn.Module):
            def __init__(self, backbone, freeze_bn=False):
                super().__init__()
                self.backbone = backbone
                self.freeze_bn_flag = freeze_bn  # a name of its own
                if freeze_bn:
                    self.freeze_bn()

            def freeze_bn(self):
                for m in self.modules():
                    if isinstance(m, nn.BatchNorm2d):
                        m.eval()
        """,
        """
        import functools
        import torch.nn as nn

        def no_freeze(self):
            pass

        class Net(nn.Module):
            def __init__(self, frozen, impl):
                super().__init__()
                self.freeze = lambda: None  # a callable put in its place on purpose
                self.freeze_bn = impl
                self._freeze_stages = self._freeze_stages_v2
                self.unfreeze = functools.partial(no_freeze, self)

            def freeze(self):
                pass

            def freeze_bn(self):
                pass

            def _freeze_stages(self):
                pass

            def _freeze_stages_v2(self):
                pass

            def unfreeze(self):
                pass
        """,
        """
        class Options:
            def __init__(self, freeze):
                self.freeze = freeze  # no method of that name here

        class Trainer:
            def __init__(self, args):
                self.freeze_bn = args.freeze_bn

            def run(self):
                return self.freeze_bn
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        methods: dict[int, dict[str, cst.FunctionDef]] = {}
        for store in facts.attr_stores:
            if store.form not in ("assign", "annassign") or store.value is None:
                continue
            if not (isinstance(store.obj, cst.Name) and store.obj.value == "self" and FREEZE_NAME.search(store.attr)):
                continue
            cls = facts.enclosing_class(store.ctx)
            if cls is None:
                continue
            own = methods.get(id(cls))
            if own is None:
                own = methods[id(cls)] = _methods(facts, cls)
            method = own.get(store.attr)
            if method is None or not _data(facts, store.value, store.ctx, store.attr):
                continue
            yield self.finding(
                store.attr_node,
                f"`self.{store.attr} = {src(store.value)}` hides the method `{store.attr}()` of `{cls.name}` on "
                f"every instance: `{store.attr}()` then raises TypeError and never freezes anything; give the "
                f"flag a name of its own (`self.{store.attr.lstrip('_')}_flag`)",
                store.ctx,
            )


def _methods(facts: Facts, cls: ClassInfo, depth: int = 0) -> dict[str, cst.FunctionDef]:
    """The methods a class defines or inherits from classes of the same file (not properties)."""
    found: dict[str, cst.FunctionDef] = {}
    if depth < 8:
        for base in cls.node.bases:
            if isinstance(base.value, cst.Name) and base.value.value in facts.classes:
                found.update(_methods(facts, facts.classes[base.value.value], depth + 1))
    for stmt in cls.node.body.body:
        if isinstance(stmt, cst.FunctionDef):
            if is_property(stmt):
                found.pop(stmt.name.value, None)
            else:
                found[stmt.name.value] = stmt
    return found


def _data(facts: Facts, value: cst.BaseExpression, ctx, attr: str) -> bool:
    """The value is a flag or setting, never a callable: a literal, a test, a flag parameter, a setting."""
    if isinstance(value, _LITERALS):
        return True
    if isinstance(value, cst.Name):
        if value.value in _CONSTANTS:
            return True
        owner = ctx.scope.lookup(value.value)
        bound = owner.bindings.get(value.value, []) if owner is not None else []
        return bool(bound) and all(b.how == "param" and _flag_param(b.node, attr) for b in bound)
    if isinstance(value, cst.Call):
        return isinstance(value.func, cst.Name) and value.func.value in _DATA_CALLS
    root = value
    while isinstance(root, (cst.Attribute, cst.Subscript)):
        root = root.value
    return isinstance(root, cst.Name) and root.value in SETTINGS_ROOTS and root is not value


def _flag_param(param: cst.CSTNode | None, attr: str) -> bool:
    """A parameter that holds a flag: the attribute's own name (`freeze_bn=False` stored as
    `self.freeze_bn`), a literal default, or a bool/int/str annotation; one passed a callable
    (`impl`) may be the method's replacement."""
    if not isinstance(param, cst.Param):
        return False
    ann = src(param.annotation.annotation) if param.annotation is not None else ""
    if "Callable" in ann:
        return False
    if param.name.value == attr or ann in ("bool", "int", "str"):
        return True
    default = param.default
    # not a None default: `freeze_fn=None` is the optional-callback idiom
    return isinstance(default, (cst.Integer, cst.Float, cst.SimpleString)) or \
        isinstance(default, cst.Name) and default.value in ("True", "False")
