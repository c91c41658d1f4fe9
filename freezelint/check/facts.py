"""The facts rules read about one file: extraction (`extract`) plus kind inference (`kinds`).

Layers import downward only: syntax/known -> scopes -> extract -> kinds -> facts -> summaries
-> project -> flow -> rules. Names the rule modules import are re-exported here.
"""

from __future__ import annotations

import builtins
from typing import Any

import libcst as cst

from freezelint.check import traverse
from freezelint.check.extract import Extractor
from freezelint.check.kinds import COPY, MODULE, PARAM, STATE_DICT, Kind, Kinds
from freezelint.check.known import (is_batchnorm_class, is_leaf_module_class, is_module_class,
                                    is_module_factory)
from freezelint.check.scopes import (AttrStore, Binding, ClassInfo, Ctx, ExprStatement, MethodCall, Scope,
                                     qualname)

__all__ = [
    "COPY", "MODULE", "PARAM", "STATE_DICT", "AttrStore", "Binding", "ClassInfo", "Ctx", "ExprStatement",
    "Facts", "Kind", "MethodCall", "Scope", "is_batchnorm_class", "is_leaf_module_class", "is_module_class",
    "is_module_factory",
]


class Facts:
    """One file's extracted scopes and candidate nodes, and what its names hold."""

    def __init__(self, module: cst.Module, extracted: Extractor, code: str | None = None) -> None:
        self.module = module
        self._code = code  # the text the module was parsed from, where the caller has it
        self.extracted = extracted
        self.module_scope: Scope = extracted.module_scope
        self.classes = extracted.classes
        self.attr_stores = extracted.attr_stores
        self.method_calls = extracted.method_calls
        self.name_calls = extracted.name_calls
        self.expr_statements = extracted.expr_statements
        self.isinstance_ifs = extracted.isinstance_ifs
        self.bn_name_ifs = extracted.bn_name_ifs
        self.func_scopes = extracted.func_scopes
        self.kinds = Kinds(extracted)
        # Set by the engine: the project index the flow layer consults (None: this file alone).
        self.project: Any = None
        self.path: str | None = None
        # Set by the engine: the codes this run reports for the file (None: every one). A message may
        # name another rule's code only where it is one of them.
        self.selected: frozenset[str] | None = None
        self.flow_cache: Any = None  # the flow layer's per-file results, built on first use
        self._positions: Any = None
        self.memo: dict[str, dict] = {}  # per question, answers that are the file's syntax alone (modes.quiet's walks)

    @property
    def positions(self) -> Any:
        """libcst's PositionProvider ranges of every node of the file, computed once for the rules'
        messages and the diagnostics alike: a code generation over the whole file, so only where a
        finding or a message needs one (a summary needs only a few lines: lines.start_lines)."""
        if self._positions is None:
            from libcst.metadata import MetadataWrapper, PositionProvider

            self._positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
        return self._positions

    @property
    def code(self) -> str:
        """The file's source: the text it was parsed from (libcst gives it back unchanged), or a
        code generation over the whole module (seconds for a large file), done once."""
        if self._code is None:
            self._code = self.module.code
        return self._code

    @classmethod
    def of(cls, module: cst.Module, code: str | None = None) -> "Facts":
        """`code`: the text `module` was parsed from, if the caller has it."""
        extracted = Extractor()
        traverse.visit(module, extracted)
        return cls(module, extracted, code)

    def bind_star_imports(self, resolve) -> None:
        """`from modeling.deeplab import *`: a name the file calls and binds nowhere is the one a
        star-imported module defines, where `resolve(qualname)` finds it (a project file's top-level
        `def`/`class`); bound as its import, the later star import first, as Python does."""
        if not self.extracted.star_imports:
            return
        scope = self.module_scope
        for name in self.extracted.calls_by_name:
            if name in scope.bindings or hasattr(builtins, name):
                continue
            for module in reversed(self.extracted.star_imports):
                qual = f"{module}{name}" if module.endswith(".") else f"{module}.{name}"
                if resolve(qual) is not None:
                    scope.bind(name, Binding("import", qualname=qual))
                    break

    # ------------------------------------------------------------------ queries
    def qualname(self, expr: cst.BaseExpression, scope: Scope) -> str | None:
        """Fully qualified name of a Name/Attribute reached through imports, or a builtin's name."""
        return qualname(expr, scope)

    def kind(self, expr: cst.BaseExpression, ctx_or_scope: "Ctx | Scope") -> Kind | None:
        """What `expr` holds, or None when it cannot be established."""
        return self.kinds.kind(expr, ctx_or_scope)

    def is_module(self, expr: cst.BaseExpression, ctx: "Ctx | Scope") -> bool:
        return self.kinds.is_module(expr, ctx)

    def resolve_def(self, expr: cst.BaseExpression, scope: Scope) -> cst.FunctionDef | None:
        """The one same-file `def` a called name refers to, else None."""
        return self.kinds.resolve_def(expr, scope)

    def enclosing_class(self, ctx: Ctx) -> ClassInfo | None:
        s: Scope | None = ctx.scope
        while s is not None:
            if s.cls is not None:
                return s.cls
            s = s.parent
        return None

    def reports(self, code: str) -> bool:
        """The run reports `code` for this file: a message may send the reader to that finding."""
        return self.selected is None or code in self.selected

    def function_name(self, ctx: Ctx) -> str | None:
        s: Scope | None = ctx.scope
        while s is not None:
            if s.kind == "function":
                return s.func_name
            s = s.parent
        return None

