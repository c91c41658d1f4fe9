"""FZ402 filtered-load-unchecked: a key-filtered state dict loaded without checking its size."""

from __future__ import annotations

from typing import Iterable

import libcst as cst

from freezelint.check import traverse
from freezelint.check.facts import Facts
from freezelint.check.rules._kept import (
    _path, _run_before, key_filter, key_test, loop_key, missing_reported, read_before)
from freezelint.check.rules.base import Example, Finding, Rule, src


def _empty_dict(node: cst.CSTNode | None) -> bool:
    return (isinstance(node, cst.Dict) and not node.elements) or (
        isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "dict" and not node.args)


class _SubscriptStores(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        self.name, self.count = name, 0

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        t = node.target
        if isinstance(t, cst.Subscript) and isinstance(t.value, cst.Name) and t.value.value == self.name:
            self.count += 1

    def visit_Call(self, node: cst.Call) -> None:  # `name.update(...)`, `name.setdefault(...)`
        f = node.func
        if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == self.name \
                and f.attr.value in ("update", "setdefault", "__setitem__"):
            self.count += 1


def _lenient(call: cst.Call) -> bool:
    """`load_state_dict(..., strict=False)` (or a strict it cannot tell): missing keys pass silently."""
    strict = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "strict"), None)
    if strict is None and len([a for a in call.args if a.keyword is None]) > 1:
        strict = call.args[1].value
    return strict is not None and not (isinstance(strict, cst.Name) and strict.value == "True")


def _stores_to(node: cst.CSTNode, name: str) -> int:
    v = _SubscriptStores(name)
    traverse.visit(node, v)
    return v.count


class _FilledUnderKeyTest(cst.CSTVisitor):
    """`for k, v in sd.items(): if k in other: name[k] = v` (renamed keys and nested tests too): the
    loop form of a key-filtered dict."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found: cst.Comparison | None = None  # the test
        self.filled: tuple[cst.For, list[cst.If]] | None = None  # the loop and its guarded arms

    def visit_For(self, node: cst.For) -> bool:
        it, target = node.iter, node.target
        if not (isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value == "items"
                and isinstance(target, cst.Tuple) and target.elements
                and isinstance(target.elements[0].value, cst.Name)):
            return True
        key = target.elements[0].value.value  # type: ignore[attr-defined]
        guarded = [stmt for stmt in node.body.body if isinstance(stmt, cst.If) and key_test(stmt.test, key)
                   and stmt.orelse is None and _stores_to(stmt.body, self.name)]
        # every store into the dict in this loop is under the test (an `else` or another store may
        # keep the keys the test drops)
        if guarded and _stores_to(node.body, self.name) == sum(_stores_to(g.body, self.name) for g in guarded):
            self.found = key_test(guarded[0].test, key)
            self.filled = (node, guarded)
        return True


def _own_state(node: cst.CSTNode | None) -> bool:
    """`X.state_dict()`: a dict that already holds every key of the model it is loaded back into."""
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
        and node.func.attr.value == "state_dict" and not node.args


def _membership_in(test: cst.Comparison, name: str) -> bool:
    return any(isinstance(c.operator, cst.In) and isinstance(c.comparator, cst.Name) and c.comparator.value == name
               for c in test.comparisons)


class _CopiedUnderKeyTest(cst.CSTVisitor):
    """`for k in sd: if k in own and ...: own[k] = sd[k]` with `own = model.state_dict()`: the model's
    own dict overwritten only where the checkpoint's key is one of its keys (stable-audio-tools'
    copy_state_dict). Loaded back, it raises nothing and misses no key whatever was copied."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found: list[tuple[cst.For, cst.Comparison, list[cst.If]]] = []

    def visit_For(self, node: cst.For) -> bool:
        key = loop_key(node.target)
        it = _dict_name(node.iter)
        if key is None or it is None or it == self.name or not _stores_to(node.body, self.name):
            return True
        guarded = [stmt for stmt in node.body.body if isinstance(stmt, cst.If) and _stores_to(stmt.body, self.name)
                   and (t := key_test(stmt.test, key)) is not None and _membership_in(t, self.name)]
        # every store into the dict in this loop under the test, and no `else` (one that logs
        # the skipped keys shows a mismatch: every key is skipped)
        if guarded and all(g.orelse is None for g in guarded) \
                and _stores_to(node.body, self.name) == sum(_stores_to(g.body, self.name) for g in guarded):
            self.found.append((node, key_test(guarded[0].test, key), guarded))  # type: ignore[arg-type]
        return True


def _counted(loop: cst.For, guarded: list[cst.If], name: str, body: cst.CSTNode) -> bool:
    """Something the guarded arms add to (`n += 1`, `copied.append(k)`) is read outside the loop:
    the number of keys copied is looked at."""
    counters = set()
    for g in guarded:
        for n in traverse.walk(g.body):
            if isinstance(n, cst.AugAssign) and isinstance(n.target, cst.Name):
                counters.add(n.target.value)
            elif isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and isinstance(n.func.value, cst.Name) \
                    and n.func.attr.value in ("append", "add", "update", "extend") and n.func.value.value != name:
                counters.add(n.func.value.value)
    inside = {id(n) for n in traverse.walk(loop)}
    # a read, not the binding that starts the count (`n = 0`)
    inside |= {id(n) for a in traverse.walk(body) if isinstance(a, (cst.Assign, cst.AnnAssign, cst.AugAssign))
               for t in ([x.target for x in a.targets] if isinstance(a, cst.Assign) else [a.target])
               for n in traverse.walk(t)}
    return any(isinstance(n, cst.Name) and n.value in counters and id(n) not in inside for n in traverse.walk(body))


class _Uses(cst.CSTVisitor):
    """How a name is used in a scope: size checks, and being merged or loaded."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.checked = False
        self.loaded: list[cst.CSTNode] = []
        self._bare: set[int] = set()  # calls that are whole statements: their results are dropped
        self._merged: list[tuple[str, cst.Call]] = []  # `R.update(name)`: loaded only if R is
        self._load_args: set[str] = set()  # what every load_state_dict() of the scope is given

    def _is(self, node) -> bool:
        return isinstance(node, cst.Name) and node.value == self.name

    def visit_Expr(self, node: cst.Expr) -> None:
        self._bare.add(id(node.value))

    def _sized(self, node) -> bool:
        """The dict, its `keys()`, `values()` or `items()`, or a list / tuple / set of those: empty
        where the dict is (`len(kept.keys())`, `len(list(kept))`, `len(kept.items())`)."""
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in ("list", "tuple", "set") \
                and len(node.args) == 1 and node.args[0].keyword is None and not node.args[0].star:
            node = node.args[0].value
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in ("keys", "values", "items") \
                and not node.args:
            node = node.func.value
        return self._is(node)

    def visit_Call(self, node: cst.Call) -> None:
        args = [a.value for a in node.args]
        if isinstance(node.func, cst.Name) and node.func.value in ("len", "bool") and any(map(self._sized, args)):
            self.checked = True
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "load_state_dict" and args:
            self._load_args.add(src(args[0]))
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "update" and any(map(self._is, args)):
            self._merged.append((src(node.func.value), node))
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "load_state_dict" \
                and any(map(self._is, args)):
            self.loaded.append(node)
            if id(node) not in self._bare or not _lenient(node):
                # the filtered dict loaded itself, its result kept: an empty one would come back with
                # every key of the model missing (what FZ401 asks to look at); loaded strictly, it
                # raises on every key it lacks
                self.checked = True

    def of(self, body: cst.CSTNode) -> "_Uses":
        traverse.visit(body, self)
        # a dict merged into one that is then loaded (`model_dict.update(kept)`), not into any
        # dict (`spec["init_args"].update(kwargs)`: a constructor's arguments, filtered on its signature)
        self.loaded += [call for receiver, call in self._merged if receiver in self._load_args]
        return self

    def _test(self, test) -> None:
        if self._is(test) or (isinstance(test, cst.UnaryOperation) and self._is(test.expression)):
            self.checked = True

    def visit_If(self, node: cst.If) -> None:
        self._test(node.test)

    def visit_Assert(self, node: cst.Assert) -> None:
        self._test(node.test)

    def visit_While(self, node: cst.While) -> None:
        self._test(node.test)


class _InlineFiltered(cst.CSTVisitor):
    """`R.update({k: v for ... if k in R})` and the dicts passed to `load_state_dict`: a filtered
    dict merged without a name can never have been checked."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, cst.DictComp]] = []
        self.loaded: set[str] = set()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or not node.args:
            return
        first = node.args[0].value
        if func.attr.value == "update" and isinstance(first, cst.DictComp) and key_filter(first):
            self.updates.append((src(func.value), first))
        elif func.attr.value == "load_state_dict":
            self.loaded.add(src(first))


class FilteredLoadUnchecked(Rule):
    code = "FZ402"
    words = ("items()", "state_dict()")  # the loop form may read the keys without items()
    triggers = (r"if\s+\w+\s+in\s+\w+",)  # (`elif` too; no leading \b: see base.OPTIMIZER_CALL)
    requires = (r"load_state_dict",)
    what = (
        "Finds a state dict filtered by key membership (`{k: v for k, v in sd.items() if k in "
        "model_dict}`) that is merged or loaded without any check that it kept something."
    )
    why = (
        "When the checkpoint's keys carry a prefix the model's do not (`module.`, `backbone.`), the "
        "filter keeps zero keys. `model_dict.update(filtered)` then changes nothing and "
        "`model.load_state_dict(model_dict)` reports `All keys matched successfully` — for the "
        "model's own random weights. The layers you freeze next were never loaded."
    )
    notes = (
        "The filter is a membership test of the key (`k in model_dict`, alone or joined by `and`); a "
        "substring test on the key (`adapter_name in k`, `\"fc\" in k`) picks keys by name and is not one. "
        "Checks that count: `len()` or truth of the filtered dict (`len(kept)`, `len(kept.keys())`, `len(kept.items())`, "
        "`len(list(kept))`, `bool(kept)`, `if not kept: raise ...`); the keys of the model it lacks "
        "logged, raised or tested (`print(set(model_dict) - set(kept))`), or the keys it kept logged "
        "(`print(list(kept))`, not one line per key: none when it kept nothing); and, before the dict is merged "
        "or loaded and on every path to that, a read of a key spelled out in the code that raises "
        "`KeyError` when the filter kept nothing: `kept.pop(\"fc.weight\")` without a default, "
        "`del kept[\"fc.weight\"]`, `kept[\"fc.weight\"]`, `assert \"fc.weight\" in kept`, also in a loop over spelled-out keys. A read in "
        "one branch of an `if` that the load follows does not count (the other branch loads an empty "
        "dict silently), nor one a `try` or `suppress(KeyError)` may swallow, nor `pop(k, None)`, "
        "`get(k)`, or a key taken from the dict's own keys. Before the filter, a loop over the model's keys "
        "that raises unless each is in the checkpoint (`for k in model_dict: assert k in sd`, also under a "
        "test that only skips keys by name, `if \".seg_layers.\" not in k`) proves the filter keeps them all; "
        "under a test that picks keys (`if k.startswith(\"encoder.\")`) or after the filter it does not count. "
        "The loop form that copies into the model's own `state_dict()` (`own = model.state_dict()`, then `for k in "
        "sd: if k in own: own[k] = sd[k]`, then `model.load_state_dict(own)`) is reported too: `own` holds every "
        "key whatever was copied, so neither its size nor the load's missing keys can tell; what counts there is "
        "a count the copying arm adds to (`n += 1`, `copied.append(k)`) read after the loop, an `else` on the "
        "test (it runs for every key that did not match), or the keys the model lacks reported as above. "
        "A new dict filled by such a loop (`kept = {}`, then `for k, v in sd.items(): if k in own: kept[k] = v`) "
        "is checked the same way by a count its filling arm adds to, read after the loop (`n += 1`, then "
        "`print(\"common:\", n)`): a prefix mismatch shows as 0."
    )
    bad = [
        Example(
            """
            import torch

            pretrained = torch.load("resnet50.pth")
            model_dict = model.state_dict()
            pretrained = {k: v for k, v in pretrained.items() if k in model_dict}  # expect: FZ402
            model_dict.update(pretrained)
            model.load_state_dict(model_dict)
            """,
            instead="""
            import torch

            pretrained = torch.load("resnet50.pth")
            model_dict = model.state_dict()
            kept = {k: v for k, v in pretrained.items() if k in model_dict}
            assert kept, "no key of the checkpoint is a key of the model"
            model_dict.update(kept)
            model.load_state_dict(model_dict)
            """,
        ),
        Example(
            """
            def copy_state_dict(model, state_dict):
                model_state_dict = model.state_dict()
                for key in state_dict:
                    if key in model_state_dict and state_dict[key].shape == model_state_dict[key].shape:  # expect: FZ402
                        model_state_dict[key] = state_dict[key]
                model.load_state_dict(model_state_dict)  # strict, and passes: every key is the model's own
            """,
            instead="""
            def copy_state_dict(model, state_dict):
                model_state_dict = model.state_dict()
                copied = 0
                for key in state_dict:
                    if key in model_state_dict and state_dict[key].shape == model_state_dict[key].shape:
                        model_state_dict[key] = state_dict[key]
                        copied += 1
                if copied == 0:
                    raise ValueError("no key of the checkpoint is a key of the model")
                model.load_state_dict(model_state_dict)
            """,
        ),
        Example(
            """
            import torch

            state = torch.load(pretrained, map_location="cpu")
            model_dict = self.backbone.state_dict()
            model_dict.update({k: v for k, v in state.items() if k in model_dict})  # expect: FZ402
            self.backbone.load_state_dict(model_dict)
            """
        ),
        Example(
            """
            import torch

            checkpoint = torch.load("backbone.pth")
            current = model.state_dict()
            kept = {k: v for k, v in checkpoint.items() if k in current and "fc" not in k}  # expect: FZ402
            current.update(kept)
            model.load_state_dict(current)
            """
        ),
        Example(
            """
            import torch

            def load_pretrained(model, path):
                pretrained = torch.load(path)
                state_dict = model.state_dict()
                model_dict = {}  # expect: FZ402
                for k, v in pretrained.items():
                    if k in state_dict:
                        model_dict[k] = v
                state_dict.update(model_dict)
                model.load_state_dict(state_dict)
            """
        ),
        Example(
            """
            def load_xception(model, pretrained):
                state_dict = model.state_dict()
                model_dict = {}  # expect: FZ402
                for k, v in pretrained.items():
                    if k in state_dict:
                        if k.startswith("block12"):
                            model_dict[k.replace("block12", "block20")] = v
                        else:
                            model_dict[k] = v
                state_dict.update(model_dict)
                model.load_state_dict(state_dict)
            """
        ),
        Example(
            """
            import torch

            def load_encoder(model, path):
                pretrained = torch.load(path)
                model_dict = model.state_dict()
                for key in model_dict:
                    if key.startswith("encoder."):  # checks only the keys it picks by name
                        assert key in pretrained, f"{key} is not in the checkpoint"
                pretrained = {k: v for k, v in pretrained.items() if k in model_dict}  # expect: FZ402
                model_dict.update(pretrained)
                model.load_state_dict(model_dict)
            """
        ),
    ]
    good = [
        """
        def copy_state_dict(model, state_dict, log):
            model_state_dict = model.state_dict()
            copied = []
            for key in state_dict:
                if key in model_state_dict:
                    model_state_dict[key] = state_dict[key]
                    copied.append(key)
            log(f"copied {len(copied)} of {len(model_state_dict)} entries")  # the count is looked at
            model.load_state_dict(model_state_dict)

        def copy_logged(model, state_dict, log):
            own = model.state_dict()
            for key, value in state_dict.items():
                if key in own:
                    own[key] = value
                else:
                    log(f"skipped {key}")  # every key says so when none matches
            model.load_state_dict(own)
        """,
        """
        import inspect

        def build_optimizer(optimizer_cls, params, spec, **kwargs):
            # a constructor's arguments filtered on its signature, merged into a config: no state dict
            valid = set(inspect.signature(optimizer_cls).parameters)
            kwargs = {key: value for key, value in dict(kwargs).items() if key in valid}
            spec["init_args"].update(kwargs)
            return optimizer_cls(params, **spec["init_args"])

        def load(model, sd):
            return model.load_state_dict(sd, strict=False)
        """,
        """
        import torch

        def load_strict(model, path):
            sd = torch.load(path)
            own = model.state_dict()
            kept = {k: v for k, v in sd.items() if k in own}
            model.load_state_dict(kept)  # strict: every key it lacks raises
        """,
        """
        import torch

        def load_pretrained(model, path):
            pretrained = torch.load(path)
            state_dict = model.state_dict()
            model_dict = {}
            for k, v in pretrained.items():
                if k in state_dict:
                    model_dict[k] = v
                else:  # every key kept, renamed or not
                    model_dict[k.replace("module.", "")] = v
            state_dict.update(model_dict)
            model.load_state_dict(state_dict)

        def load_checked(model, path):
            pretrained = torch.load(path)
            state_dict = model.state_dict()
            matched = {}
            for k, v in pretrained.items():
                if k in state_dict and v.shape == state_dict[k].shape:
                    matched[k] = v
            print(f"loaded {len(matched)} of {len(state_dict)} tensors")
            state_dict.update(matched)
            model.load_state_dict(state_dict)
        """,
        """
        import torch

        pretrained = torch.load("resnet50.pth")
        model_dict = model.state_dict()
        pretrained = {k: v for k, v in pretrained.items() if k in model_dict}
        assert len(pretrained) > 0.9 * len(model_dict), f"only {len(pretrained)} keys matched"
        model_dict.update(pretrained)
        model.load_state_dict(model_dict)
        """,
        """
        import torch

        def load_model(model, checkpoint):
            model_dict = model.state_dict()
            new_dict = {k: v for k, v in torch.load(checkpoint).items() if k in model_dict}
            new_dict.pop("classifier.weight")  # no default: KeyError if the filter kept nothing
            new_dict.pop("classifier.bias")
            model_dict.update(new_dict)
            model.load_state_dict(model_dict)

        def load_logged(model, checkpoint):
            model_dict = model.state_dict()
            kept = {k: v for k, v in torch.load(checkpoint).items() if k in model_dict}
            missing = [k for k in model_dict if k not in kept]  # every key, when none matched
            if missing:
                print(f"not in the checkpoint: {missing}")
            model_dict.update(kept)
            model.load_state_dict(model_dict)
        """,
        """
        import torch

        def reload(model, path):
            pretrained_dict = torch.load(path)
            model_dict = model.state_dict()
            pretrained_dict = {k: v for k, v in pretrained_dict.items() if k in model_dict}
            assert len(pretrained_dict.keys()) > 0  # as many keys as the dict: its size, checked
            model_dict.update(pretrained_dict)
            model.load_state_dict(model_dict)

        def reload_listed(model, sd):
            own = model.state_dict()
            kept = {k: v for k, v in sd.items() if k in own}
            if len(list(kept)) == 0:
                raise ValueError("no key of the checkpoint is a key of the model")
            own.update(kept)
            model.load_state_dict(own)
        """,
        """
        renamed = {k.replace("module.", ""): v for k, v in checkpoint.items()}
        model.load_state_dict(renamed)  # strict: mismatches raise
        """,
        """
        def load_teacher(teacher_model, checkpoint):
            state_dict = {k: v for k, v in checkpoint.items() if k in teacher_model.state_dict()}
            missing_keys, unexpected_keys = teacher_model.load_state_dict(state_dict, strict=False)
            if missing_keys:  # an empty filter comes back as every key missing
                print(f"Missing keys: {missing_keys}")

        def load_student(student, checkpoint):
            kept = {k: v for k, v in checkpoint.items() if k in student.state_dict()}
            print(student.load_state_dict(kept, strict=False))
        """,
        """
        def configure(defaults, overrides, model, ckpt):
            defaults.update({k: v for k, v in overrides.items() if k in defaults})  # a config, never loaded
            model.load_state_dict(ckpt)
        """,
        """
        def load_adapter(module, state, adapter_name, strict=True):
            sub_dict = {}
            for k, v in state.items():
                if adapter_name in k:  # a substring test on the key: picks keys by name, not by membership
                    sub_dict[k.replace(f"{adapter_name}.", "")] = v
            module.load_state_dict(sub_dict, strict=strict)
            head = {k: v for k, v in state.items() if "head" in k}
            module.load_state_dict(head)
        """,
        """
        import torch

        def load_pretrained_weights(mod, fname):
            pretrained_dict = torch.load(fname)["network_weights"]
            model_dict = mod.state_dict()
            for key, _ in model_dict.items():  # every model key but the skipped ones is in the checkpoint
                if all(s not in key for s in (".seg_layers.",)):
                    assert key in pretrained_dict, f"Key {key} is missing in the pretrained weights"
                    assert model_dict[key].shape == pretrained_dict[key].shape
            pretrained_dict = {k: v for k, v in pretrained_dict.items()
                               if k in model_dict.keys() and ".seg_layers." not in k}
            model_dict.update(pretrained_dict)
            mod.load_state_dict(model_dict)
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for store_scope, name, comp, test, filled in _filtered_dicts(facts):
            body = store_scope.node if store_scope.node is not None else module
            uses = _Uses(name).of(body)
            if uses.checked or not uses.loaded or missing_reported(name, body) \
                    or filled is not None and _counted(*filled, name, body) \
                    or all(read_before(name, use, body, since=comp) for use in uses.loaded) \
                    or _every_key_asserted(comp, test, body):
                continue
            yield self.finding(
                comp,
                f"`{name}` keeps only the keys that pass `{src(test)}`: when the checkpoint's keys carry a prefix "
                f"the other side lacks (`module.`, `backbone.`), it keeps none, and the load that follows raises no "
                f"error with nothing loaded; check `len({name})` before loading",
            )
        yield from self._copied_loops(facts, module)
        inline = _InlineFiltered()
        traverse.visit(module, inline)
        for receiver, comp in inline.updates:
            if receiver in inline.loaded:
                yield self.finding(
                    comp,
                    f"`{receiver}.update(...)` merges a dict that keeps only keys already in the model, and "
                    f"`{receiver}` is loaded next: with a prefix mismatch nothing is merged and the load raises no "
                    f"error; name the filtered dict and check its `len()` before merging",
                )


    def _copied_loops(self, facts: Facts, module) -> Iterable[Finding]:
        for scope, name, loop, test, guarded in _copied_into_own(facts):
            body = scope.node if scope.node is not None else module
            loads = _Uses(name).of(body).loaded
            if not loads or _counted(loop, guarded, name, body) or missing_reported(name, body):
                continue
            yield self.finding(
                test,
                f"`{name}` takes only the entries whose key passes `{src(test)}`: when the checkpoint's keys "
                f"carry a prefix the model's lack (`module.`, `backbone.`), it takes none, and loading `{name}`, "
                f"the model's own state_dict, raises no error and reports no missing key with nothing copied; "
                f"count the keys copied and check the count before loading",
            )

def _dict_name(node: cst.BaseExpression) -> str | None:
    """`d`, `d.keys()`, `d.items()`: the dict `d` (by its source text, `self.sd` too)."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and not node.args \
            and node.func.attr.value in ("keys", "items"):
        node = node.func.value
    return src(node) if isinstance(node, (cst.Name, cst.Attribute)) else None


def _names_key(node: cst.CSTNode, key: str) -> bool:
    return any(isinstance(n, cst.Name) and n.value == key for n in traverse.walk(node))


def _excludes(test: cst.BaseExpression, key: str) -> bool:
    """A test that skips keys by name and keeps the rest: `".seg_layers." not in key`, `not
    key.startswith("head.")`, `all(s not in key for s in skip)`, joined by `and`. (A test that keeps
    keys by name, `"encoder" in key`, checks only those.)"""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _excludes(test.left, key) and _excludes(test.right, key)
    if isinstance(test, cst.Comparison):
        return all(isinstance(c.operator, cst.NotIn) for c in test.comparisons) and _names_key(test, key)
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = test.expression
        return _names_key(inner, key) and (
            isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute)
            and inner.func.attr.value in ("startswith", "endswith")
            or isinstance(inner, cst.Comparison) or _called(inner) == "any")
    if _called(test) == "all" and len(test.args) == 1:  # type: ignore[attr-defined]
        arg = test.args[0].value  # type: ignore[attr-defined]
        return isinstance(arg, (cst.ListComp, cst.GeneratorExp)) and _excludes(arg.elt, key)
    return False


def _called(node: cst.CSTNode) -> str | None:
    return node.func.value if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) else None


def _raises_unless_in(stmt: cst.CSTNode, key: str, source: str) -> bool:
    """`assert key in source` or `if key not in source: raise ...`: stops at the first key missing."""
    def has(test, op) -> bool:
        return isinstance(test, cst.Comparison) and len(test.comparisons) == 1 \
            and isinstance(test.left, cst.Name) and test.left.value == key \
            and isinstance(test.comparisons[0].operator, op) and _dict_name(test.comparisons[0].comparator) == source
    if isinstance(stmt, cst.SimpleStatementLine):
        return any(isinstance(s, cst.Assert) and has(s.test, cst.In) for s in stmt.body)
    return isinstance(stmt, cst.If) and stmt.orelse is None and has(stmt.test, cst.NotIn) and any(
        isinstance(s, cst.SimpleStatementLine) and any(isinstance(x, cst.Raise) for x in s.body)
        for s in stmt.body.body)


def _asserts_every_key(loop: cst.CSTNode, container: str, source: str) -> bool:
    """`for key in model_dict: assert key in pretrained` (directly, or under a test that only skips
    keys by name): every key of the model, but the skipped ones, is in the checkpoint."""
    if not isinstance(loop, cst.For) or loop.orelse is not None or _dict_name(loop.iter) != container:
        return False
    key = loop_key(loop.target)
    body = loop.body.body
    if key is None or any(isinstance(n, (cst.Break, cst.Continue)) for s in body for n in traverse.walk(s)):
        return False
    return any(_raises_unless_in(s, key, source) or (
        isinstance(s, cst.If) and s.orelse is None and _excludes(s.test, key)
        and any(_raises_unless_in(t, key, source) for t in s.body.body)) for s in body)


def _every_key_asserted(comp: cst.CSTNode, test: cst.Comparison, body: cst.CSTNode) -> bool:
    """Before the filter `{k: v for k, v in S.items() if k in M}`, on every path to it, a loop over the
    keys of M raises unless each is in S: the filter then keeps every one of them (nnU-Net's loader)."""
    if not isinstance(comp, cst.DictComp):
        return False
    source = _dict_name(comp.for_in.iter)
    container = next((_dict_name(c.comparator) for c in test.comparisons if isinstance(c.operator, cst.In)), None)
    path = _path(body, comp)
    if source is None or container is None or path is None:
        return False
    before = _run_before(path)
    for i, stmt in enumerate(before):
        rebound = any(isinstance(n, cst.AssignTarget) and src(n.target) in (source, container)
                      for later in before[i + 1:] for n in traverse.walk(later))
        if not rebound and _asserts_every_key(stmt, container, source):
            return True
    return False


def _filtered_dicts(facts: Facts):
    for scope in [facts.module_scope, *facts.func_scopes.values()]:
        for name, bindings in scope.bindings.items():
            for b in bindings:
                if b.how != "expr":
                    continue
                test = key_filter(b.node) if isinstance(b.node, cst.DictComp) else None
                if test is not None:
                    yield scope, name, b.node, test, None
                elif _empty_dict(b.node) and len(bindings) == 1:  # filled by a loop under a key test
                    loops = _FilledUnderKeyTest(name)
                    traverse.visit(scope.node if scope.node is not None else facts.module, loops)
                    if loops.found is not None:
                        yield scope, name, b.node, loops.found, loops.filled


def _copied_into_own(facts: Facts):
    """Names bound once to a model's own `state_dict()` that a loop fills under a test of the key's
    membership in them (see _CopiedUnderKeyTest), with the loop, the test and the guarded arms."""
    for scope in [facts.module_scope, *facts.func_scopes.values()]:
        for name, bindings in scope.bindings.items():
            if len(bindings) != 1 or bindings[0].how != "expr" or not _own_state(bindings[0].node):
                continue
            loops = _CopiedUnderKeyTest(name)
            traverse.visit(scope.node if scope.node is not None else facts.module, loops)
            for loop, test, guarded in loops.found:
                yield scope, name, loop, test, guarded
