"""FZ403 state-dict-entry-assigned: an entry written into the new dict `state_dict()` returned."""

from __future__ import annotations

from typing import Iterable, Iterator

import libcst as cst

from freezelint.check import traverse
from freezelint.check.facts import Facts, Scope
from freezelint.check.rules.base import Example, Finding, Rule, src
from freezelint.check.syntax import call_arg

# Methods that write into a dict (`setdefault` only as a statement of its own: its value is the
# entry already there, a tensor that shares the parameter's storage, when the key exists).
_WRITERS = ("update", "__setitem__", "setdefault")
# Text gate: `X.state_dict()[k]`, `X.state_dict().update(` (written unnamed); `sd = X.state_dict()` and later
# `sd[k] =`, `sd[k].data =`, `sd[k]: T =` or `sd.update(` (bound to a name and written through it). The
# key may run over lines (`sd[\n k\n] = v`, one level of brackets inside), the binding be annotated
# (`sd: dict = ...`) or parenthesised over lines, and the receiver any expression on its line
# (`copy.deepcopy(model, memo).state_dict()`).
_KEY = r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]"
_WRITTEN_CALL = r"state_dict\([^)\n]*\)\s*(?:\[|\.\s*(?:update|setdefault|__setitem__)\b)"
# the same, the entry's store itself (`state_dict()[k] = v`, not a read such as `state_dict()[k].shape`)
_STORED_CALL = (r"state_dict\([^)\n]*\)\s*(?:" + _KEY + r"[ \t]*(?:\.[ \t]*data[ \t]*)?(?::[^=\n]*)?=(?!=)"
                r"|\.\s*(?:update|setdefault|__setitem__)\b)")
_BOUND = r"=[ \t]*(?:\(\s*)?[^\n=]*?\.state_dict\("  # `= X.state_dict(`, `= (\n X.state_dict(`
_WRITTEN_NAME = (r"(?<!\w)(\w+)[ \t]*(?::[^=\n]*)?" + _BOUND + r"(?s:.*?)(?<![\w.])\1[ \t]*"
                 r"(?:" + _KEY + r"[ \t]*(?:\.[ \t]*data[ \t]*)?(?::[^=\n]*)?=(?!=)"
                 r"|\.[ \t]*(?:update|setdefault|__setitem__)[ \t]*\()")
# Calls that make a scope's names readable by name (`locals()["sd"]`): nothing can be said of them.
_INTROSPECTION = ("locals", "vars", "eval", "exec")


class StateDictEntryAssigned(Rule):
    code = "FZ403"
    words = ("state_dict",)
    triggers = (_WRITTEN_CALL, _BOUND)  # cheap: written unnamed, or bound
    # a store into an entry (`] =`, `]: T =`, `].data =`) or a writing method; then the call written into
    # unnamed, or a name bound to it written into after (its costlier scan runs only on files the rest admits)
    requires = (r"\]\s*(?:\.\s*data\s*)?(?::[^=\n]*)?=(?!=)|\.\s*(?:update|setdefault|__setitem__)\s*\(",
                _STORED_CALL + "|" + _WRITTEN_NAME)
    what = (
        "Finds entries written into the dict `state_dict()` returned (`model.state_dict()[k] = v`, "
        "`.update(d)`, `.setdefault(k, v)`, `model.state_dict()[k].data = v`), and a local "
        "`sd = model.state_dict()` written so and then dropped: never loaded, saved, returned, passed on or "
        "stored."
    )
    why = (
        "`Module.state_dict()` builds a new dict on every call; its values are detached tensors that share "
        "the parameters' storage. Rebinding a key of that dict (or `.data` of one of its tensors) changes the "
        "dict and nothing else: the model keeps its weights, nothing is loaded, and no error is raised. Layers "
        "frozen afterwards keep their random initialisation. Writing into a tensor of the dict is different: "
        "`sd[k].copy_(v)`, `sd[k][...] = v` and `sd[k] += v` change the shared storage, so they do load."
    )
    notes = (
        "Not reported: in-place writes into an entry (`copy_`, `sd[k][...] = v`, augmented assignment "
        "`sd[k] += v`, which Python runs as an in-place `__iadd__` on the tensor), a dict of a checkpoint "
        "(`ckpt[\"state_dict\"][k] = v`: no call), `.data` rebound on `state_dict(keep_vars=True)` (its values "
        "are the Parameters themselves), a `state_dict(destination)` call, `super().state_dict()`, and a receiver "
        "whose class defines its own `state_dict` (in the file or in another project file, also through a "
        "project base class): it may hand back a dict it keeps. A named dict is reported only when it is bound "
        "once in its function (or module) to the call (`sd = X.state_dict()`, `sd: dict = X.state_dict()`, in "
        "parentheses over lines too) and every other use of the name is a write, a read of an "
        "entry inside a write, `.keys()`, a `for` over it or an `in` test, or a `for k, v in sd.items()` loop "
        "whose body holds every write and each writes `sd[k]` (the entry that pass has read already, `k` not "
        "rebound); any other use (passed to a call, "
        "returned, stored, aliased, read by a nested function, an entry read elsewhere, `sd[k] += v`) counts as "
        "keeping it (`del sd` drops it). The key may run over several lines, `sd[` and `] = v` on lines of their own. An optimizer's or LR scheduler's `state_dict()` is a new dict too and is reported with "
        "advice of its own (`opt.load_state_dict(d)`)."
    )
    bad = [
        Example(
            """
            from copy import deepcopy

            for k in dst.state_dict().keys():
                if k in pretrained:
                    dst.state_dict()[k] = deepcopy(pretrained[k])  # expect: FZ403
            for p in dst.parameters():
                p.requires_grad = False
            """,
            instead="""
            for k in dst.state_dict().keys():
                if k in pretrained:
                    dst.state_dict()[k].copy_(pretrained[k])  # in place: the parameter's storage
            for p in dst.parameters():
                p.requires_grad = False
            """,
        ),
        Example(
            """
            def load_backbone(model, weights):
                model.state_dict().update(weights)  # expect: FZ403
                model.backbone.state_dict()["conv1.weight"].data = weights["conv1.weight"]  # expect: FZ403
                model.head.state_dict().setdefault("bias", weights["bias"])  # expect: FZ403
            """,
            instead="""
            def load_backbone(model, weights):
                result = model.load_state_dict(weights, strict=False)
                assert not result.unexpected_keys, result
            """,
        ),
        Example(
            """
            import torch

            def init_from(model, path):
                pretrained = torch.load(path)
                own = model.state_dict()
                for name in own:
                    if name in pretrained:
                        own[name] = pretrained[name]  # expect: FZ403
                model.requires_grad_(False)
            """,
            instead="""
            import torch

            def init_from(model, path):
                pretrained = torch.load(path)
                own = model.state_dict()
                for name in own:
                    if name in pretrained:
                        own[name] = pretrained[name]
                model.load_state_dict(own)
                model.requires_grad_(False)
            """,
        ),
        Example(
            """
            def scale_embeddings(encoder, factor):
                sd = encoder.state_dict()
                sd["embed.weight"] = sd["embed.weight"] * factor  # expect: FZ403
            """
        ),
        Example(
            """
            def soft_update(target, source, tau):
                target_dict = target.state_dict()
                source_dict = source.state_dict()
                for k, target_value in target_dict.items():
                    source_value = source_dict[k]
                    if source_value.dtype.is_floating_point:
                        target_value.mul_(1 - tau).add_(tau * source_value)  # in place: loads
                    else:  # BatchNorm's num_batches_tracked
                        target_dict[k] = source_value  # expect: FZ403
            """
        ),
        Example(
            """
            import copy

            def init_student(teacher, pretrained):
                state: dict = copy.deepcopy(teacher, {}).state_dict()
                for name in pretrained:
                    state[  # expect: FZ403
                        name.replace("module.", "")
                    ] = pretrained[name]
            """
        ),
    ]
    good = [
        """
        import copy

        def init_student(teacher, pretrained):
            student = copy.deepcopy(teacher, {})
            state: dict = student.state_dict()
            for name in pretrained:
                state[
                    name.replace("module.", "")
                ] = pretrained[name]
            student.load_state_dict(state)  # loaded: the written dict is used
            return student
        """,
        """
        def load(model, pretrained):
            sd = model.state_dict()
            for k in sd:
                if k in pretrained:
                    sd[k] = pretrained[k]
            model.load_state_dict(sd)
        """,
        """
        import torch

        def export(model, path):
            sd = model.state_dict()
            sd["meta"] = torch.tensor(1)
            torch.save(sd, path)

        def renamed(model):
            sd = model.state_dict()
            sd["head.weight"] = sd.pop("fc.weight")
            return sd
        """,
        """
        def copy_in_place(model, pretrained):
            for k, v in pretrained.items():
                model.state_dict()[k].copy_(v)  # the detached tensor shares the parameter's storage
                model.state_dict()[k][...] = v
                model.state_dict()[k].data.copy_(v)
                model.state_dict()[k] += 0  # in place too: Tensor.__iadd__
            own = model.state_dict()
            own["fc.bias"] *= 0.5
        """,
        """
        import torch

        ckpt = torch.load("model.pt")
        for k in list(ckpt["state_dict"]):
            ckpt["state_dict"][k] = ckpt["state_dict"][k].float()  # a checkpoint's dict: no call
        ckpt.state_dict = {}
        """,
        """
        class EMA:
            def __init__(self, model):
                self.shadow = {k: v.clone() for k, v in model.state_dict().items()}

            def state_dict(self):
                return self.shadow  # the dict it keeps, not a new one

            def reset(self, model):
                for k, v in model.state_dict().items():
                    self.state_dict()[k] = v.clone()

        def restore(ema, model):
            ema = EMA(model)
            ema.state_dict()["step"] = 0
        """,
        """
        def merge(model, adapters):
            sd = model.state_dict()
            for name, weight in adapters.items():
                sd[name] = weight
            missing, unexpected = model.load_state_dict(sd, strict=False)
            print(missing, unexpected)

        def keep_vars(model, weights):
            model.state_dict(keep_vars=True)["fc.weight"].data = weights  # the Parameter itself
        """,
        """
        def strip_prefix(model, pretrained):
            sd = model.state_dict()
            for k, v in sd.items():
                k = k.replace("module.", "")  # another key: a later pass of the loop may read it
                sd[k] = pretrained[k]

        def read_back(model, pretrained):
            sd = model.state_dict()
            sd["fc.weight"] = pretrained["fc.weight"]
            for name, value in sd.items():  # the written entry is read and used
                model.get_parameter(name).data = value
        """,
        """
        def patch(model, weights):
            own = model.state_dict()
            own["fc.weight"] = weights
            model.fc.weight.data = own["fc.weight"]  # the written entry is read back and used

        def cached(model):
            sd = model.state_dict()
            sd["step"] = 0

            def later():
                return sd  # kept by a nested function
            return later
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        calls = [mc for mc in facts.method_calls if mc.method == "state_dict"]
        for mc in calls:
            writes = list(_direct_writes(mc.call, mc.ctx.stmt)) if _fresh(mc.call) else []
            if writes and not _own_state_dict(facts, mc.obj, mc.ctx.scope):  # (the receiver asked only then)
                for node, what in writes:
                    yield self.finding(node, _direct_message(facts, mc, node, what), mc.ctx)
        for mc in calls:
            found = _dropped_local(facts, mc, module)
            if found is not None:
                name, write, what, stmt = found
                yield self.finding(write, _local_message(facts, mc, name, write, what), mc.ctx, stmt=stmt)


def _fresh(call: cst.Call) -> bool:
    """`X.state_dict()` builds a new dict: no `destination` to fill (it would return that one)."""
    return not any(a.keyword is None or a.keyword.value == "destination" for a in call.args)


def _keep_vars(call: cst.Call) -> bool:
    keep = call_arg(call, 99, "keep_vars")
    return keep is not None and not (isinstance(keep, cst.Name) and keep.value == "False")


def _targets(small: cst.BaseSmallStatement) -> list[cst.BaseExpression]:
    """What a plain or annotated assignment stores into (an augmented one writes in place)."""
    if isinstance(small, cst.Assign):
        return [t.target for t in small.targets]
    if isinstance(small, cst.AnnAssign) and small.value is not None:
        return [small.target]
    return []


def _entry_of(target: cst.BaseExpression, base: cst.BaseExpression, keep_vars: bool) -> str | None:
    """How `target` writes into the dict `base` evaluates to: "entry" for `base[k]`, "data" for
    `base[k].data` (not with keep_vars: that is the Parameter's own .data); else None."""
    if isinstance(target, cst.Subscript) and target.value is base:
        return "entry"
    if isinstance(target, cst.Attribute) and target.attr.value == "data" and not keep_vars \
            and isinstance(target.value, cst.Subscript) and target.value.value is base:
        return "data"
    return None


def _writer_call(call: cst.Call, base: cst.BaseExpression, stmt: cst.CSTNode) -> str | None:
    """`base.update(...)` / `base.__setitem__(...)`, or `base.setdefault(...)` as a statement."""
    func = call.func
    if not (isinstance(func, cst.Attribute) and func.value is base and func.attr.value in _WRITERS):
        return None
    if func.attr.value == "setdefault" and not _bare(call, stmt):
        return None
    return func.attr.value


def _bare(call: cst.Call, stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(s, cst.Expr) and s.value is call for s in stmt.body)


def _direct_writes(call: cst.Call, stmt: cst.CSTNode) -> Iterator[tuple[cst.CSTNode, str]]:
    """Writes into the dict of this very call: `X.state_dict()[k] = v`, `X.state_dict().update(d)`."""
    if not isinstance(stmt, cst.SimpleStatementLine):
        return
    keep = _keep_vars(call)
    for small in stmt.body:
        for target in _targets(small):
            what = _entry_of(target, call, keep)
            if what is not None:
                yield target, what
        for node in traverse.walk(small):
            if isinstance(node, cst.Call):
                what = _writer_call(node, call, stmt)
                if what is not None:
                    yield node, what


def _own_state_dict(facts: Facts, receiver: cst.BaseExpression, scope: Scope) -> bool:
    """The receiver's class defines state_dict() itself (in the file, or in a project file, or in a
    base class of either): it may return a dict it keeps, and writing into it is no mistake.
    `super().state_dict()` is that of a base this rule does not read: left alone too."""
    if isinstance(receiver, cst.Call):
        return isinstance(receiver.func, cst.Name) and receiver.func.value == "super"
    if isinstance(receiver, cst.Name) and receiver.value == "self":
        owner = scope.lookup("self")
        cls = owner.cls if owner is not None and owner.is_method else None
        return cls is not None and _class_defines(facts, cls.node, 0)
    kind = facts.kind(receiver, scope)
    if kind is not None and kind.cls is not None and _class_defines(facts, kind.cls.node, 0):
        return True
    for func, where in facts.kinds.constructors(receiver, scope):
        info = facts.kinds.local_class(func, where)
        if info is not None and _class_defines(facts, info.node, 0):
            return True
        if info is None and _project_defines(facts, func, where):
            return True
    return False


def _class_defines(facts: Facts, node: cst.ClassDef, depth: int) -> bool:
    """`node` (a class of this file) or one of its bases of this file or of the project defines state_dict."""
    if any(isinstance(s, cst.FunctionDef) and s.name.value == "state_dict" for s in node.body.body):
        return True
    if depth > 8:
        return False
    for arg in node.bases:
        base = arg.value.value if isinstance(arg.value, cst.Subscript) else arg.value
        info = facts.kinds.local_class(base, facts.module_scope)
        if info is not None and info.node is not node and _class_defines(facts, info.node, depth + 1):
            return True
        if info is None and _project_defines(facts, base, facts.module_scope):
            return True
    return False


def _project_defines(facts: Facts, func: cst.BaseExpression, scope: Scope) -> bool:
    project = facts.project
    if project is None or facts.path is None:
        return False
    qual = facts.qualname(func, scope)
    return bool(qual) and project.defines_state_dict(facts.path, qual)


def _optimizer(facts: Facts, receiver: cst.BaseExpression, scope: Scope) -> bool:
    """Every value the receiver is given is built by a torch.optim class (an optimizer or an LR scheduler)."""
    built = facts.kinds.constructors(receiver, scope)
    return bool(built) and all((facts.qualname(f, w) or "").startswith("torch.optim.") for f, w in built)


def _key(target: cst.CSTNode) -> str:
    """The key of `d[k]` / `d[k].data` as the message quotes it (`k` when long)."""
    sub = target.value if isinstance(target, cst.Attribute) else target
    if isinstance(sub, cst.Subscript) and len(sub.slice) == 1:
        text = src(sub.slice[0].slice)
        if len(text) <= 30:
            return text
    return "k"


def _direct_message(facts: Facts, mc, node: cst.CSTNode, what: str) -> str:
    obj = src(mc.obj)
    call = f"{obj}.state_dict()"
    if _optimizer(facts, mc.obj, mc.ctx.scope):
        written = f"`{call}[{_key(node)}] = ...`" if what in ("entry", "data") else f"`{call}.{what}(...)`"
        return (f"{written} writes into the new dict that `state_dict()` returned, not into `{obj}`: its state and "
                f"param groups keep their values; edit the dict under a name and load it with "
                f"`{obj}.load_state_dict(d)`")
    if what == "data":
        key = _key(node)
        return (f"`{call}[{key}].data = ...` rebinds `.data` of a detached copy in the new dict that "
                f"`state_dict()` returned: `{obj}`'s own tensor keeps its value and nothing is loaded; copy in "
                f"place: `{call}[{key}].copy_(v)`")
    if what == "entry":
        key = _key(node)
        return (f"`{call}[{key}] = ...` writes into the new dict that `state_dict()` returned, not into `{obj}`: "
                f"nothing is loaded and its weights keep their values; collect the entries in a dict and load it "
                f"with `{obj}.load_state_dict(d, strict=False)` (check what it returns), or copy in place: "
                f"`{call}[{key}].copy_(v)`")
    given = node.args[0].value if isinstance(node, cst.Call) and what == "update" and len(node.args) == 1 else None
    entries = given.value if isinstance(given, cst.Name) else "d"
    return (f"`{call}.{what}(...)` writes into the new dict that `state_dict()` returned, not into `{obj}`: "
            f"nothing is loaded and its weights keep their values; load the entries with "
            f"`{obj}.load_state_dict({entries}, strict=False)` (check what it returns)")


# ------------------------------------------------------------------ a named dict, written and dropped

def _bound_name(mc) -> str | None:
    """`name = X.state_dict()`, a statement of its own in a function or at module level."""
    stmt = mc.ctx.stmt
    if mc.ctx.scope.kind not in ("function", "module") or not isinstance(stmt, cst.SimpleStatementLine):
        return None
    for small in stmt.body:
        if isinstance(small, cst.Assign) and small.value is mc.call and len(small.targets) == 1 \
                and isinstance(small.targets[0].target, cst.Name):
            return small.targets[0].target.value
        if isinstance(small, cst.AnnAssign) and small.value is mc.call and isinstance(small.target, cst.Name):
            return small.target.value  # `sd: dict = X.state_dict()`
    return None


def _dropped_local(facts: Facts, mc, module: cst.Module
                   ) -> tuple[str, cst.CSTNode, str, cst.CSTNode | None] | None:
    """(name, its first write, how it writes, that write's statement) for `name = X.state_dict()`
    written into and never used as a whole (see the rule's notes); None otherwise."""
    if not _fresh(mc.call):
        return None
    name = _bound_name(mc)
    scope = mc.ctx.scope
    if name is None or len(scope.bindings.get(name, [])) != 1:
        return None
    body = scope.node if scope.node is not None else module
    uses = _NameUses(name, mc.call, _keep_vars(mc.call))
    uses.run(body)
    if uses.kept or not uses.writes or _own_state_dict(facts, mc.obj, scope):
        return None
    write, what = uses.writes[0]
    return name, write, what, uses.statement(write)


class _NameUses:
    """Every occurrence of `name` in a scope (nested functions included), sorted into writes into
    the dict, harmless reads (`.keys()`, `for k in sd`, `k in sd`, an entry read inside a write)
    and anything else, which keeps the dict."""

    def __init__(self, name: str, value: cst.Call, keep_vars: bool) -> None:
        self.name, self.value, self.keep_vars = name, value, keep_vars
        self.writes: list[tuple[cst.CSTNode, str]] = []
        self.kept = False
        self._parents: dict[int, cst.CSTNode] = {}
        self._loops: list[tuple[cst.For, str | None]] = []  # `for k, v in sd.items()`: the loop, its key

    def run(self, body: cst.CSTNode) -> None:
        self._parents = parents = {}
        stack: list[cst.CSTNode] = [body]
        occurrences: list[cst.Name] = []
        while stack:  # source order (own_nodes' walk, nested scopes included)
            node = stack.pop()
            kids = list(traverse.children(node))
            for kid in kids:
                parents[id(kid)] = node
            stack.extend(reversed(kids))
            if isinstance(node, cst.Name) and node.value == self.name:
                occurrences.append(node)
            elif isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in _INTROSPECTION:
                self.kept = True
        for name in occurrences:
            self._sort(name, parents)
        if not all(self._unseen_by(loop, key) for loop, key in self._loops):
            self.kept = True

    def _sort(self, name: cst.Name, parents: dict[int, cst.CSTNode]) -> None:
        parent = parents.get(id(name))
        if isinstance(parent, cst.AssignTarget) and parent.target is name and parents.get(id(parent)) is not None \
                and getattr(parents[id(parent)], "value", None) is self.value \
                or isinstance(parent, cst.AnnAssign) and parent.target is name and parent.value is self.value:
            return  # the binding itself
        if isinstance(parent, cst.Subscript) and parent.value is name:
            self._entry(parent, parents)
        elif isinstance(parent, cst.Attribute) and parent.value is name:
            self._method(parent, parents)
        elif isinstance(parent, cst.For) and parent.iter is name:
            return
        elif isinstance(parent, cst.ComparisonTarget) and parent.comparator is name \
                and isinstance(parent.operator, (cst.In, cst.NotIn)):
            return
        elif isinstance(parent, cst.Del):
            return
        else:
            self.kept = True

    def _entry(self, sub: cst.Subscript, parents: dict[int, cst.CSTNode]) -> None:
        up = parents.get(id(sub))
        holder = parents.get(id(up)) if up is not None else None
        if isinstance(up, (cst.AssignTarget, cst.AnnAssign)) and up.target is sub and _targets_of(up, holder):
            self.writes.append((sub, "entry"))
        elif isinstance(up, cst.Attribute) and up.attr.value == "data" and up.value is sub and not self.keep_vars \
                and isinstance(holder, (cst.AssignTarget, cst.AnnAssign)) and holder.target is up \
                and _targets_of(holder, parents.get(id(holder))):
            self.writes.append((up, "data"))
        elif isinstance(up, cst.Del) or isinstance(up, cst.Element) and isinstance(holder, cst.Tuple) \
                and isinstance(parents.get(id(holder)), cst.Del):
            return
        elif not self._inside_write(sub, parents):
            self.kept = True  # an entry read and used elsewhere (`sd[k].copy_(v)`, `p.data = sd[k]`, `sd[k] += v`)

    def _method(self, attr: cst.Attribute, parents: dict[int, cst.CSTNode]) -> None:
        call = parents.get(id(attr))
        if not isinstance(call, cst.Call) or call.func is not attr:
            self.kept = True
        elif attr.attr.value == "keys":
            return
        elif attr.attr.value in ("items", "values") and not call.args and isinstance(parents.get(id(call)), cst.For) \
                and parents[id(call)].iter is call:
            self._loops.append((parents[id(call)], _loop_key(parents[id(call)], attr.attr.value)))
        elif attr.attr.value in _WRITERS and (attr.attr.value != "setdefault"
                                              or isinstance(parents.get(id(call)), cst.Expr)):
            self.writes.append((call, attr.attr.value))
        else:
            self.kept = True

    def _inside_write(self, node: cst.CSTNode, parents: dict[int, cst.CSTNode]) -> bool:
        """`sd[k] = sd[k] * 2`: an entry read in the value of a write into the same dict."""
        up = parents.get(id(node))
        while up is not None and not isinstance(up, (cst.Assign, cst.AnnAssign, cst.BaseCompoundStatement)):
            up = parents.get(id(up))
        return isinstance(up, (cst.Assign, cst.AnnAssign)) and any(_root_name(t) == self.name for t in _targets(up))

    def _unseen_by(self, loop: cst.For, key: str | None) -> bool:
        """A loop over the dict's values reads no value written into it: every write is in its body and
        replaces the entry of the loop's own key (`for k, v in sd.items(): ... sd[k] = w`), read already."""
        for write, what in self.writes:
            sub = write.value if what == "data" else write
            if key is None or not isinstance(sub, cst.Subscript) or len(sub.slice) != 1 \
                    or not isinstance(sub.slice[0].slice, cst.Index) \
                    or not isinstance(sub.slice[0].slice.value, cst.Name) or sub.slice[0].slice.value.value != key:
                return False
            up = self._parents.get(id(write))
            while up is not None and up is not loop:
                up = self._parents.get(id(up))
            if up is None or loop.orelse is not None and any(n is write for n in traverse.walk(loop.orelse)):
                return False
        return not _rebinds(loop.body, key)

    def statement(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The statement line holding `node` (a noqa there suppresses the finding)."""
        up = self._parents.get(id(node))
        while up is not None and not isinstance(up, cst.SimpleStatementLine):
            up = self._parents.get(id(up))
        return up


def _rebinds(body: cst.CSTNode, name: str | None) -> bool:
    """`name` is bound in `body` (`k = k.replace("module.", "")`): a write under it may be another key."""
    for node in traverse.walk(body):
        targets = [node.target] if isinstance(node, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For,
                                                     cst.NamedExpr)) else []
        if any(name in _bound(t) for t in targets):
            return True
    return False


def _bound(target: cst.BaseExpression) -> list[str]:
    """The names a target binds (`k`, `(k, v)`, `*rest`), not those it reads (`d[k]`, `obj.k`)."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _bound(e.value)]
    if isinstance(target, cst.StarredElement):
        return _bound(target.value)
    return []


def _loop_key(loop: cst.For, method: str) -> str | None:
    """The name a `for k, v in sd.items()` loop binds to each key (None for `.values()`, or another target)."""
    t = loop.target
    if method == "items" and isinstance(t, cst.Tuple) and len(t.elements) == 2 \
            and isinstance(t.elements[0].value, cst.Name):
        return t.elements[0].value.value
    return None


def _targets_of(up: cst.CSTNode, holder: cst.CSTNode | None) -> bool:
    """`up` is a target that a plain or annotated assignment (with a value) stores into."""
    if isinstance(up, cst.AnnAssign):
        return up.value is not None
    return isinstance(holder, cst.Assign)


def _root_name(target: cst.BaseExpression) -> str | None:
    """`name` of a write into `name[k]` or `name[k].data`."""
    sub = target.value if isinstance(target, cst.Attribute) and target.attr.value == "data" else target
    if isinstance(sub, cst.Subscript) and isinstance(sub.value, cst.Name):
        return sub.value.value
    return None


def _local_message(facts: Facts, mc, name: str, write: cst.CSTNode, what: str) -> str:
    obj = src(mc.obj)
    written = f"`{name}[{_key(write)}]{'.data' if what == 'data' else ''} = ...`" if what in ("entry", "data") \
        else f"`{name}.{what}(...)`"
    if _optimizer(facts, mc.obj, mc.ctx.scope):
        return (f"`{name}` is the new dict that `{obj}.state_dict()` returned, and {written} changes only that dict: "
                f"nothing loads it afterwards, so the write never reaches `{obj}`; load it after the edits with "
                f"`{obj}.load_state_dict({name})`")
    return (f"`{name}` is the new dict that `{obj}.state_dict()` returned, and {written} changes only that dict: "
            f"nothing loads, saves or returns `{name}` afterwards, so the write never reaches `{obj}`; load it after "
            f"the edits with `{obj}.load_state_dict({name})`, or copy in place: `{name}[{_key(write)}].copy_(v)`")
