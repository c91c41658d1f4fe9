"""What a rule is: code, text triggers, docs, examples, and a check over shared facts.

A rule module is the single source of truth for its code: the message, the rationale ("why"),
the bad examples (each bad line marked `# expect: FZxxx`, with the documented fixed output) and
the good near-misses. Tests run every example; `freezelint rules --markdown` renders the pages.
"""

from __future__ import annotations

import re
import textwrap
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Iterable

import libcst as cst

from freezelint import codes
from freezelint.check.declared import class_of
from freezelint.check.facts import AttrStore, Ctx, Facts
from freezelint.check.flow import flows_of, note_used
from freezelint.check.syntax import assigned_pairs, walk


# Trigger fragment: an assignment `= v` or `: T = v` right after a name (never `==`), or the name
# is one target of several (`a.x, b.y = u, v`: extract.visit_Assign's pairs).
ASSIGNED = r"\s*(?:[:,][^=\n]*)?=(?!=)"
# Text gates over-approximate, and a leading `\b` costs re the scan for the pattern's first
# characters (it then tries every position: the optimizer gate over timm + torchvision, 396 -> 68 ms
# without it): gate patterns start with what they match.
# An optimizer being constructed (torch.optim classes and the usual third-party names).
OPTIMIZER_CALL = (r"(?:SGD|ASGD|Adam|AdamW|Adamax|NAdam|RAdam|RMSprop|Rprop|Adagrad|Adadelta|LBFGS|SparseAdam|"
                  r"Adafactor|LAMB|Lamb|LARS|Lion|Prodigy)\s*\(")
# An optimizer class named without a call, to be called through a name (`optimizer_class =
# bnb.optim.AdamW8bit if args.use_8bit_adam else torch.optim.AdamW`, then `optimizer_class(params)`),
# or looked up by name (`getattr(torch.optim, cfg.optimizer)`), or imported by its bare name from an
# optimizer package (`from bitsandbytes.optim import AdamW8bit`): triggers of their own.
OPTIMIZER_CLASS = (r"optim\.[A-Z]\w*", r"getattr\(\s*(?:torch\.)?optim\s*,",
                   r"from\s+(?:torch\.optim|bitsandbytes\.optim|bitsandbytes|prodigyopt|transformers\.optimization)"
                   r"\s+import\b")
# requires_grad turned off / on, in any of the forms the rules understand (events.requires_grad_sets).
FREEZES = (r"requires_grad\s*(?::[^=\n]*)?=\s*False|requires_grad_\(\s*(?:False|requires_grad\s*=\s*False)"
           r"|['\"]requires_grad['\"]\s*,\s*False"
           r"|requires_grad\s*(?:,[^=\n]*=[^=\n]*|=[^=\n]*,\s*)False"  # one target of several (`a.x, b.y = u, v`)
           r"|\.(?:freeze_feature_encoder|freeze_feature_extractor|freeze_base_model)\(")  # events.LIBRARY_FREEZES
# Freezes as meant, including the broken spellings FZ101/FZ103/FZ104 report (the flow rules
# treat them as the freeze the author intended, so one run reports everything).
FREEZES_MEANT = (FREEZES + r"|requires_grad_\s*=\s*False|requires_grad\s*==\s*False"
                 r"|\b(?:require_grads?|requires_grads|requires_gradient|requiresGrad|require_gradient)\s*=\s*False"
                 r"|(?:requires_grad_|require_grads?|requires_grads|requires_gradient|requiresGrad|require_gradient)"
                 r"\s*(?:,[^=\n]*=[^=\n]*|=[^=\n]*,\s*)False")
UNFREEZES = (r"requires_grad\s*(?::[^=\n]*)?=\s*True|requires_grad_\(\s*(?:True|requires_grad\s*=\s*True)?\s*\)"
             r"|['\"]requires_grad['\"]\s*,\s*True|requires_grad\s*(?:,[^=\n]*=[^=\n]*|=[^=\n]*,\s*)True")
# A Lightning Callback class: Lightning built the optimizer before its training hooks run, so a
# file with one needs no optimizer call of its own for FZ301-FZ303 (the module may be elsewhere).
LIGHTNING_CALLBACK = r"class\s+\w+\s*\([^)]*\b(?:Callback|BaseFinetuning)\b"
LIGHTNING_WORDS = ("Callback", "BaseFinetuning")


@dataclass(frozen=True)
class Example:
    source: str
    fixed: str | None = None  # expected output of --fix (--unsafe-fixes for unsafe fixes)
    unsafe: bool = False  # the fix is unsafe here although the rule's fix is safe where the kind is known
    # the corrected code, where no automatic fix writes it: the rule page's "Use instead"
    instead: str | None = None

    @property
    def code(self) -> str:
        return textwrap.dedent(self.source).lstrip("\n")

    @property
    def fixed_code(self) -> str | None:
        return None if self.fixed is None else textwrap.dedent(self.fixed).lstrip("\n")

    @property
    def corrected(self) -> str | None:
        """The example as it should be written: what --fix makes of it, or its `instead`."""
        if self.fixed is not None:
            return self.fixed_code
        return None if self.instead is None else textwrap.dedent(self.instead).lstrip("\n")


@dataclass(eq=False)
class Fix:
    """Replace nodes of the original tree: `old` node -> `new` node (or several statements)."""

    message: str
    replacements: list[tuple[cst.CSTNode, cst.CSTNode | cst.FlattenSentinel]]
    safe: bool = True


@dataclass(eq=False)
class Finding:
    code: str
    node: cst.CSTNode  # the span reported
    message: str
    stmt: cst.CSTNode | None = None  # the enclosing statement (noqa on its first line works too)
    fix: Fix | None = None


class Rule(ABC):
    """Base class. Subclasses set the class attributes and implement `check`."""

    code: ClassVar[str]
    # Regexes: a file is parsed only if, for some selected rule, its text matches one of the
    # rule's `triggers` and every one of its `requires`.
    triggers: ClassVar[tuple[str, ...]]
    requires: ClassVar[tuple[str, ...]] = ()
    # Plain substrings, one of which the text must contain before any regex runs (fast).
    words: ClassVar[tuple[str, ...]] = ()
    what: ClassVar[str]  # "What it does"
    why: ClassVar[str]  # "Why is this bad?" — must agree with PYTORCH_FACTS.md
    fix_title: ClassVar[str | None] = None
    # For a safe fix that is unsafe in some cases: when (completes "It is unsafe when ...").
    fix_unsafe_when: ClassVar[str] = ""
    bad: ClassVar[list[Example]] = []
    good: ClassVar[list[str]] = []
    notes: ClassVar[str] = ""

    @property
    def info(self) -> codes.Code:
        return codes.get(self.code)

    @abstractmethod
    def check(self, facts: Facts, module: cst.Module) -> Iterable[Finding]:
        """Yield the findings of this rule in one file."""

    def finding(self, node: cst.CSTNode, message: str, ctx: Ctx | None = None,
                fix: Fix | None = None, stmt: cst.CSTNode | None = None,
                facts: Facts | None = None, used: Iterable = (), edges: Iterable = ()) -> Finding:
        """`used`: the flow events the finding rests on; with `facts`, the cross-file edges that
        carried them (and `edges`) are recorded under the finding for --show-project."""
        if facts is not None:
            note_used(facts, self.code, node, used, edges)
        return Finding(self.code, node, message, stmt if stmt is not None else (ctx.stmt if ctx else None), fix)


def _text(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def is_property(fn: cst.FunctionDef) -> bool:
    """A `@property` (or `functools.cached_property`) def, or one of its setters/getters/deleters:
    the name is data on instances, not a method."""
    for d in fn.decorators:
        name = src(d.decorator)
        if name.rpartition(".")[2] in ("property", "cached_property") or name.endswith((".setter", ".getter",
                                                                                         ".deleter")):
            return True
    return False


def src(node: cst.CSTNode) -> str:
    """Source text of a node on one line, for messages (a finding is one line in every format):
    a multi-line expression loses its comments, line breaks and the indentation after them."""
    text = _text(node)
    if "\n" not in text and "\r" not in text:
        return text
    text = re.sub(r"\s*\\?\s*[\r\n]\s*", " ", _text(node.visit(_StripComments()))).strip()
    return re.sub(r" ([)\]}])", r"\1", re.sub(r"([(\[{]) ", r"\1", text))


def value_src(value: cst.BaseExpression | None, missing: str = "v") -> str:
    """A value as a message quotes it, ready to stand as a call's argument: one line, without
    parentheses of its own (`(\n    False\n)` -> `False`); a tuple keeps them."""
    if value is None:
        return missing
    return src(value if isinstance(value, cst.Tuple) else value.with_changes(lpar=[], rpar=[]))


def module_said(facts: Facts, obj: str, proofs: list[tuple[cst.Call, ...]]) -> str:
    """"`model` is an nn.Module", or where only its use says so (Kinds.use_proofs), which use (the
    first in the file): "`scorer` is used as an nn.Module (`scorer.eval()` at line 18)"."""
    if not proofs:
        return f"`{obj}` is an nn.Module"
    positions = flows_of(facts).positions
    shown = min(([(positions[call].start.line, _short(call)) for call in proof if call in positions]
                 for proof in proofs), key=lambda lines: min(lines, default=(0, ""))[0] or 10**9)
    if not shown:
        return f"`{obj}` is used as an nn.Module"
    return f"`{obj}` is used as an nn.Module ({' and '.join(f'`{t}` at line {n}' for n, t in sorted(shown))})"


def part_said(facts: Facts, obj: cst.Attribute, ctx: Ctx, built: list) -> str:
    """Why `model.backbone` is taken for a submodule (declared.named_part, whose constructors are
    `built`): "`model.backbone` is taken for a submodule, as `backbone` names a part of a model and
    `model` is an nn.Module"."""
    root = obj.value
    why = module_said(facts, src(root), facts.kinds.use_proofs(root, ctx.scope))
    if built:
        why += f", built by `{src(class_of(built[0][0]))}(...)`, a class of another package the checker cannot read"
    return f"`{src(obj)}` is taken for a submodule, as `{obj.attr.value}` names a part of a model and {why}"


def _short(call: cst.Call) -> str:
    """The call's text, its arguments elided when long (`self.model(inputs)`, `model.train(...)`)."""
    text = src(call)
    if len(text) <= 40 and "\n" not in text:
        return text
    return f"{src(call.func)}(...)"


def call_with(func: cst.BaseExpression, value: cst.BaseExpression) -> cst.Call:
    """`func(value)`; a parenthesized value gives its parentheses to the call, with the line breaks
    inside them (`x.requires_grad = (\n    False\n)` -> `x.requires_grad_(\n    False\n)`)."""
    if len(value.lpar) == 1 and len(value.rpar) == 1:
        lpar, rpar = value.lpar[0], value.rpar[0]
        arg = cst.Arg(value.with_changes(lpar=[], rpar=[]), whitespace_after_arg=rpar.whitespace_before)
        return cst.Call(func, [arg], whitespace_before_args=lpar.whitespace_after)
    return cst.Call(func, [cst.Arg(value)])


def does_nothing(value: cst.BaseExpression | None) -> str:
    """What a requires_grad change that never lands fails to do: with `True` the author meant to
    unfreeze, with a flag either."""
    if isinstance(value, cst.Name) and value.value in ("True", "False"):
        return "freezes nothing" if value.value == "False" else "unfreezes nothing"
    return "freezes or unfreezes nothing"


class _StripComments(cst.CSTTransformer):
    def leave_EmptyLine(self, original: cst.EmptyLine, updated: cst.EmptyLine):
        return cst.RemoveFromParent() if updated.comment is not None else updated

    def leave_TrailingWhitespace(self, original: cst.TrailingWhitespace, updated: cst.TrailingWhitespace):
        return updated.with_changes(comment=None, whitespace=cst.SimpleWhitespace(""))


def code_of(node: cst.CSTNode) -> str:
    """Source text of a node without its comments: rules that search code text must never match
    a commented-out line (`# m.eval()`, `# p.requires_grad = False`)."""
    return _text(node.visit(_StripComments()))


def _fixable_value(value: cst.BaseExpression | None) -> bool:
    # A bare tuple or starred value would change meaning once it becomes a call argument.
    return value is not None and not isinstance(value, (cst.Tuple, cst.Yield, cst.StarredElement))


def _pure(value: cst.BaseExpression) -> bool:
    # Values that may be evaluated once per target without changing behaviour.
    return isinstance(value, (cst.Name, cst.Integer, cst.Float, cst.SimpleString)) or (
        isinstance(value, cst.Attribute) and _pure(value.value)
    )


def _replace_store(store: AttrStore, new_small: cst.BaseSmallStatement | None,
                   new_expr: cst.BaseExpression | None, message: str, safe: bool = True) -> Fix | None:
    """Swap the store for `new_small` (statement forms) or `new_expr` (setattr form)."""
    node = store.node
    if store.form == "setattr":
        assert new_expr is not None
        return Fix(message, [(node, new_expr.with_changes(lpar=node.lpar, rpar=node.rpar))], safe)
    if store.unpacked:
        return _split_unpacked(store, new_small, message, safe)
    if store.form == "annassign" or (store.form == "assign" and len(node.targets) == 1):
        return Fix(message, [(node, new_small.with_changes(semicolon=node.semicolon))], safe)
    if store.form == "assign" and _pure(node.value):
        # `a.x = b.y = v` -> one statement per target, left to right as Python assigns them.
        parts: list[cst.BaseSmallStatement] = []
        for i, t in enumerate(node.targets):
            parts.append(new_small if i == store.target_index
                         else cst.Assign(targets=[t.with_changes()], value=node.value))
        parts[-1] = parts[-1].with_changes(semicolon=node.semicolon)
        return Fix(message, [(node, cst.FlattenSentinel(parts))], safe)
    return None


def _split_unpacked(store: AttrStore, new_small: cst.BaseSmallStatement | None, message: str,
                    safe: bool) -> Fix | None:
    """`a.x, b.y = u, v` -> one statement per pair, the reported one replaced. Only where that keeps
    the meaning: one target list, and values no pair's assignment can change (constants, or names
    no target rebinds: `self.a, self.b = self.b, self.a` swaps and stays as it is)."""
    node = store.node
    if not isinstance(node, cst.Assign) or len(node.targets) != 1 or new_small is None:
        return None
    pairs = assigned_pairs(node.targets[0].target, node.value)
    bound = {n.value for t, _ in pairs for n in walk(t) if isinstance(n, cst.Name)}
    if not all(_constant(v) or isinstance(v, cst.Name) and v.value not in bound for _, v in pairs):
        return None
    parts: list[cst.BaseSmallStatement] = [
        new_small if t is store.attr_node else cst.Assign(targets=[cst.AssignTarget(t.with_changes(lpar=[], rpar=[]))],
                                                          value=v.with_changes(lpar=[], rpar=[]))
        for t, v in pairs]
    parts[-1] = parts[-1].with_changes(semicolon=node.semicolon)
    return Fix(message, [(node, cst.FlattenSentinel(parts))], safe)


def _constant(value: cst.BaseExpression) -> bool:
    if isinstance(value, cst.UnaryOperation):
        value = value.expression
    return isinstance(value, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString)) or \
        isinstance(value, cst.Name) and value.value in ("True", "False", "None")


def call_fix(store: AttrStore, method: str, message: str, safe: bool = True, pass_value: bool = True) -> Fix | None:
    """`obj.attr = v` -> `obj.method(v)` (`obj.method()` without `pass_value`: `m.eval()` for `m.training = False`)."""
    if store.form not in ("assign", "annassign", "setattr") or not _fixable_value(store.value):
        return None
    func = cst.Attribute(store.obj, cst.Name(method))
    call = call_with(func, store.value) if pass_value else cst.Call(func)
    return _replace_store(store, cst.Expr(call), call, message, safe)


def rename_fix(store: AttrStore, new_attr: str, message: str, safe: bool = True) -> Fix | None:
    """`obj.wrong = v` -> `obj.right = v`, in place."""
    node = store.attr_node
    if store.form == "setattr":
        assert isinstance(node, cst.SimpleString)
        quote = node.quote
        return Fix(message, [(node, node.with_changes(value=f"{node.prefix}{quote}{new_attr}{quote}"))], safe)
    assert isinstance(node, cst.Attribute)
    return Fix(message, [(node.attr, node.attr.with_changes(value=new_attr))], safe)
