"""FZ202's whole-model case: a model whose BatchNorm layers are known from the generated table
(`submodule_table`, "bn") or from a local class's torch.nn attributes, frozen whole or by stages
(`layer1`, a stem) with requires_grad and trained in train mode.

The parameters a freeze reaches are worked out per BatchNorm parameter name (`layer1.0.bn1.weight`):
a `named_parameters` loop's name test is evaluated on each name, so `if not name.startswith("fc")`
is told apart from `if "layer4" not in name`. Anything not understood is no claim.

Shared by the rule (rules/fz202_bn_frozen_without_eval.py: `claims`) and the summaries
(`frozen_records`: what a helper, builder or class of another file leaves frozen), so it sits in the
flow layer beside probe.py, below both.
"""

from __future__ import annotations

import builtins
import io
import re
import tokenize
from dataclasses import dataclass, field

import libcst as cst

from freezelint.check.events import (BUILT, RET, VIA, Event, Flow, element_position, param_walk, requires_grad_sets,
                                     returned_element, returned_elements, returned_local, unwrap_self_returning)
from freezelint.check.facts import Facts, is_batchnorm_class
from freezelint.check.known import is_library
from freezelint.check.flow import (ACTIVITY, BN_FREEZE, EVAL, FREEZE, FREEZE_BY_DEFAULT, OPT_BUILD, REBIND, REPLACE,
                                   TRAIN, UNFREEZE, after)
from freezelint.check.probe import handed_to
from freezelint.check.syntax import call_arg, code_of, dotted, root_of, string_value, walk
from freezelint.check.traverse import children

# The call of a factory whose model holds BatchNorm: torchvision's by name, timm's
# `create_model("resnet50")`
_BN_FAMILIES = ("resnet", "resnext", "wide_resnet", "densenet", "efficientnet", "mobilenet", "mnasnet", "shufflenet",
                "inception_v3", "googlenet", r"vgg\d+_bn", "regnet", "maxvit")
# transformers' classes with BatchNorm (the table's "bn": ResNet, RegNet, MobileNetV1/V2, EfficientNet,
# MobileViT, LeViT, CvT, SwiftFormer, HGNetV2, UperNet), built or loaded (`ResNetModel.from_pretrained(`)
HF_BN_FAMILIES = ("ResNet", "RegNet", "MobileNetV", "EfficientNet", "MobileViT", "Levit", "Cvt", "SwiftFormer",
                  "HGNetV2", "UperNet")
_HF_CALL = r"\w*(?:\.from_\w+)?\s*\("
BN_FACTORY_CALL = r"\b(?:" + "|".join(_BN_FAMILIES) + r")\w*\s*\(|\b(?:" + "|".join(HF_BN_FAMILIES) + r")" \
    + _HF_CALL + r"|create_model\("
# The same as the rule's text trigger, one pattern per family: each starts with its literal, which
# re scans for quickly, where the alternation above is tried at every word boundary (3-4x slower over
# timm + torchvision). Without `\b` they admit a little more (`my_resnet(`): the rule decides.
BN_FACTORY_TRIGGERS = tuple(family + r"\w*\s*\(" for family in _BN_FAMILIES) \
    + tuple(family + _HF_CALL for family in HF_BN_FAMILIES) + (r"create_model\(",)
_MOMENTUM_SET = re.compile(r"\.momentum\s*=[^=]")  # `m.momentum = 0`, not `momentum=args.momentum`
# Parameters updated by a moving average (an EMA/momentum teacher, frozen to autograd but written
# by the script): `zip(teacher.parameters(), student.parameters())` with an in-place update, or a name for it
_MOVING_AVERAGE = re.compile(r"zip\([^)\n]*\.parameters\(\)|\bema\b|\bEMA\b|AveragedModel|momentum_update|"
                             r"\.lerp_\(")
_MAX_DEPTH = 2  # same-file helpers followed into (`freeze_backbone(model)` inside `setup(model)`)
# nn classes that hold no BatchNorm: a head replaced by one of them adds none (containers are read through)
_CONTAINERS = ("Sequential", "ModuleList")


def bn_layers(factory: str | None) -> list[str]:
    """The table's BatchNorm layer paths of a model factory (none: not known to hold any)."""
    from freezelint.check.submodule_table import TABLE

    return list(TABLE.get(factory or "", {}).get("bn", []))


@dataclass
class Claim:
    """A model frozen whole or by stages with BatchNorm inside, trained in train mode: what the finding says."""

    model: str
    factory: str  # what the model is, for the message (`torchvision.models.resnet50`, `Probe: its ...`)
    freeze: Event
    frozen: int  # BatchNorm layers frozen
    trained: Event | None  # the train() after the freeze (None: the fresh model's default mode)
    edges: list = field(default_factory=list)  # the summaries of other files it rests on
    parts: list[str] = field(default_factory=list)  # the frozen parts (`layer1`) when not all of it is frozen
    arm: str | None = None  # the builder's arm that built and froze it (`model_name == 'resnet'`)
    unless: str | None = None  # the setting under which all of it is unfrozen (`unfreeze_blocks >= 5`)
    also: list[str] = field(default_factory=list)  # the builder's other arms whose models are claimed too


@dataclass
class _State:
    """Per BatchNorm parameter name: frozen or not; parts replaced by modules that may hold BatchNorm."""

    names: dict[str, bool]
    unknown: dict[str, bool] = field(default_factory=dict)  # replaced part -> trainable
    first: dict[str, Event] = field(default_factory=dict)  # name -> the freeze that froze it last
    done: set[int] = field(default_factory=set)  # helper calls already applied
    edges: list = field(default_factory=list)  # project edges of the other files' summaries read
    arm: "_Arm | None" = None  # the one arm of a per-architecture builder followed
    # the bodies where an unfreeze of all of the model under a setting's test (`if unfreeze_blocks >= 5:`)
    # is another run's: id(flow) -> (the branches the model's build sits under there, the builder's call)
    settings: dict = field(default_factory=dict)
    unless: tuple | None = None  # (the test of the unfreeze of all so left out, its body)
    # the builders followed into from the model's assignment (`model = build(2, True)`): id of the
    # builder's def -> (that call, the scope it sits in), for the flags it hands on (`_flag_value`)
    entered: dict = field(default_factory=dict)
    # for a summary of a builder: the tests on its own parameters its freezes were taken under, each
    # `[code, arm]` (`if feature_extract:` of a helper handed `feature_extract`), for its callers to read
    when: list | None = None


@dataclass
class _Arm:
    """One arm of a per-architecture builder of this file (`if name == "resnet": model =
    resnet18(); freeze ... elif ...: model = densenet121(); ...; return model`): the binding of
    the returned name to a table model, and the builder's body and call."""

    flow: Flow | None  # None: a builder of another file, as its summary records the arm
    bound: Event | None
    local: str
    call: cst.Call | None  # None: the builder read for its summary, whatever its callers pass
    factory: str
    sub: str | None
    tests: list = field(default_factory=list)  # another file's: [(test, arm)] of the `if`s the arm is in
    fn: cst.FunctionDef | None = None  # another file's: its signature, to read the call's arguments by
    outer: object = None  # the scope the call sits in: its arguments' names are read there


def claims(facts: Facts, bodies: list[Flow]) -> list[Claim]:
    """Every model of the file's bodies with BatchNorm layers frozen (all of it, or whole stages of
    it) and trained in train mode."""
    text = None
    out = []
    for flow in bodies:
        if not _optimizes(flow, bodies):
            continue  # nothing trained here (what `_trained_in_train_mode` asks first)
        roots = {e.target for e in flow.events if e.kind in (FREEZE, BUILT) and "." not in e.target}
        for model in sorted(roots):
            first = next(e for e in flow.events if e.kind in (FREEZE, BUILT) and e.target == model)
            found = _model_parts(facts, flow, model, first, literal=True)
            layers = _layers(found[0]) if found is not None else []
            arms = (_builder_arms(facts, flow, model, first) or _recorded_arms(facts, flow, model, first)) \
                if not layers else []
            if not layers and not arms:
                continue
            if text is None:
                text = facts.code
            if _handles_batchnorm(facts, text):
                return []
            if not arms:
                claim = _claim(facts, bodies, flow, model, found, layers)
            else:  # one model per arm: one finding on the call, told by the first arm claimed, naming the others
                claim = None
                for arm in arms:
                    parts = {"": (arm.factory, arm.sub)}
                    other = _claim(facts, bodies, flow, model, (parts, [], _shown(arm.factory)), _layers(parts), arm)
                    if other is None:
                        continue
                    if claim is None:
                        claim = other
                        continue
                    claim.edges.extend(e for e in other.edges if e not in claim.edges)
                    if other.arm and other.arm not in claim.also:
                        claim.also.append(other.arm)
            if claim is not None:
                out.append(claim)
    return out


# What a model holds with BatchNorm: per path inside it ("" for all of it), the table factory that
# built that part and the part of the factory's model (`vgg16_bn().features`: "features")
Parts = dict[str, tuple[str, str | None]]
# The factory of a part that is itself a BatchNorm layer built in the file's own code
# (`self.stem = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))`: part "stem.1"); FZ202's
# claims only, never a summary's parts
_NN = "torch.nn"


def _layers(parts: Parts) -> list[str]:
    """The BatchNorm layer paths of a model made of `parts`."""
    out = []
    for rel, (factory, sub) in parts.items():
        if factory == _NN:
            out.append(rel)
            continue
        own = [layer[len(sub) + 1:] for layer in bn_layers(factory) if layer.startswith(sub + ".")] \
            if sub else bn_layers(factory)  # `vgg16_bn().features`: the part's own BatchNorm layers
        out.extend(f"{rel}.{layer}" if rel else layer for layer in own)
        if sub and rel and sub in bn_layers(factory):
            out.append(rel)  # a kept child that is itself BatchNorm (`*list(resnet.children())[:-2]`: "1")
    return out


def _children_parts(facts: Facts, value: cst.BaseExpression, scope, rel: str) -> Parts | None:
    """`nn.Sequential(*list(resnet50().children())[:-2])` (or `*modules` bound once so): an
    nn.Sequential of some children of a table model, renumbered from 0, as parts of the model at
    `rel` (`backbone.4` is the factory's `layer1`); None for any other value."""
    if not (isinstance(value, cst.Call) and value.args and value.args[0].star == "*"
            and (facts.qualname(value.func, scope) or "") in ("torch.nn.Sequential",
                                                               "torch.nn.modules.container.Sequential")):
        return None
    if not all(a.keyword is None and not a.star and _holds_no_batchnorm(facts, a.value, scope)
               for a in value.args[1:]):
        return None  # layers after the children (`nn.Flatten()`, a head) must be known free of BatchNorm
    kept_from, from_scope = value.args[0].value, scope
    if isinstance(kept_from, cst.Name):
        owner = scope.lookup(kept_from.value)
        bound = owner.bindings.get(kept_from.value, []) if owner is not None else []
        if len(bound) != 1 or bound[0].how != "expr" or bound[0].node is None:
            return None
        kept_from, from_scope = bound[0].node, bound[0].scope or owner
    kept = facts.kinds.kept_children(kept_from, from_scope)
    if kept is None:
        return None
    return {f"{rel}.{i}" if rel else str(i): (kept[0], path) for i, path in enumerate(kept[1])}


def _rebuilt_parts(facts: Facts, attr: str, values) -> Parts | None:
    """`self.resnet = resnet152(); self.resnet = nn.Sequential(*list(self.resnet.children())[:-1])`:
    two plain statements of the same method body, in that order, the second replacing the
    model with some of its children; the parts as `_children_parts` gives them."""
    (first, scope), (second, second_scope) = values
    body = scope.node.body.body if isinstance(scope.node, cst.FunctionDef) else None
    if body is None or second_scope is not scope:
        return None
    at = [i for i, st in enumerate(body) if isinstance(st, cst.SimpleStatementLine) and len(st.body) == 1
          and isinstance(st.body[0], cst.Assign) and st.body[0].value in (first, second)]
    if len(at) != 2 or body[at[0]].body[0].value is not first:
        return None  # not both plain statements of the body, or not in that order
    seq = unwrap_self_returning(second)
    if not (isinstance(seq, cst.Call) and len(seq.args) == 1 and seq.args[0].star == "*"
            and (facts.qualname(seq.func, scope) or "") in ("torch.nn.Sequential",
                                                             "torch.nn.modules.container.Sequential")):
        return None
    read = facts.kinds.children_slice(seq.args[0].value, scope)
    if read is None or dotted(read[0]) != f"self.{attr}":
        return None
    base = facts.kind(unwrap_self_returning(first), scope)
    kept = facts.kinds.kept_children_of(read[0], scope, read[1], base if base is not None and not base.sub else None)
    if kept is None:
        return None
    return {f"{attr}.{i}": (kept[0], path) for i, path in enumerate(kept[1])}


# torch.nn classes no child holding BatchNorm is an instance of (not BatchNorm, not a container)
_LEAF_LAYER = re.compile(r"torch\.nn\.(?:modules\.\w+\.)?(?:Linear|\w*Pool\dd|Dropout\w*|ReLU\d*|Flatten|Identity|"
                         r"Conv\dd)")


def _appended_parts(facts: Facts, attr: str, values) -> Parts | None:
    """`self.f = []`, `for m in resnet18().children(): if not isinstance(m, nn.Linear): self.f.append(m)`,
    then `self.f = nn.Sequential(*self.f)` (SimCLR's encoder): the children kept, as parts at `attr`. With
    no test, each at its index; under `not isinstance(m, C)` of a leaf layer class C, the children
    holding BatchNorm (surely kept: none is a C), by their names, where the others' indices are not known."""
    (first, scope), (second, second_scope) = values
    init = scope.node if isinstance(scope.node, cst.FunctionDef) else None
    seq = unwrap_self_returning(second)
    if init is None or second_scope is not scope or not (isinstance(first, cst.List) and not first.elements) \
            or not (isinstance(seq, cst.Call) and len(seq.args) == 1 and seq.args[0].star == "*"
                    and dotted(seq.args[0].value) == f"self.{attr}"
                    and (facts.qualname(seq.func, scope) or "") in ("torch.nn.Sequential",
                                                                     "torch.nn.modules.container.Sequential")):
        return None
    grows = [n for n in walk(init) if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)
             and dotted(n.func.value) == f"self.{attr}"]
    if len(grows) != 1 or grows[0].func.attr.value != "append" or len(grows[0].args) != 1:
        return None  # one `self.f.append(m)`, nothing else added or removed
    loop = next((n for n in init.body.body if isinstance(n, cst.For) and _contains(n, grows[0])), None)
    read = facts.kinds.children_slice(loop.iter, scope) if loop is not None and isinstance(loop.target, cst.Name) \
        else None
    if read is None or read[1] != slice(None) or code_of(grows[0].args[0].value) != loop.target.value:
        return None
    kept = facts.kinds.kept_children_of(read[0], scope, read[1], facts.kind(read[0], scope))
    body = loop.body.body
    if kept is None or len(body) != 1 or loop.orelse is not None:
        return None
    factory, children = kept
    stmt = body[0]
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr) \
            and stmt.body[0].value is grows[0]:
        return {f"{attr}.{i}": (factory, child) for i, child in enumerate(children)}
    test = stmt.test if isinstance(stmt, cst.If) and stmt.orelse is None and len(stmt.body.body) == 1 else None
    if not (isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not)
            and isinstance(test.expression, cst.Call) and (facts.qualname(test.expression.func, scope) == "isinstance")
            and len(test.expression.args) == 2 and code_of(test.expression.args[0].value) == loop.target.value):
        return None
    classes = test.expression.args[1].value
    classes = [e.value for e in classes.elements] if isinstance(classes, cst.Tuple) else [classes]
    if not all(_LEAF_LAYER.fullmatch(facts.qualname(c, scope) or "") for c in classes):
        return None
    held = [c for c in children if any(layer == c or layer.startswith(c + ".") for layer in bn_layers(factory))]
    return {f"{attr}.{child}": (factory, child) for child in held}


def _model_parts(facts: Facts, flow: Flow, model: str, first: Event,
                 literal: bool = False) -> tuple[Parts, list[str], str] | None:
    """What `model` holds with BatchNorm where the freeze finds it: its parts built by table
    factories, the parts that may hold BatchNorm of unknown kind (a Module class's other
    attributes), and how to name it. A factory's model (`resnet50()`, possibly through a builder
    of this file), an instance of a Module class of this file (its attributes), or what the
    summary of another project file says a builder or class of it returns frozen."""
    bound = flow.scope.bindings.get(model, [])
    if len(bound) == 1 and bound[0].how == "expr" and bound[0].node is not None:
        kept = _children_parts(facts, unwrap_self_returning(bound[0].node), bound[0].scope or flow.scope, "")
        if kept:  # `backbone = nn.Sequential(*list(resnet50().children())[:-1])`
            return kept, [], f"children of {_shown(next(iter(kept.values()))[0])}"
    factory, sub = _factory(facts, flow, model, first)
    if factory:
        return {"": (factory, sub)}, [], _shown(factory)
    kind = facts.kinds.name_kind(model, flow.scope)
    if kind is not None and kind.cls is not None and kind.cls.is_module and kind.tag == "module":
        if not _plain_module(facts, kind.cls) or _evals_parts(flow.summaries, kind.cls):
            return None
        parts, unknown = _class_parts(facts, kind.cls, _construction(flow, model), literal)
        return parts, unknown, _class_label(kind.cls.name, parts)
    returned = first.kind == BUILT or isinstance(first.node, cst.Call) and _assigned_to(first, first.node, model)
    record = _record_of(facts, flow, first) if returned else None
    if record is not None and record.get("parts"):
        parts = {rel: (f, s) for rel, (f, s) in record["parts"].items()}
        return parts, [], _class_label(first.detail.get("via", "") if first.kind == BUILT else "", parts)
    return None


def _shown(factory: str) -> str:
    return factory.replace("timm.create_model:", "timm ")


def _class_label(name: str, parts: Parts) -> str:
    """`Probe: its `backbone` is torchvision.models.resnet50`; a factory's model by its factory."""
    if set(parts) == {""}:
        return _shown(parts[""][0])
    shown = {}
    for rel, (f, _) in sorted(parts.items()):
        if f == _NN:
            continue  # a BatchNorm layer of the class's own: the class names it
        head, _, index = rel.rpartition(".")
        # `backbone.0`, `backbone.1`, ...: a Sequential of the factory's children (by name where filtered)
        if index.isdigit() or head and index == parts[rel][1]:
            shown[head] = f"children of {_shown(f)}"
        else:
            shown[rel] = _shown(f)
    held = ", ".join(f"`{rel}` is {what}" for rel, what in shown.items())
    if not held:
        return name
    return f"{name}: its {held}" if name else held


def _construction(flow: Flow, model: str) -> tuple[cst.Call, object] | None:
    """`model = Probe(resnet50(), 10)`: the one call that built the instance, with its scope."""
    bound = flow.scope.bindings.get(model, [])
    if len(bound) == 1 and bound[0].how == "expr" and isinstance(bound[0].node, cst.Call):
        return bound[0].node, flow.scope
    return None


def _passed_in(facts: Facts, info, values, built: tuple[cst.Call, object] | None):
    """The kind of the argument an attribute holds when `__init__` stores a parameter as it is
    (`self.backbone = backbone`, built as `Probe(resnet50(), 10)` or `Probe(backbone=resnet50())`)."""
    if built is None or len(values) != 1 or not isinstance(values[0][0], cst.Name):
        return None
    value, scope = values[0]
    init = next((m for m in info.node.body.body if isinstance(m, cst.FunctionDef) and m.name.value == "__init__"),
                None)
    bound = scope.bindings.get(value.value, [])
    if init is None or scope.node is not init or len(bound) != 1 or bound[0].how != "param":
        return None
    names = [p.name.value for p in (*init.params.posonly_params, *init.params.params)][1:]  # after self
    call, call_scope = built
    arg = call_arg(call, names.index(value.value), value.value) if value.value in names else \
        next((a.value for a in call.args if a.keyword is not None and a.keyword.value == value.value), None)
    return facts.kind(arg, call_scope) if arg is not None else None


def _class_parts(facts: Facts, info, built: tuple[cst.Call, object] | None = None,
                 literal: bool = False, depth: int = 0) -> tuple[Parts, list[str]]:
    """The parts of an instance of a Module class of this file built by table factories
    (`self.backbone = resnet50()`, or a table model passed to `__init__` and stored as it is, when
    the call that built the instance is known), and its other attributes that may hold BatchNorm
    (a Module not proven free of it: a project class, a builder's result). With `literal`, an
    attribute built of torch.nn layers (`nn.Sequential(nn.Conv2d(...), nn.BatchNorm2d(...))`)
    gives its BatchNorm layers as parts of their own (FZ202's claims; summaries keep to the table)."""
    parts: Parts = {}
    unknown = []
    for attr in sorted(info.attrs):
        values = info.attrs[attr]
        k = facts.kinds.class_attr(info, attr)
        if not (k is not None and k.factory) and built is not None:
            k = _passed_in(facts, info, values, built) or k
        kept = _children_parts(facts, unwrap_self_returning(values[0][0]), values[0][1], attr) if len(values) == 1 \
            else (_rebuilt_parts(facts, attr, values) or _appended_parts(facts, attr, values)) if len(values) == 2 \
            else None
        held = _held_part(facts, values[0][0], values[0][1], attr, literal, depth) if len(values) == 1 else None
        if k is not None and k.tag == "module" and k.factory and k.factory in _table():
            parts[attr] = (k.factory, k.sub)
        elif held is not None:  # `self.f = Model().f`: that part of another Module class's instance
            parts.update(held[0])
            unknown.extend(held[1])
        elif kept is not None:
            parts.update(kept)  # `self.backbone = nn.Sequential(*list(resnet50().children())[:-2])`
        elif literal and len(values) == 1 and (own := _literal_bn(facts, values[0][0], values[0][1])):
            parts.update({f"{attr}.{path}" if path else attr: (_NN, None) for path in own})
        elif all(_holds_no_batchnorm(facts, v, s) or not _may_be_module(facts, v, s) for v, s in values):
            continue
        else:
            unknown.append(attr)
    return parts, unknown


def _held_part(facts: Facts, value: cst.BaseExpression, scope, attr: str, literal: bool,
               depth: int) -> tuple[Parts, list[str]] | None:
    """`Model().f` (SimCLR's linear probe, `self.f = Model().f`): the part `f` of an instance of a plain
    Module class of this file, as `_class_parts` finds it there, at `attr`; None for any other value."""
    value = unwrap_self_returning(value)
    if not (isinstance(value, cst.Attribute) and isinstance(value.value, cst.Call)
            and isinstance(value.value.func, cst.Name)) or depth >= _MAX_DEPTH:
        return None
    name = value.attr.value
    info = facts.kinds.local_class(value.value.func, scope)
    if info is None:  # a class of another project file: its summary's "held"
        q = facts.qualname(value.value.func, scope) if facts.project is not None and facts.path else None
        record = facts.project.held(facts.path, q) if q else None
        if record is None:
            return None
        parts, unknown = {rel: tuple(v) for rel, v in record["parts"].items()}, record["unknown"]
        if name in unknown:
            return {}, [attr]
        held = {attr + rel[len(name):]: v for rel, v in parts.items() if rel == name or rel.startswith(name + ".")}
        return (held, []) if held else None
    if not info.is_module or not _plain_module(facts, info):
        return None
    parts, unknown = _class_parts(facts, info, (value.value, scope), literal, depth + 1)
    if name in unknown:
        return {}, [attr]
    held = {attr + rel[len(name):]: v for rel, v in parts.items() if rel == name or rel.startswith(name + ".")}
    return (held, []) if held or name in info.attrs else None


def _plain_module(facts: Facts, info) -> bool:
    """A class whose bases are torch's (`nn.Module`): every part of its instances is one its own
    methods assign (a project base class may add parts with BatchNorm left to train)."""
    bases = [b.value for b in info.node.bases if b.keyword is None]
    return bool(bases) and all((facts.qualname(b, facts.module_scope) or "").startswith("torch.") for b in bases)


def _evals_parts(callees, info) -> bool:
    """A method of the class puts a part of `self` in eval mode (`self.backbone.eval()`): the
    class deals with the mode of its frozen part (in __init__, a later train() undoing it is FZ201's)."""
    for m in info.node.body.body:
        body = callees.body_flow(m) if isinstance(m, cst.FunctionDef) and m.params.params else None
        me = m.params.params[0].name.value if body is not None else None
        if body is not None and any(e.kind in (EVAL, BN_FREEZE) and e.target.startswith(me + ".")
                                    for e in body.events):
            return True
    return False


def _table() -> dict:
    from freezelint.check.submodule_table import TABLE

    return TABLE


def _may_be_module(facts: Facts, value: cst.BaseExpression, scope) -> bool:
    """A value that may be a Module: one known to be, or a call not known to make a tensor
    (`torch.zeros(...)`) or a Parameter."""
    if facts.is_module(value, scope):
        return True
    if not isinstance(value, cst.Call):
        return False
    k = facts.kind(value, scope)
    if k is not None:
        return k.tag == "module"
    q = facts.qualname(value.func, scope) or ""
    return not (q.startswith("torch.") and not q.startswith("torch.nn.")) and q not in _NOT_MODULES


_NOT_MODULES = frozenset({"int", "float", "str", "bool", "list", "dict", "tuple", "set", "len", "range", "getattr"})


def _record_of(facts: Facts, flow: Flow, e: Event) -> dict | None:
    """What the summary of another project file says the function or class called at `e` leaves
    frozen in the model it returns ("frozen" of its entry, "ret" for a function; "ret@i" for the
    element `e` unpacks from a returned tuple), or None."""
    project, call = facts.project, e.node
    if project is None or not facts.path or not isinstance(call, cst.Call):
        return None
    q = facts.qualname(call.func, flow.scope)
    at = e.detail.get("element")
    found = project.frozen(facts.path, q, RET if at is None else element_position(at)) if q else None
    return found[0] if found is not None else None


def _handles_batchnorm(facts: Facts, text: str) -> bool:
    """The file deals with BatchNorm itself: an isinstance test for it (FZ202's other case reads
    those), FrozenBatchNorm, statistics fixed by momentum or track_running_stats, a factory given a
    `norm_layer` of its own (GroupNorm: the table's BatchNorm layers are not there), in its code:
    a docstring or comment that names them ("unlike torchvision, no FrozenBatchNorm2d here") does not."""
    if _names_bn_handling(text) and _names_bn_handling(_code_only(text)):
        return True
    return any(any(is_batchnorm_class(facts.qualname(c, ctx.scope)) for c in classes)
               for _node, _name, classes, ctx in facts.isinstance_ifs)



_NOT_NEWLINE = re.compile(r"[^\n]")


def _names_bn_handling(text: str) -> bool:
    return ("FrozenBatchNorm" in text or "track_running_stats" in text or "norm_layer" in text
            or bool(_MOMENTUM_SET.search(text))
            # a teacher updated by moving average runs in train mode on purpose (MoCo, BYOL)
            or bool(_MOVING_AVERAGE.search(text)))


def _code_only(text: str) -> str:
    """The text with its comments and docstrings (a string that is a statement of its own) blanked,
    every other character where it was. Read by the tokenizer only for files whose text names one
    of the cues above, so that the cost stays with those few."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    blank: list[tuple[int, int]] = []
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text, newline=None).readline)
                  if t.type not in (tokenize.NL, tokenize.INDENT, tokenize.DEDENT)]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return text  # not Python the tokenizer reads: keep every cue (silence, as before)
    for i, t in enumerate(tokens):
        statement = i == 0 or tokens[i - 1].type in (tokenize.NEWLINE, tokenize.COMMENT)
        ends = i + 1 == len(tokens) or tokens[i + 1].type in (tokenize.NEWLINE, tokenize.COMMENT, tokenize.ENDMARKER)
        if t.type == tokenize.COMMENT or (t.type == tokenize.STRING and statement and ends):
            blank.append((starts[t.start[0] - 1] + t.start[1], starts[t.end[0] - 1] + t.end[1]))
    if not blank:
        return text
    out, at = [], 0
    for a, b in blank:
        out += [text[at:a], _NOT_NEWLINE.sub(" ", text[a:b])]
        at = b
    out.append(text[at:])
    return "".join(out)

def _factory(facts: Facts, flow: Flow, model: str, freeze: Event) -> tuple[str | None, str | None]:
    """The table key of the factory call `model` was last bound to before the freeze, in this body
    (`model = torchvision.models.resnet50(...)`, possibly `.to(device)`); rebinding the result of
    training later (`model = train_model(model, ...)`) does not matter to the freeze."""
    kind = facts.kinds.name_kind(model, flow.scope)
    if kind is not None and kind.factory and "|" not in kind.factory:  # "a|b": built by either, read below
        return kind.factory, kind.sub
    owner = flow.scope.lookup(model)
    node = _body(flow)
    if owner is not flow.scope or not isinstance(node, (cst.Module, cst.FunctionDef)):
        return None, None
    order = {id(n): i for i, n in enumerate(walk(node.body if isinstance(node, cst.FunctionDef) else node))}
    at = order.get(id(freeze.node))
    if at is None:
        return None, None
    before = [b for b in owner.bindings.get(model, []) if b.node is not None and order.get(id(b.node), at) < at]
    found: list[tuple[str | None, str | None]] = []
    for b in reversed(before):  # the binding that reaches the freeze first, then those of other arms
        value = unwrap_self_returning(b.node)
        if isinstance(value, cst.Name) and value.value == model:
            continue  # `model = model.to(device)`
        k = facts.kind(value, b.scope or owner) if b.how == "expr" and isinstance(value, cst.Call) else None
        found.append((k.factory, k.sub) if k is not None and k.factory else (None, None))
    # `if arch == "resnet50": model = resnet50() else: model = vit_b_16()`: which one is not known
    return found[0] if found and len(set(found)) == 1 else (None, None)


def _claim(facts: Facts, bodies, flow: Flow, model: str, found: tuple[Parts, list[str], str],
           layers: list[str], arm: _Arm | None = None) -> Claim | None:
    parts, unknown, label = found
    state = _State({f"{layer}.{p}": False for layer in layers for p in ("weight", "bias")},
                   {part: True for part in unknown}, arm=arm)
    mine = [e for e in flow.events if e.target == model or e.target.startswith(model + ".")]
    # what another arm of the same `if` does (a per-architecture builder's other model) runs instead
    start = next((e for e in mine if e.kind in (FREEZE, BUILT)), None)
    if start is not None:
        mine = [e for e in mine if not e.exclusive_with(start)]
        state.settings[id(flow)] = (start.branches, None)
    if arm is not None and arm.flow is not None:
        state.settings[id(arm.flow)] = (arm.bound.branches, arm.call)
    if any(e.kind == REBIND and e.target == model and any(f.kind in (FREEZE, BUILT) and f.index < e.index for f in mine)
           for e in mine):
        return None  # a new object bound to the name after the freeze (`model = Net()` again): not followed
    for e in mine:
        if e.kind in (FREEZE, UNFREEZE, REPLACE, BUILT) and not _apply(facts, flow, e, model, "", state, 0):
            return None  # an unfreeze or a replacement whose reach is not known: it may train BatchNorm
    frozen = [layer for layer in layers if state.names.get(f"{layer}.weight") and state.names.get(f"{layer}.bias")]
    frozen = _toggled_off(facts, flow, model, mine, frozen, state)
    if not frozen:
        return None
    # Not all of it frozen (a stage, `layer1`, or everything but `layer4`): the frozen layers'
    # statistics move in train mode all the same, whatever the trainable rest wants
    whole = _all_frozen(state, frozen)
    freeze = min((state.first[f"{layer}.weight"] for layer in frozen), key=lambda e: e.index)
    # the settings that chose this run (the builder's arm, the unfreeze of all left out), as the caller names them
    chosen = (_setting_names(arm.flow, arm.bound.branches, arm.call) if arm is not None and arm.flow is not None
              else _setting_names(None, (), arm.call, tests=[t for t, _ in arm.tests], fn=arm.fn) if arm is not None
              else set()) \
        | (_setting_names(state.unless[1], (), state.settings[id(state.unless[1])][1], test=state.unless[0])
           if state.unless is not None else set())
    trained = _trained_in_train_mode(facts, bodies, flow, model, freeze, mine, frozen, chosen)
    if trained is False:
        return None
    reached = _reached(trained, model, frozen) if isinstance(trained, Event) else frozen
    if not reached:
        return None
    left = [layer for layer in layers if f"{layer}.weight" in state.names]
    named = _frozen_parts(left, reached)
    if not whole:
        # only whole stages: a child of the model or of one of its parts (`layer1`, `backbone.layer1`,
        # `stem`); BatchNorm layers frozen here and there inside a trained stage (a name test that
        # misses `downsample.1`) are a different slip, whose fix is not eval()
        named = [p for p in named if _stage(p, parts)]
        reached = [layer for layer in reached if any(_under(layer, p) for p in named)]
        if not reached:
            return None
        freeze = min((state.first[f"{layer}.weight"] for layer in reached), key=lambda e: e.index)
    # named by its parts where parts were frozen, not the model (`net.stem`, `model.layer1`), also by
    # a constructor or helper that froze a part of it (`DenseBlock()` freezing `net.layers`, `head` trainable)
    by_parts = not whole or all(ev.kind == FREEZE and (ev.detail.get("sub") or model) != model
                                for ev in (state.first[f"{layer}.weight"] for layer in frozen))
    return Claim(model, label, freeze, len(reached), trained if isinstance(trained, Event) else None, state.edges,
                 named if by_parts else [], _arm_text(arm) if arm is not None else None,
                 _code(state.unless[0]) if state.unless is not None else None)


def _toggled_off(facts: Facts, flow: Flow, model: str, mine: list[Event], frozen: list[str],
                 state: _State) -> list[str]:
    """`frozen` less the layers a loop unfreezes again at its next pass: a GAN's discriminator frozen
    for the generator's step and unfrozen for its own (`netD.requires_grad_(True)` at the top of the
    loop, `(False)` before G's step) is a model that trains, not a frozen part."""
    again = _State(dict(state.names), dict(state.unknown), arm=state.arm, settings=dict(state.settings))
    toggles = [u for u in mine if u.kind == UNFREEZE and any(
        set(u.loops) & set(state.first[f"{layer}.weight"].loops) for layer in frozen)]
    for u in toggles:
        if not _apply(facts, flow, u, model, "", again, 0):
            return []  # an unfreeze whose reach is not known: it may be of all of them
    return [layer for layer in frozen if again.names.get(f"{layer}.weight") and again.names.get(f"{layer}.bias")]


def _stage(path: str, parts: Parts) -> bool:
    """A stage of the model: one of its parts, a child of the model or of a part (`layer1`,
    `backbone.layer1`), or an item of a factory's top-level nn.Sequential (`features.3` of
    efficientnet, `layer1.0` of a resnet)."""
    head, _, _ = path.rpartition(".")
    if path in parts or head in ("", *parts):
        return True
    for rel, (factory, sub) in parts.items():
        inner = head[len(rel) + 1:] if rel and head.startswith(rel + ".") else head if not rel else None
        if inner and not sub and "." not in inner and inner in _table().get(factory, {}).get("seqs", []):
            return True
    return False


def _frozen_parts(layers: list[str], frozen: list[str]) -> list[str]:
    """The shortest paths that hold only frozen BatchNorm layers, covering them all (`bn1`,
    `layer1`: resnet50's conv1, bn1 and layer1 frozen)."""
    done = set(frozen)
    out: list[str] = []
    for layer in frozen:
        bits = layer.split(".")
        for i in range(1, len(bits) + 1):
            path = ".".join(bits[:i])
            if all(other in done for other in layers if _under(other, path)):
                if path not in out:
                    out.append(path)
                break
    return out


def _all_frozen(state: _State, frozen: list[str]) -> bool:
    """Every BatchNorm layer left in the model frozen, none trainable, no part of unknown content
    left to train."""
    return bool(frozen) and not any(v is False for v in state.names.values()) and not any(state.unknown.values())


def _apply(facts: Facts, flow: Flow, e: Event, root: str, prefix: str, state: _State, depth: int,
           at: Event | None = None) -> bool:
    """Apply a freeze, unfreeze or replacement on `root` (a part at `prefix` of the model) to the
    state; False when its reach cannot be established and it may make BatchNorm trainable."""
    report = at or e
    if e.detail.get("applied"):
        # `model.apply(fn)`, or a loop over `model.modules()` under a test: the modules picked, not known; a
        # loop's unfreeze under a test that picks layers holding no BatchNorm (`isinstance(m, nn.Linear)`) trains none
        return e.kind == FREEZE or _picks_no_bn_item(facts, flow, e)
    if e.detail.get("via") or e.kind == BUILT:
        return _apply_helper(facts, flow, e, root, prefix, state, depth, report)
    if e.kind == REPLACE and e.detail.get("classifier"):
        return True  # timm's reset_classifier: a new Linear head, no BatchNorm
    if e.kind == REPLACE:
        path = e.detail.get("path")
        rel = _relative(path, root, prefix) if path else None
        value = e.node.value if isinstance(e.node, cst.Assign) else None
        free = value is not None and _holds_no_batchnorm(facts, value, flow.scope)
        if rel is None:
            return free  # somewhere in the model: harmless only when it holds no BatchNorm
        for name in [n for n in state.names if _under(n, rel)]:
            del state.names[name]
        if not free:
            state.unknown[rel] = True
        return True
    reach = _reach(facts, flow, e, root, prefix, state)
    if reach is None:
        return e.kind == FREEZE  # a freeze not understood claims nothing; an unfreeze may train BatchNorm
    frozen = e.kind == FREEZE
    if not frozen and state.settings and _another_run(flow, e, state, reach):
        return True  # `if unfreeze_blocks >= 5:` unfreezes it all: the claim is on the other runs
    for name in reach:
        state.names[name] = frozen
        if frozen:
            state.first[name] = report
    for part in state.unknown:
        if _covers(e, root, prefix, part, flow):
            state.unknown[part] = not frozen
    return True


def _picks_no_bn_item(facts: Facts, flow: Flow, e: Event) -> bool:
    """A loop's change of the module it walks to (`item`, `for m in model.modules()`) under an `if` whose test
    is true only of layers that hold no BatchNorm (`_picks_no_batchnorm`)."""
    item = e.detail.get("item")
    body = _body(flow)
    ifs = {id(n): n for n in walk(body) if isinstance(n, cst.If)} if item and body is not None else {}
    return any(arm == 0 and i in ifs and _picks_no_batchnorm(facts, ifs[i].test, item, flow.scope)
               for i, arm in e.branches)


def _apply_helper(facts: Facts, flow: Flow, e: Event, root: str, prefix: str, state: _State, depth: int,
                  report: Event) -> bool:
    """A freeze or unfreeze taken over from a same-file helper (`freeze_backbone(model)`): the
    helper's own events on its parameter, in its order, applied here; from a builder of this file
    (`model = build()`), its events on the model it returns; from a Module class of this file
    (`model = Probe()`), its `__init__`'s events on `self`. A helper, builder or class of another
    file counts where its summary says it freezes its argument whole, or returns a model whose
    every BatchNorm layer is frozen ("frozen"); else it claims nothing."""
    call = e.node
    if id(call) in state.done:
        return True
    state.done.add(id(call))
    if not isinstance(call, cst.Call):
        return e.kind == FREEZE
    if depth >= _MAX_DEPTH:
        return e.kind == FREEZE
    returned = _assigned_to(e, call, root)
    cls = facts.classes.get(call.func.value) if isinstance(call.func, cst.Name) and returned else None
    if cls is not None and cls.is_module and e.detail.get("via") == cls.name:
        return _apply_init(facts, flow, cls, prefix, state, depth, report, call)
    method = _own_method(facts, flow, call, root)
    if method is not None:  # `model.freeze_backbone()`: the method's events on self, on the receiver
        rel = _relative(dotted(call.func.value), root, prefix)
        inner = flow.summaries.body_flow(method)
        if rel is None or inner is None or not method.params.params:
            return e.kind == FREEZE
        return _apply_events(facts, inner, method.params.params[0].name.value, rel, state, depth, report)
    callee = facts.resolve_def(call.func, flow.scope) if isinstance(call.func, cst.Name) else None
    if callee is None:
        return _apply_external(facts, flow, e, root, prefix, state, report, returned)
    inner = flow.summaries.body_flow(callee)
    if inner is None:
        return e.kind == FREEZE
    params = [p.name.value for p in (*callee.params.posonly_params, *callee.params.params)]
    args = [a.value for a in call.args if a.keyword is None and not a.star]
    for i, arg in enumerate(args[:len(params)]):
        if not _within(arg, root):
            continue
        rel = _relative(dotted(arg), root, prefix)
        if rel is None:
            return e.kind == FREEZE
        return _apply_events(facts, inner, params[i], rel, state, depth, report, handed=(call, callee, flow))
    if root in flow.summaries.globals_read(callee, depth) \
            and flow.scope.lookup(root) is flow.summaries.read_from(callee, root):
        # `freeze_model()` freezing the module-level `model` it reads, or a closure's (events.Flow._globals_acted_on)
        return _apply_events(facts, inner, root, prefix, state, depth, report)
    at = e.detail.get("element")
    local = None if not returned else returned_local(inner, inner.scope, params) if at is None \
        else returned_element(inner, inner.scope, params, at)
    if local is not None:
        state.entered.setdefault(id(callee), (call, flow.scope))
        return _apply_events(facts, inner, local, prefix, state, depth, report, built=True)
    return e.kind == FREEZE


def _apply_events(facts: Facts, inner: Flow, name: str, rel: str, state: _State, depth: int,
                  report: Event, built: bool = False, handed: tuple | None = None) -> bool:
    """A body's freezes, unfreezes and replacements of `name` (the model at `rel`), in its order.
    In a builder (`built`), a freeze made only on some paths (`if freeze: ...`, a parameter of
    the builder may decide) freezes nothing known; in a function of the file handed the model
    (`handed`: its call, def and the caller's body), neither does one under a flag of that function
    the call does not switch on (`_flag_off`)."""
    arm = state.arm if state.arm is not None and state.arm.local == name and state.arm.flow is not None \
        and state.arm.flow.scope.node is inner.scope.node else None
    for ev in inner.events:
        if (ev.target == name or ev.target.startswith(name + ".")) and ev.kind in (FREEZE, UNFREEZE, REPLACE):
            if arm is not None and (ev.index < arm.bound.index or ev.exclusive_with(arm.bound)):
                continue  # another arm's model, or one the name held before the arm's was built
            runs = _decided(inner, ev, arm.bound.branches, arm.call) if arm is not None else None
            if runs is False:
                continue  # `build("resnet", unfreeze_blocks=0)`: not under `if unfreeze_blocks >= 1:`
            # in the arm of a per-architecture builder, a freeze made on every path of that arm is made
            # whenever its model is the one returned
            if built and ev.kind == FREEZE and not runs \
                    and _conditional(inner, ev, arm.bound.branches if arm is not None else ()):
                continue
            if handed is not None and ev.kind == FREEZE and _flag_off(inner, ev, name, handed, state):
                continue
            if not _apply(facts, inner, ev, name, rel, state, depth + 1, report):
                return False
    return True


def _conditional(flow: Flow, e: Event, given: tuple = ()) -> bool:
    """`e` runs only on some paths of its body: inside an `if` (or after one that may return)
    other than a parameter loop's own name test (`if not name.startswith("fc")`) and the arms
    `given` (those a builder's model was built under)."""
    branches = [b for b in e.branches if b not in given]
    if not branches:
        return False
    body = _body(flow)
    nodes = {id(n): n for n in walk(body)} if body is not None else {}
    loops = [nodes[i] for i in e.loops if i in nodes]
    return any(not any(_contains(loop, nodes.get(i, loop)) for loop in loops) for i, _ in branches)


def _flag_off(inner: Flow, ev: Event, model: str, handed: tuple, state: _State) -> bool:
    """A freeze in a function handed the model (`def set_trainable(model, feature_extracting): if
    feature_extracting: ...`) under an `if` on another parameter of it that its call does not
    switch on: a flag the call turns off, or one it leaves to a setting of the run or a value
    not read here, freezes nothing known (as a construction flag of a class does not, `_apply_init`).
    A loop's own test (`if isinstance(m, nn.BatchNorm2d)`) and a test on the model alone are kept."""
    call, fn, caller = handed
    body = _body(inner)
    nodes = {id(n): n for n in walk(body)} if body is not None else {}
    loops = [nodes[i] for i in ev.loops if i in nodes]
    flags = {p.name.value for p in (*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params)} - {model}
    for i, which in ev.branches:
        node = nodes.get(i)
        if not isinstance(node, cst.If) or any(_contains(loop, node) for loop in loops):
            continue
        read = {n.split(".")[0] for n in _names_in(node.test)} & flags
        if not read:
            continue
        given = {n: _flag_value(call, fn, n, caller, state) for n in read}
        value = None if any(v is _UNREAD for v in given.values()) else _evaluate_literal(node.test, given)
        outer = _outer_test(node.test, call, fn, caller, read) if value is None and state.when is not None else None
        if outer is not None:  # the builder's own parameter decides: its callers' arguments are read
            state.when.append([outer, which])
            continue
        if value is None or value != (which == 0):
            return True
    return False


def _outer_test(test: cst.BaseExpression, call: cst.Call, fn: cst.FunctionDef, caller: Flow,
                read: set[str]) -> str | None:
    """A helper's test on its flags (`feature_extracting`) said of the parameters of the function
    around the call that it hands them from (`set_parameter_requires_grad(model_ft, feature_extract)`
    in `initialize_model`): `feature_extract`. None where the test reads anything else."""
    builder = caller.scope.node
    if not isinstance(builder, cst.FunctionDef) or _names_in(test) != read:
        return None
    names = {p.name.value for p in (*builder.params.posonly_params, *builder.params.params,
                                    *builder.params.kwonly_params)}
    renamed = {}
    for n in read:
        known, arg = _argument(call, fn, n)
        if not known or not isinstance(arg, cst.Name) or arg.value not in names \
                or any(b.how != "param" for b in caller.scope.bindings.get(arg.value, [])):
            return None
        renamed[n] = arg.value
    return code_of(test.visit(_Rename(renamed)))


class _Rename(cst.CSTTransformer):
    def __init__(self, names: dict[str, str]) -> None:
        super().__init__()
        self.names = names

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        return updated.with_changes(value=self.names[updated.value]) if updated.value in self.names else updated


def _flag_value(call: cst.Call, fn: cst.FunctionDef, name: str, caller: Flow, state: _State) -> object:
    """What the call gives the function's parameter `name`: a literal (or the default left), a
    constant of the module or a name of the calling function bound once to a literal, or, inside
    the builder of the arm followed, the literal or constant the builder's own call gives the
    parameter passed on (`build("resnet", 2, FEATURE_EXTRACT)` handing on `feature_extract`); else
    `_UNREAD`."""
    known, value = _argument(call, fn, name)
    if not known or value is None:
        return _UNREAD
    if _literal(value):
        return _value_of(value)
    if not isinstance(value, cst.Name):
        return _UNREAD
    constant = _bound_literal(caller.scope, value.value)  # a module constant, or a local bound once
    if constant is not None:
        return _value_of(constant)
    arm, builder = state.arm, caller.scope.node
    if not isinstance(builder, cst.FunctionDef):
        return _UNREAD
    if arm is not None and arm.call is not None and arm.flow is not None and arm.flow.scope.node is builder:
        outer_call, outer_scope = arm.call, arm.outer
    elif id(builder) in state.entered:  # a builder of one model, its call the model's assignment
        outer_call, outer_scope = state.entered[id(builder)]
    else:
        return _UNREAD
    known, outer = _argument(outer_call, builder, value.value)
    if not known or outer is None:
        return _UNREAD
    if _literal(outer):
        return _value_of(outer)
    constant = _constant(outer_scope, outer.value) if isinstance(outer, cst.Name) and outer_scope is not None else None
    return _value_of(constant) if constant is not None else _UNREAD


def _builder_arms(facts: Facts, flow: Flow, model: str, first: Event) -> list[_Arm]:
    """`model = build(args.model, ...)` where the builder of this file binds the model it returns
    to a different table model per arm of an `if` (`if name == "resnet": model = resnet18() ...
    elif name == "densenet": model = densenet121() ...`): each arm's model that can be the one
    returned, in the order of the code. An arm the call's literal argument rules out (or whose test
    on such an argument is not read) is left out; a name bound again on the same path is no arm."""
    call = first.node
    if not (first.detail.get("via") or first.kind == BUILT) or not isinstance(call, cst.Call) \
            or not isinstance(call.func, cst.Name) or any(a.star for a in call.args) \
            or not _assigned_to(first, call, model):
        return []
    callee = facts.resolve_def(call.func, flow.scope)
    inner = flow.summaries.body_flow(callee) if callee is not None else None
    if inner is None:
        return []
    names = [p.name.value for p in (*callee.params.posonly_params, *callee.params.params,
                                    *callee.params.kwonly_params)]
    at = first.detail.get("element")  # `model_ft, input_size = initialize_model(...)`
    local = returned_local(inner, inner.scope, names) if at is None else returned_element(inner, inner.scope, names, at)
    binds = [e for e in inner.events if e.kind == REBIND and e.target == local] if local is not None else []
    if len(binds) < 2:
        return []  # one model: the builder's own (`_model_parts`)
    body = _body(inner)
    nodes = {id(n): n for n in walk(body)} if body is not None else {}
    out = []
    for b in binds:
        if any(o.index > b.index and not o.exclusive_with(b) for o in binds):
            continue  # bound again after it on the same path
        value = unwrap_self_returning(b.node)
        k = facts.kind(value, inner.scope) if isinstance(value, cst.Call) else None
        if k is None or k.tag != "module" or not k.factory or "|" in k.factory or not _layers({"": (k.factory, k.sub)}):
            continue
        if not b.branches or b.loops or any(_ruled_out(nodes.get(i), arm, call, callee, inner.scope, flow.scope)
                                            for i, arm in b.branches):
            continue  # not in an `if` arm (in a loop: which pass returns is not known), or ruled out
        out.append(_Arm(inner, b, local, call, k.factory, k.sub, outer=flow.scope))  # type: ignore[arg-type]
    return out


_LITERALS = (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)


def _literal(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, _LITERALS) or isinstance(expr, cst.Name) and expr.value in ("True", "False", "None")


def _argument(call: cst.Call, fn: cst.FunctionDef, name: str) -> tuple[bool, cst.BaseExpression | None]:
    """What the call gives the builder's parameter `name`: (whether it is a parameter, the
    argument or else the default)."""
    positional = [*fn.params.posonly_params, *fn.params.params]
    if fn.name.value == "__init__":
        positional = positional[1:]  # `Probe(...)` binds `self` itself
    for i, p in enumerate([*positional, *fn.params.kwonly_params]):
        if p.name.value == name:
            arg = call_arg(call, i if i < len(positional) else len(call.args), name)
            return True, arg if arg is not None else p.default
    return False, None


def _ruled_out(node: cst.CSTNode | None, arm: int, call: cst.Call | None, fn: cst.FunctionDef, scope,
               outer=None) -> bool:
    """The arm `arm` of the `if` can not run for this call, or whether it runs is not read: its
    test reads a parameter the call gives a literal (or leaves at its default), or a constant of
    the module, and is not a comparison of those with literals that holds on that arm. `outer`: the
    scope the call sits in, where the names it passes are read."""
    if not isinstance(node, cst.If):
        return True  # an arm of something else (`x if c else y`, a match): not read
    value = _decided_test(node.test, call, fn, scope, outer=outer)
    return value is not None and value != (arm == 0) or value is None and bool(_given(node.test, call, fn, scope,
                                                                                     outer=outer))


def _given(test: cst.BaseExpression, call: cst.Call | None, fn: cst.FunctionDef | None, scope,
           own: bool = True, outer=None) -> dict[str, object]:
    """The names the test reads whose value is a literal here: a parameter of the builder the call
    gives a literal (or leaves at a literal default), a name of the module bound once to a literal
    (`ARCH = "vit"`; not with `own` False: a test of another file's builder, whose summary read
    them); each with its value, `_UNREAD` where it is no literal or not read."""
    out: dict[str, object] = {}
    for name in _names_in(test):
        root = name.split(".")[0]
        known, value = _argument(call, fn, root) if call is not None and fn is not None else (False, None)
        if known and isinstance(value, cst.Name) and not _literal(value):
            # `build(ARCH)`: read where the call is (the builder's parameter may have that name)
            value = _constant(outer if outer is not None else scope, value.value) or value
        elif not known:
            value = _constant(scope, root) if own else None
            if value is None:
                continue  # a setting of the run (`args.model`), or a value computed here
        if value is None or _literal(value):
            out[name] = _UNREAD if value is None or "." in name else _value_of(value)
    return out


_UNREAD = object()


def _constant(scope, name: str) -> cst.BaseExpression | None:
    """The literal a name of the module is bound to once (`ARCH = "vit"`), else None."""
    owner = scope.lookup(name) if scope is not None else None
    bound = owner.bindings.get(name, []) if owner is not None and owner.kind == "module" else []
    return bound[0].node if len(bound) == 1 and bound[0].how == "expr" and _literal(bound[0].node) else None


def _value_of(expr: cst.BaseExpression) -> object:
    import ast

    try:
        return ast.literal_eval(code_of(expr))
    except (ValueError, SyntaxError):
        return _UNREAD


def _decided_test(test: cst.BaseExpression, call: cst.Call | None, fn: cst.FunctionDef | None, scope,
                  own: bool = True, outer=None) -> bool | None:
    """The value of an `if` test on the builder's parameters that the call gives literals, or on
    the module's constants (`name == "resnet"`, `unfreeze_blocks >= 5`, not/and/or of those), else None."""
    given = _given(test, call, fn, scope, own, outer)
    if not given or any(v is _UNREAD for v in given.values()):
        return None
    return _evaluate_literal(test, given)


_COMPARE = {cst.Equal: lambda a, b: a == b, cst.NotEqual: lambda a, b: a != b,
            cst.LessThan: lambda a, b: a < b, cst.LessThanEqual: lambda a, b: a <= b,
            cst.GreaterThan: lambda a, b: a > b, cst.GreaterThanEqual: lambda a, b: a >= b,
            cst.In: lambda a, b: a in b, cst.NotIn: lambda a, b: a not in b}


def _evaluate_literal(test: cst.BaseExpression, given: dict[str, object]) -> bool | None:
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        v = _evaluate_literal(test.expression, given)
        return None if v is None else not v
    if isinstance(test, cst.BooleanOperation):
        a, b = _evaluate_literal(test.left, given), _evaluate_literal(test.right, given)
        if isinstance(test.operator, cst.And):
            return False if a is False or b is False else None if a is None or b is None else True
        return True if a is True or b is True else None if a is None or b is None else False
    if isinstance(test, cst.Name):
        v = given.get(test.value, _UNREAD)
        return None if v is _UNREAD else bool(v)
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        op, right = test.comparisons[0].operator, test.comparisons[0].comparator
        a = given.get(test.left.value, _UNREAD) if isinstance(test.left, cst.Name) else \
            _value_of(test.left) if _literal(test.left) else _UNREAD
        b = given.get(right.value, _UNREAD) if isinstance(right, cst.Name) and right.value in given else \
            _value_of(right) if _literal(right) or isinstance(right, (cst.Tuple, cst.List, cst.Set)) else _UNREAD
        compare = _COMPARE.get(type(op))
        if a is _UNREAD or b is _UNREAD or compare is None:
            return None
        try:
            return bool(compare(a, b))
        except TypeError:
            return None
    return None


def _decided(flow: Flow, e: Event, given: tuple, call: cst.Call | None) -> bool | None:
    """Whether `e`, in the builder's body, runs for this call, where the `if` tests it sits under
    (other than the arms `given`) all read literals the call passes: True, False, or None (not known)."""
    fn = flow.scope.node
    extra = [b for b in e.branches if b not in given]
    if not extra or not isinstance(fn, cst.FunctionDef):
        return None
    body = _body(flow)
    nodes = {id(n): n for n in walk(body)} if body is not None else {}
    verdict: bool | None = True
    for i, arm in extra:
        node = nodes.get(i)
        value = _decided_test(node.test, call, fn, flow.scope) if isinstance(node, cst.If) else None
        if value is not None and value != (arm == 0):
            return False
        if value is None:
            verdict = None
    return verdict


def _another_run(flow: Flow, e: Event, state: _State, reach: set[str]) -> bool:
    """An unfreeze of every BatchNorm layer of the model under the test of a setting (`if
    unfreeze_blocks >= 5:`, a dial's full fine-tune): that run trains it all; the others keep the
    freeze, and are the ones claimed. Not a test inside a loop (an epoch's: gradual unfreezing),
    nor one on a parameter of a builder that the call gives a literal."""
    given = state.settings.get(id(flow))
    if given is None or reach != set(state.names) or not any(state.names.values()):
        return False
    branches, call = given
    extra = [b for b in e.branches if b not in branches]
    if len(extra) != 1 or extra[0][1] != 0:
        return False
    body = _body(flow)
    node = next((n for n in walk(body) if id(n) == extra[0][0]), None) if body is not None else None
    if not isinstance(node, cst.If) or any(isinstance(n, (cst.For, cst.While)) and _contains(n, node)
                                          for n in walk(body)):
        return False
    names = _names_in(node.test)
    if not names:
        return False
    owner = flow.scope.node if isinstance(flow.scope.node, cst.FunctionDef) else None
    if _given(node.test, call, owner, flow.scope):
        return False  # `build(name, unfreeze_blocks=5)`, `FULL = True`: decided here, not a setting
    if state.unless is None:
        state.unless = (node.test, flow)
    return True


def _setting_names(flow: Flow | None, branches: tuple, call: cst.Call | None,
                   test: cst.BaseExpression | None = None, tests: list | None = None,
                   fn: cst.FunctionDef | None = None) -> set[str]:
    """The names the tests of `branches` (or `test`, `tests`) read, a builder's parameter named as its
    call's argument (`model_name` of `build_vision_model(args.model, ...)`: `args.model`)."""
    body = _body(flow) if flow is not None else None
    nodes = {id(n): n for n in walk(body)} if body is not None and test is None else {}
    tests = tests if tests is not None else [test] if test is not None \
        else [n.test for i, _ in branches if isinstance(n := nodes.get(i), cst.If)]
    if fn is None and flow is not None and call is not None and isinstance(flow.scope.node, cst.FunctionDef):
        fn = flow.scope.node
    out = set()
    for t in tests:
        for name in _names_in(t):
            root, _, rest = name.partition(".")
            known, arg = _argument(call, fn, root) if fn is not None else (False, None)
            if not known:
                out.add(name)
            elif (shown := dotted(arg) if arg is not None else None):
                out.add(f"{shown}.{rest}" if rest else shown)
    return out


def _arm_text(arm: _Arm) -> str | None:
    """`its `model_name == 'resnet'` arm`, as the message names the arm."""
    if arm.flow is None:
        test, which = arm.tests[-1] if arm.tests else (None, 0)
    else:
        body = _body(arm.flow)
        i, which = arm.bound.branches[-1]
        node = next((n for n in walk(body) if id(n) == i), None) if body is not None else None
        test = node.test if isinstance(node, cst.If) else None
    if test is None:
        return None
    return f"its `{_code(test)}` arm" if which == 0 else f"the `else` arm of its `if {_code(test)}`"


def _recorded_arms(facts: Facts, flow: Flow, model: str, first: Event) -> list[_Arm]:
    """`model = build(args.model)` with a builder of another project file whose summary records the
    model of each arm of its `if`, frozen whole on every path of the arm ("arms"): those arms the
    call's literal arguments do not rule out."""
    call = first.node
    if not (first.detail.get("via") or first.kind == BUILT) or not isinstance(call, cst.Call) \
            or any(a.star for a in call.args) or not _assigned_to(first, call, model):
        return []
    record = _record_of(facts, flow, first)
    if record is None or not record.get("arms") or not isinstance(record.get("signature"), str):
        return []
    try:
        fn = cst.parse_statement(f"def _({record['signature']}): pass\n")
        arms = [(rec, [(cst.parse_expression(code), which) for code, which in rec["when"]]) for rec in record["arms"]]
    except (cst.ParserSyntaxError, KeyError, TypeError, ValueError):
        return []
    if not isinstance(fn, cst.FunctionDef):
        return []
    out = []
    for rec, tests in arms:
        factory, sub = rec["parts"][""]
        ruled = False
        for test, which in tests:
            value = _decided_test(test, call, fn, flow.scope, own=False)
            if value is not None and value != (which == 0) or value is None and _given(test, call, fn, flow.scope,
                                                                                       own=False):
                ruled = True
        if not ruled:
            out.append(_Arm(None, None, model, call, factory, sub, tests, fn))
    return out


def _returned_arms(facts: Facts, flow: Flow, fn: cst.FunctionDef, local: str) -> list[dict]:
    """For a summary: the model of each arm of a per-architecture builder (`_builder_arms`) that the
    arm freezes whole on every path of it, with the tests of the `if`s it is in as code."""
    binds = [e for e in flow.events if e.kind == REBIND and e.target == local]
    if len(binds) < 2:
        return []
    body = _body(flow)
    nodes = {id(n): n for n in walk(body)} if body is not None else {}
    out = []
    for b in binds:
        if not b.branches or b.loops or any(o.index > b.index and not o.exclusive_with(b) for o in binds):
            continue
        if any(_ruled_out(nodes.get(i), which, None, fn, flow.scope) for i, which in b.branches):
            continue  # not an `if` arm, or one the module's constants rule out
        value = unwrap_self_returning(b.node)
        k = facts.kind(value, flow.scope) if isinstance(value, cst.Call) else None
        if k is None or k.tag != "module" or not k.factory or "|" in k.factory:
            continue
        parts = {"": (k.factory, k.sub)}
        layers = _layers(parts)
        if not layers:
            continue
        state = _State({f"{layer}.{p}": False for layer in layers for p in ("weight", "bias")},
                       arm=_Arm(flow, b, local, None, k.factory, k.sub))  # no call: the parameters unknown
        report = next((e for e in flow.events if e.kind == FREEZE and e.target == local and not e.exclusive_with(b)
                       and e.index > b.index), None)
        if report is None or not _apply_events(facts, flow, local, "", state, 0, report, built=True):
            continue
        frozen = [layer for layer in layers if state.names.get(f"{layer}.weight") and state.names.get(f"{layer}.bias")]
        if _all_frozen(state, frozen):
            out.append({"parts": {"": [k.factory, k.sub]},
                        "when": [[code_of(nodes[i].test), which] for i, which in b.branches]})
    return out


def _code(node: cst.CSTNode) -> str:
    text = " ".join(code_of(node).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _own_method(facts: Facts, flow: Flow, call: cst.Call, root: str) -> cst.FunctionDef | None:
    """The method `recv.name(...)` calls, where `recv` is the model (or a part of it) and an instance
    of a Module class of this file that defines it."""
    func = call.func
    if not isinstance(func, cst.Attribute) or not _within(func.value, root):
        return None
    kind = facts.kind(func.value, flow.scope)
    cls = getattr(kind, "cls", None) if kind is not None and kind.tag == "module" else None
    if cls is None:
        return None
    return next((st for st in cls.node.body.body if isinstance(st, cst.FunctionDef) and st.name.value == func.attr.value
                 and not any(d for d in st.decorators)), None)


def _apply_init(facts: Facts, flow: Flow, cls, prefix: str, state: _State, depth: int, report: Event,
                call: cst.Call | None = None) -> bool:
    """`model = Probe()`: what `Probe.__init__` does to `self`. An attribute assigned there is the
    part being built (its content is in the state already), not a replacement; an `__init__` that
    puts a part of `self` in eval mode is not claimed (train() undoing that is FZ201's). A freeze
    under `if` tests counts only where the construction `call` decides they all hold (_decided)."""
    init = next((m for m in cls.node.body.body if isinstance(m, cst.FunctionDef) and m.name.value == "__init__"), None)
    inner = flow.summaries.body_flow(init) if init is not None else None
    if inner is None or not init.params.params:
        return False
    me = init.params.params[0].name.value
    for ev in inner.events:
        if not (ev.target == me or ev.target.startswith(me + ".")):
            continue
        if ev.kind in (EVAL, BN_FREEZE):
            return False
        if ev.kind == REPLACE and (path := ev.detail.get("path")) and path.count(".") == 1 \
                and path.startswith(me + ".") and not ev.detail.get("classifier"):
            built = _relative(path, me, prefix)
            for name in [n for n in state.names if _under(n, built)]:
                state.names[name] = False  # built here: trainable until frozen
            if built in state.unknown:
                state.unknown[built] = True
            continue
        if ev.kind == FREEZE and _conditional(inner, ev) and not _runs_for(inner, ev, call):
            continue  # `if freeze_backbone: ...`: the caller's argument decides
        if ev.kind in (FREEZE, UNFREEZE, REPLACE) and not _apply(facts, inner, ev, me, prefix, state, depth + 1,
                                                               report):
            return False
    return True


def _runs_for(inner: Flow, ev: Event, call: cst.Call | None) -> bool:
    """The construction `Probe(freeze_backbone=True)` decides that every `if` test the `__init__`
    event `ev` sits under holds: each reads only parameters the call passes a literal, by keyword or
    position. Not a default left (the class's own choice, which a caller may change), nor with
    `*args` / `**kwargs`: they may give any parameter."""
    fn = inner.scope.node
    if call is None or any(a.star for a in call.args) or not isinstance(fn, cst.FunctionDef):
        return False
    body = _body(inner)
    nodes = {id(n): n for n in walk(body)} if body is not None else {}
    tests = [n.test if isinstance(n := nodes.get(i), cst.If) else None for i, _ in ev.branches]
    return all(t is not None and all(_passed(call, fn, name) for name in _names_in(t) - _CONSTANTS) for t in tests) \
        and _decided(inner, ev, (), call) is True


_CONSTANTS = frozenset({"True", "False", "None"})


def _passed(call: cst.Call, init: cst.FunctionDef, name: str) -> bool:
    """The construction `call` gives the `__init__` parameter `name` itself (not its default)."""
    positional = [*init.params.posonly_params, *init.params.params][1:]  # `self`: the construction's own
    names = [p.name.value for p in (*positional, *init.params.kwonly_params)]
    if name not in names:
        return False
    i = names.index(name)
    return call_arg(call, i if i < len(positional) else len(call.args), name) is not None


def _apply_external(facts: Facts, flow: Flow, e: Event, root: str, prefix: str, state: _State, report: Event,
                    returned: bool) -> bool:
    """A helper, builder or class of another project file, as its summary's "frozen" tells: its
    argument frozen whole (`freeze_all(model.backbone)`), or every BatchNorm layer of the model it
    returns frozen (`model = build()`, `model = Probe()`). Anything else claims nothing."""
    project, call = facts.project, e.node
    q = facts.qualname(call.func, flow.scope) if project is not None and facts.path else None
    if not q:
        return e.kind == FREEZE
    if returned or e.kind == BUILT:
        at = e.detail.get("element")  # `model_ft, input_size = initialize_model(...)`
        found = project.frozen(facts.path, q, RET if at is None else element_position(at))
        arm = state.arm if state.arm is not None and state.arm.flow is None and state.arm.call is call else None
        if found is None or not found[0].get("parts") and not (arm is not None and found[0].get("arms")) \
                or not isinstance(call, cst.Call) or not _passes(found[0], call, flow.scope):
            return e.kind != UNFREEZE
        state.edges.append(found[1])
        for name in [n for n in state.names if _under(n, prefix)]:
            state.names[name] = True
            state.first[name] = report
        return True
    args = [a.value for a in call.args if a.keyword is None and not a.star]
    for i, arg in enumerate(args):
        if not _within(arg, root):
            continue
        rel = _relative(dotted(arg), root, prefix)
        found = project.frozen(facts.path, q, i)
        if rel is None or found is None or not found[0].get("whole") or e.kind != FREEZE \
                or not _passes(found[0], call, flow.scope):
            return e.kind == FREEZE
        state.edges.append(found[1])
        for name in [n for n in state.names if _under(n, rel)]:
            state.names[name] = True
            state.first[name] = report
        for part in state.unknown:
            if _under(part, rel):
                state.unknown[part] = False
        return True
    return e.kind == FREEZE


def _passes(record: dict, call: cst.Call, scope) -> bool:
    """A freeze another file's summary records under tests on the function's other parameters
    (`"when"`: `set_parameter_requires_grad(model, feature_extract)` of `if feature_extracting:`)
    is made at this call where each test holds on what the call gives: a literal (or the default
    left), or a name bound once to a literal where the call is (`feature_extract = True`, at module
    level or in the calling function). A flag the call sets off, leaves to a setting of the run
    (`args.feature_extract`) or passes through `*args` freezes nothing known."""
    when = record.get("when")
    if not when:
        return True
    if any(a.star for a in call.args) or not isinstance(record.get("signature"), str):
        return False
    try:
        fn = cst.parse_statement(f"def _({record['signature']}): pass\n")
        tests = [(cst.parse_expression(code), arm) for code, arm in when]
    except (cst.ParserSyntaxError, TypeError, ValueError):
        return False
    if not isinstance(fn, cst.FunctionDef):
        return False
    for test, arm in tests:
        given = {}
        for name in _names_in(test):
            known, value = _argument(call, fn, name.split(".")[0])
            if isinstance(value, cst.Name) and not _literal(value):
                value = _bound_literal(scope, value.value)
            if not known or "." in name or value is None or not _literal(value):
                return False
            given[name] = _value_of(value)
        if _evaluate_literal(test, given) != (arm == 0):
            return False
    return True


def _bound_literal(scope, name: str) -> cst.BaseExpression | None:
    """The literal `name` is bound to once where it is read: a constant of the module, or a name
    of the function around the read bound only there (`feature_extract = True` in `main`)."""
    owner = scope.lookup(name) if scope is not None else None
    bound = owner.bindings.get(name, []) if owner is not None and owner.kind in ("module", "function") else []
    return bound[0].node if len(bound) == 1 and bound[0].how == "expr" and _literal(bound[0].node) else None


def _within(arg: cst.BaseExpression, root: str) -> bool:
    """`arg` is the model `root` or a part of it (`self.backbone` of `self` too)."""
    return root_of(arg) == root or (dotted(arg) or "").startswith(root + ".")


def _assigned_to(e: Event, call: cst.Call, root: str) -> bool:
    """`root = call` (possibly `.to(device)`), or `root, size = call` where the event is of the
    element `root` takes (`element`): the event comes from the model the call returns."""
    stmt = e.stmt
    small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 else None
    if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and unwrap_self_returning(small.value) is call):
        return False
    t = small.targets[0].target
    at = e.detail.get("element")
    if at is None:
        return isinstance(t, cst.Name) and t.value == root
    return isinstance(t, (cst.Tuple, cst.List)) and at < len(t.elements) \
        and isinstance(el := t.elements[at].value, cst.Name) and el.value == root


def _relative(path: str | None, root: str, prefix: str) -> str | None:
    """`model.features[0]` under root `model` (itself at `prefix` of the whole model): "features.0"."""
    if path is None:
        return None
    path = path.replace("[", ".").replace("]", "")
    if path == root:
        rel = ""
    elif path.startswith(root + "."):
        rel = path[len(root) + 1:]
    else:
        return None
    if any(not (part.isidentifier() or part.isdigit()) for part in rel.split(".") if rel):
        return None  # `layer[i]`: which part is not known
    return ".".join(p for p in (prefix, rel) if p)


def _under(name: str, rel: str) -> bool:
    return not rel or name == rel or name.startswith(rel + ".")


def _covers(e: Event, root: str, prefix: str, part: str, flow: Flow) -> bool:
    rel = _relative(e.detail.get("sub"), root, prefix)
    return rel is not None and _under(part, rel) and _loop_of(flow, e) is None


def _reach(facts: Facts, flow: Flow, e: Event, root: str, prefix: str, state: _State) -> set[str] | None:
    """The BatchNorm parameter names a requires_grad change reaches, or None when not known."""
    rel = _relative(e.detail.get("sub"), root, prefix)
    if rel is None:
        return None
    loop = _loop_of(flow, e)
    names = [n for n in state.names if _under(n, rel)]
    if loop is None:
        return set(names)
    if loop is _UNKNOWN:
        return None
    var, tests, source = loop
    # names as the loop sees them: relative to the module whose parameters it walks
    base = rel
    out = set()
    for name in names:
        local = name[len(base) + 1:] if base else name
        verdict = True
        for test, want in tests:
            value = _evaluate(test, var, local)
            if value is None:
                return None
            if value != want:
                verdict = False
                break
        if verdict:
            out.add(name)
    return out


_UNKNOWN = (None, [], None)  # a loop variable whose loop (or its tests) cannot be read


def _loop_of(flow: Flow, e: Event) -> tuple[str | None, list[tuple[cst.BaseExpression, bool]], cst.Call] | None:
    """For a change made on a loop variable (`for name, p in model.named_parameters(): ...
    p.requires_grad = False`): the name variable (None for `.parameters()`), the tests that
    decide whether this parameter is reached (each with the value it must have), and the call
    walked. None when the change is not made on a loop variable."""
    if e.detail.get("cut"):
        return _UNKNOWN  # a slice of the parameters or children walked (`list(model.parameters())[:-2]`)
    sets = requires_grad_sets(e.node, flow.scope) if isinstance(e.node, (cst.Assign, cst.AnnAssign, cst.Expr,
                                                                          cst.Call)) else []
    obj = sets[0][0] if sets else None
    if not isinstance(obj, cst.Name):
        return None
    owner = _binder(flow, obj.value, e.node)
    iters = [b for b in (owner.bindings.get(obj.value, []) if owner else []) if b.how == "iter"]
    # the loop that holds the change, where the name is reused by several loops (`for p in ...` twice)
    binding = next((b for b in iters if isinstance(b.node, cst.Call) and (lp := _loop_node(flow, b.node)) is not None
                    and _contains(lp, e.node)), iters[0] if iters else None)
    walked = param_walk(binding.node, owner) if binding is not None and binding.node is not None else None
    if binding is None or not isinstance(binding.node, cst.Call) and walked is None:
        return None
    call = binding.node  # the loop's iterable: `model.parameters()`, `list(model.parameters())`
    where = _loop_node(flow, call)
    if where is None:
        return _UNKNOWN  # what decides which parameters is not known
    target = where.target
    var = None
    if isinstance(target, cst.Tuple) and len(target.elements) == 2 and isinstance(target.elements[0].value, cst.Name):
        var = target.elements[0].value.value
    tests = _tests_to(where, e)
    if tests is None:
        return _UNKNOWN
    flag = sets[0][1]
    if e.kind == FREEZE and var is not None and any(isinstance(n, cst.Name) and n.value == var for n in walk(flag)):
        tests = [*tests, (flag, False)]  # `p.requires_grad = "fc" in name`: frozen where the test fails
    # a test on no name the loop binds is a setting: the same for every parameter
    bound = _bound_in(where)
    tests = [(t, w) for t, w in tests if any(isinstance(n, cst.Name) and n.value in bound for n in walk(t))]
    tests = [(_inline_lists(flow, t, bound), w) for t, w in tests]
    if tests and var is None:
        return _UNKNOWN
    return (var, tests, call)


def _inline_lists(flow: Flow, test: cst.BaseExpression, bound: set[str]) -> cst.BaseExpression:
    """The test with each name bound once, in this body or the module, to a literal list of
    strings and never changed in place (`layers_to_train = ["layer4"]`) written as that list,
    so that `_evaluate` reads `not name.startswith(layer) for layer in layers_to_train`."""
    found: dict[str, cst.BaseExpression] = {}
    attrs = {id(n.attr) for n in walk(test) if isinstance(n, cst.Attribute)}
    local = {x.value for n in walk(test) if isinstance(n, cst.CompFor) for x in walk(n.target) if isinstance(x, cst.Name)}
    at = set()
    for n in walk(test):
        if not isinstance(n, cst.Name) or id(n) in attrs or n.value in bound or n.value in local:
            continue
        if n.value in found:
            at.add(id(n))
            continue
        owner = flow.scope.lookup(n.value)
        values = owner.bindings.get(n.value, []) if owner is not None else []
        if len(values) != 1 or values[0].how != "expr" or values[0].node is None \
                or _strings(values[0].node) is None:
            continue
        if any(isinstance(mc.obj, cst.Name) and mc.obj.value == n.value for mc in flow.facts.method_calls):
            continue  # `layers.append(...)`: not the literal any more
        found[n.value] = values[0].node
        at.add(id(n))
    if not found:
        return test

    class _Sub(cst.CSTTransformer):
        def leave_Name(self, original, updated):
            return found[updated.value] if id(original) in at else updated

    return test.visit(_Sub())  # type: ignore[return-value]


def _bound_in(loop: cst.For | cst.CompFor) -> set[str]:
    """Names the loop binds: its target, and what its body assigns."""
    out = {n.value for n in walk(loop.target) if isinstance(n, cst.Name)}
    for n in walk(loop):
        targets = [t.target for t in n.targets] if isinstance(n, cst.Assign) else \
            [n.target] if isinstance(n, (cst.AnnAssign, cst.AugAssign, cst.NamedExpr, cst.For)) else \
            [n.asname.name] if isinstance(n, cst.WithItem) and n.asname is not None else []
        out.update(x.value for t in targets for x in walk(t) if isinstance(x, cst.Name))
    return out


def _binder(flow: Flow, name: str, node: cst.CSTNode):
    for scope in flow.facts.extracted.comp_scopes.values():
        comp = scope.node
        if comp is not None and name in scope.bindings and any(n is node for n in walk(comp)):
            return scope
    return flow.scope.lookup(name)


def _body(flow: Flow) -> cst.CSTNode | None:
    """The node of the flow's body: the module, or the function."""
    return flow.facts.module if flow.scope.kind == "module" else flow.scope.node


def _loop_node(flow: Flow, call: cst.Call) -> cst.For | cst.CompFor | None:
    body = _body(flow)
    for n in walk(body) if body is not None else ():
        if isinstance(n, (cst.For, cst.CompFor)) and n.iter is call:
            return n
    return None


def _tests_to(loop: cst.For | cst.CompFor, e: Event) -> list[tuple[cst.BaseExpression, bool]] | None:
    """The tests between a loop and the change inside it, each with the value it has there:
    `if` arms, `if test: continue` before it, a comprehension's `if` clauses. None when
    something else decides (a nested loop, break)."""
    if isinstance(loop, cst.CompFor):
        return [(c.test, True) for c in loop.ifs] if loop.inner_for_in is None else None
    return _tests_in(loop.body, e.node)


def _contains(node: cst.CSTNode, target: cst.CSTNode) -> bool:
    return any(n is target for n in walk(node))


def _tests_in(block: cst.BaseSuite, target: cst.CSTNode) -> list | None:
    stmts = block.body if isinstance(block, cst.IndentedBlock) else [block]
    out: list = []
    for stmt in stmts:
        if not _contains(stmt, target):
            if isinstance(stmt, cst.If) and stmt.orelse is None and _only_continue(stmt.body):
                out.append((stmt.test, False))
            elif any(isinstance(n, (cst.Continue, cst.Break, cst.Return, cst.Raise)) for n in walk(stmt)):
                return None
            continue
        if isinstance(stmt, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            return out
        if isinstance(stmt, cst.If):
            return _tests_in_if(stmt, target, out)
        if isinstance(stmt, (cst.With, cst.Try)):
            rest = _tests_in(stmt.body, target)
            return None if rest is None else out + rest
        return None
    return None


def _tests_in_if(stmt: cst.If, target: cst.CSTNode, out: list) -> list | None:
    if _contains(stmt.body, target):
        rest = _tests_in(stmt.body, target)
        return None if rest is None else out + [(stmt.test, True)] + rest
    orelse = stmt.orelse
    if isinstance(orelse, cst.If):
        return _tests_in_if(orelse, target, out + [(stmt.test, False)])
    if isinstance(orelse, cst.Else):
        rest = _tests_in(orelse.body, target)
        return None if rest is None else out + [(stmt.test, False)] + rest
    return None


def _only_continue(block: cst.BaseSuite) -> bool:
    stmts = block.body if isinstance(block, cst.IndentedBlock) else [block]
    smalls = [s for st in stmts for s in (st.body if isinstance(st, (cst.SimpleStatementLine,
                                                                   cst.SimpleStatementSuite)) else [None])]
    return len(smalls) == 1 and isinstance(smalls[0], cst.Continue)


def _evaluate(test: cst.BaseExpression, var: str | None, name: str) -> bool | None:
    """A parameter-name test evaluated on `name`: str methods startswith/endswith, `in`, `==`,
    not/and/or, `any(s in name for s in [...])`; None for anything else."""
    if var is None:
        return None
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        v = _evaluate(test.expression, var, name)
        return None if v is None else not v
    if isinstance(test, cst.BooleanOperation):
        a, b = _evaluate(test.left, var, name), _evaluate(test.right, var, name)
        if isinstance(test.operator, cst.And):
            return False if a is False or b is False else None if a is None or b is None else True
        return True if a is True or b is True else None if a is None or b is None else False
    if isinstance(test, cst.Call):
        return _evaluate_call(test, var, name)
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        op, right = test.comparisons[0].operator, test.comparisons[0].comparator
        left = test.left
        if isinstance(op, (cst.In, cst.NotIn)):
            if _is_var(right, var):
                s = _string(left)
                v = s in name if s is not None else None
            elif _is_var(left, var):
                items = _strings(right)
                v = name in items if items is not None else None
            else:
                return None
            return None if v is None else v if isinstance(op, cst.In) else not v
        if isinstance(op, (cst.Equal, cst.NotEqual)):
            value = _value(left, var, name) if _string(right) is not None else _value(right, var, name)
            other = _string(right) if _string(right) is not None else _string(left)
            if value is None or other is None:
                return None
            return (value == other) if isinstance(op, cst.Equal) else (value != other)
    return None


def _evaluate_call(test: cst.Call, var: str, name: str) -> bool | None:
    func = test.func
    if isinstance(func, cst.Attribute) and func.attr.value in ("startswith", "endswith") and len(test.args) == 1:
        value = _value(func.value, var, name)
        arg = test.args[0].value
        items = [_string(arg)] if _string(arg) is not None else _strings(arg)
        if value is None or items is None:
            return None
        return any(value.startswith(s) if func.attr.value == "startswith" else value.endswith(s) for s in items)
    if isinstance(func, cst.Name) and func.value in ("any", "all") and len(test.args) == 1 \
            and isinstance(gen := test.args[0].value, (cst.GeneratorExp, cst.ListComp)) \
            and gen.for_in.inner_for_in is None \
            and not gen.for_in.ifs and isinstance(gen.for_in.target, cst.Name):
        items = _strings(gen.for_in.iter)
        if items is None:
            return None
        loop_var = gen.for_in.target.value
        results = []
        for item in items:
            v = _evaluate(_substitute(gen.elt, loop_var, item), var, name)
            if v is None:
                return None
            results.append(v)
        return any(results) if func.value == "any" else all(results)
    return None


def _substitute(expr: cst.BaseExpression, name: str, value: str) -> cst.BaseExpression:
    class _Sub(cst.CSTTransformer):
        def leave_Name(self, original, updated):
            return cst.SimpleString(repr(value)) if updated.value == name else updated

    return expr.visit(_Sub())  # type: ignore[return-value]


def _is_var(expr: cst.BaseExpression, var: str) -> bool:
    return isinstance(expr, cst.Name) and expr.value == var


def _value(expr: cst.BaseExpression, var: str, name: str) -> str | None:
    """`name`, `name.split(".")[0]`, `name.split(".")[-1]`... as a string, else None."""
    if _is_var(expr, var):
        return name
    if isinstance(expr, cst.Subscript) and len(expr.slice) == 1 and isinstance(idx := expr.slice[0].slice, cst.Index) \
            and isinstance(call := expr.value, cst.Call) and isinstance(call.func, cst.Attribute) \
            and call.func.attr.value == "split" and _is_var(call.func.value, var) and len(call.args) == 1 \
            and _string(call.args[0].value) is not None:
        i = _integer(idx.value)
        parts = name.split(_string(call.args[0].value))
        return parts[i] if i is not None and -len(parts) <= i < len(parts) else None
    return None


def _integer(expr: cst.BaseExpression) -> int | None:
    if isinstance(expr, cst.Integer):
        return int(expr.value)
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus) \
            and isinstance(expr.expression, cst.Integer):
        return -int(expr.expression.value)
    return None


def _string(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.SimpleString):
        v = expr.evaluated_value
        return v if isinstance(v, str) else None
    return None


def _strings(expr: cst.BaseExpression) -> list[str] | None:
    if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
        out = [_string(el.value) for el in expr.elements]
        return None if any(s is None for s in out) else out  # type: ignore[return-value]
    return None


def _holds_no_batchnorm(facts: Facts, value: cst.BaseExpression, scope) -> bool:
    """`nn.Linear(...)`, `nn.Identity()`, `nn.Sequential(nn.Dropout(0.2), nn.Linear(...))`: a
    torch.nn layer (or container of them) that is no BatchNorm."""
    if not isinstance(value, cst.Call):
        return False
    q = facts.qualname(value.func, scope) or ""
    if not q.startswith("torch.nn.") or is_batchnorm_class(q) or "Norm" in q.rsplit(".", 1)[-1]:
        return False
    if q.rsplit(".", 1)[-1] in _CONTAINERS:
        return all(a.keyword is None and not a.star and _holds_no_batchnorm(facts, a.value, scope) for a in value.args)
    return q.rsplit(".", 1)[-1][:1].isupper()


def _literal_bn(facts: Facts, value: cst.BaseExpression, scope, _depth: int = 0) -> list[str] | None:
    """The BatchNorm layer paths inside a value built of torch.nn layers: `nn.BatchNorm2d(8)` is
    [""], `nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))` is ["1"], a layer that holds none
    is []; an instance of a Module class of this file built on nn.Module alone, whose parts are
    such values (`Stem()` with `self.bn1 = nn.BatchNorm2d(64)`), is ["bn1"]; None for anything
    else (a `*args`, a class of another file, a part passed in, a norm layer of unknown kind)."""
    if not isinstance(value, cst.Call):
        return None
    info = facts.classes.get(value.func.value) if isinstance(value.func, cst.Name) else None
    if info is not None and info.is_module and _plain_module(facts, info) and _depth < 4:
        if any(isinstance(st, cst.FunctionDef) and st.name.value == "train" for st in info.node.body.body):
            return None  # its own train() decides its parts' modes
        out: list[str] = []
        for attr in sorted(info.attrs):
            values = info.attrs[attr]
            if all(not _may_be_module(facts, v, s) for v, s in values):
                continue  # a setting, a tensor
            inner = _literal_bn(facts, values[0][0], values[0][1], _depth + 1) if len(values) == 1 else None
            if inner is None:
                return None
            out += [f"{attr}.{path}" if path else attr for path in inner]
        return out
    q = facts.qualname(value.func, scope) or ""
    if not q.startswith("torch.nn."):
        return None
    short = q.rsplit(".", 1)[-1]
    if is_batchnorm_class(q):
        return [""]
    if short in _CONTAINERS:
        items = value.args
        if short == "ModuleList":
            if len(items) != 1 or not isinstance(items[0].value, (cst.List, cst.Tuple)) or items[0].keyword:
                return None
            items = items[0].value.elements
        out: list[str] = []
        for i, a in enumerate(items):
            if getattr(a, "keyword", None) is not None or getattr(a, "star", "") or isinstance(a, cst.StarredElement):
                return None
            inner = _literal_bn(facts, a.value, scope, _depth)
            if inner is None:
                return None
            out += [f"{i}.{path}" if path else str(i) for path in inner]
        return out
    return [] if _holds_no_batchnorm(facts, value, scope) else None


literal_bn = _literal_bn  # the same, for the train() override check (override_freezes)


def _trained_in_train_mode(facts: Facts, bodies, flow: Flow, model: str, freeze: Event, mine: list[Event],
                           frozen: list[str], chosen: set[str] = frozenset()):  # type: ignore[assignment]
    """The train() that puts the frozen model in train mode after the freeze (an Event), True for
    a fresh model left in its default train mode and trained, False when it is not claimed: put
    in eval() after the freeze (the frozen part, or the whole model with no train() after), its
    BatchNorm layers put in eval() anywhere in the file, handed to a function whose effects are
    unknown, or never trained with an optimizer here."""
    if any(e.kind == BN_FREEZE for f in bodies for e in f.events):
        return False
    if not _optimizes(flow, bodies):
        return False
    later = [e for e in mine if e is not freeze and after(freeze, e)]
    steps = [e for e in flow.events if e.kind == ACTIVITY and e.target == "*" and after(freeze, e)]
    for e in later:
        if e.kind == EVAL and _part_eval(e, model):
            return False  # the frozen part put in eval mode
        if e.kind == ACTIVITY and (not steps or any(after(e, s) for s in steps)) and _unknown(facts, flow, e, model):
            return False  # a function whose effects are unknown, before a training step
    if any(mc.method == "apply" and root_of(mc.obj) == model and not _keeps_modes(facts, mc.call, mc.ctx.scope)
           for mc in facts.method_calls):
        return False  # `model.apply(fn)`: fn may put BatchNorm layers in eval mode
    evals = [e for e in later if e.kind == EVAL]
    trains = [e for e in later if e.kind == TRAIN and not _chosen_by_setting(flow, freeze, e, evals, chosen)
              and _reaches(e, model, frozen) and not e.detail.get("restores")  # a restore keeps eval mode
              and not _evaled_before_step(e, evals, steps)]
    if any(e.detail.get("override") for e in trains):
        return False  # the class's own train() runs, and may put the frozen part back in eval mode
    if trains:
        return trains[0]
    if any(e.kind == EVAL for e in mine):
        return False  # in eval mode, no train() after: a linear probe trains in eval mode
    if flow.scope.kind == "module" and any(
            e.kind in (EVAL, TRAIN) and e.target == model and f.scope.lookup(model) is flow.scope
            for f in bodies if f is not flow for e in f.events):
        return False  # a global another function of the file puts in some mode
    runs = any(e.kind == ACTIVITY and e.target == model for e in later)
    return True if runs and steps else False


def _optimizes(flow: Flow, bodies=(), depth: int = 1) -> bool:
    """The body trains with an optimizer: it builds one, or it calls `backward()` and `step()`
    (an optimizer a builder returned beside the model: `model, opt = build()`), itself or in a
    function of this file it hands the model to (`train(model, opt)`)."""
    if any(e.kind == OPT_BUILD for e in flow.events):
        return True
    called = {e.node.func.attr.value for e in flow.events if e.kind == ACTIVITY and e.target == "*"
              and isinstance(e.node, cst.Call) and isinstance(e.node.func, cst.Attribute)}
    if {"backward", "step"} <= called:
        return True
    via = {e.detail["via"] for e in flow.events if e.kind in (TRAIN, ACTIVITY) and isinstance(e.detail.get("via"), str)}
    return depth > 0 and bool(via) and any(
        f.scope.kind == "function" and f.scope.cls is None and f.scope.func_name in via
        and f.scope.node is not flow.scope.node and _optimizes(f, bodies, depth - 1) for f in bodies)


def _evaled_before_step(train: Event, evals: list[Event], steps: list[Event]) -> bool:
    """`model.train(); model.eval()` and then the step: the next training step after this train()
    runs in eval mode, whatever train() did (an eval() after the step is a validation pass that the
    next train() undoes: not this; nor one under an `if` the train() is not under)."""
    nxt = min((s for s in steps if s.index > train.index), key=lambda s: s.index, default=None)
    # only an eval() on every path the train() is on: one under an `if` of its own leaves other runs in train mode
    return nxt is not None and any(train.index < e.index < nxt.index and set(e.branches) <= set(train.branches)
                                   for e in evals)


def _reaches(train: Event, model: str, layers: list[str]) -> bool:
    return bool(_reached(train, model, layers))


def _reached(train: Event, model: str, layers: list[str]) -> list[str]:
    """The frozen BatchNorm layers a train() reaches: all of the model's, or those of the parts its
    event says it reaches (`reach`, events.Flow._reach: `model.fc.train()` after `model.eval()`, a
    linear probe's head, or a helper that trains only the head, reaches none). A part not named by
    a plain path may reach any."""
    reach = train.detail.get("reach")
    if not reach:
        return layers
    out: list[str] = []
    for path, _ in reach:
        if not path.startswith(model + ".") or "[" in path:
            return layers
        part = path[len(model) + 1:]
        out += [layer for layer in layers if (layer == part or layer.startswith(part + ".")) and layer not in out]
    return out


def _chosen_by_setting(flow: Flow, freeze: Event, train: Event, evals: list[Event],
                       chosen: set[str] = frozenset()) -> bool:  # type: ignore[assignment]
    """train() in one arm of an `if` and eval() in the other, or eval() after it under an `if`, the
    test naming a setting the freeze depends on too (`if args.weights == "freeze":
    model.requires_grad_(False)` ... `if args.weights == "finetune": model.train() else:
    model.eval()`): the frozen run is the one in eval mode, as far as can be told."""
    body = _body(flow)
    nodes = {id(n): n for n in walk(body)} if body is not None else {}
    settings = {d for i, _ in freeze.branches if isinstance(nodes.get(i), cst.If)
                for d in _names_in(nodes[i].test)} | set(chosen)  # and those a builder's arm was chosen by
    settings.discard("__name__")  # `if __name__ == "__main__":` runs the script, it chooses nothing
    if not settings:
        return False
    arms = dict(train.branches)
    for e in evals:
        for i, arm in e.branches:
            if not isinstance(nodes.get(i), cst.If) or not settings & _names_in(nodes[i].test):
                continue
            if i in arms and arms[i] != arm:
                return True
            if e.index > train.index and not e.exclusive_with(train):
                return True  # `model.train()`, then `if name == "resnet": model.eval()`: the frozen run's eval()
    return False


def _names_in(test: cst.BaseExpression) -> set[str]:
    """The dotted names a test reads (`args.weights`), the longest of each chain."""
    inner = {id(n.value) for n in walk(test) if isinstance(n, cst.Attribute)}
    return {d for n in walk(test) if isinstance(n, (cst.Name, cst.Attribute)) and id(n) not in inner
            and (d := dotted(n)) is not None}


def _part_eval(e: Event, model: str) -> bool:
    """eval() of a part of the model (`model.backbone.eval()`, `set_eval(model.features)`): the
    frozen part kept in eval mode. A helper's eval() of the whole model may be a validation pass
    that the next train() undoes: not this."""
    node = e.node
    if not isinstance(node, cst.Call):
        return False
    if e.detail.get("via"):
        return any(a.keyword is None and root_of(a.value) == model and (dotted(a.value) or "") != model
                   for a in node.args)
    recv = node.func.value if isinstance(node.func, cst.Attribute) else None
    return recv is not None and (dotted(recv) or "") != model


# Methods of the module `apply` hands over that change no mode (the weight initialisers' calls)
_MODELESS = frozenset({"reset_parameters", "parameters", "named_parameters", "modules", "named_modules", "children",
                       "named_children", "register_buffer", "register_parameter"})
_MODE_WORDS = re.compile(r"\b(?:eval|train|training)\b")


def _keeps_modes(facts: Facts, call: cst.Call, scope) -> bool:
    """`model.apply(fn)` where `fn` visibly leaves every BatchNorm layer's mode alone (`keeps_modes`):
    a function of the file, a lambda, or a function of another project file whose summary says so."""
    fn = call_arg(call, 0, "fn")
    if isinstance(fn, cst.Lambda):
        return keeps_modes(facts, fn, scope)
    func = facts.resolve_def(fn, scope) if isinstance(fn, cst.Name) else None
    if func is not None:
        return keeps_modes(facts, func, scope)
    q = facts.qualname(fn, scope) if isinstance(fn, cst.Name) and scope.lookup(fn.value) is not None else None
    return bool(q) and not is_library(q) and facts.project is not None and bool(facts.path) \
        and facts.project.keeps_modes(facts.path, q)


def keeps_modes(facts: Facts, func: cst.FunctionDef | cst.Lambda, scope) -> bool:
    """A one-parameter function (or lambda) that, given a module, visibly leaves its mode alone where
    it may be BatchNorm (a weight initialiser): it never says eval, train or training, and calls
    nothing that could change a mode out of sight: only library functions and builtins
    (`nn.init.normal_`, `isinstance`), methods of what it reads from the module
    (`m.weight.data.fill_(1)`, `classname.find("Conv")`), and the module's own methods that set no
    mode (`m.reset_parameters()`). What it does under a test that picks no BatchNorm layer (`if
    isinstance(m, nn.Dropout): m.train()`, `if classname.find("Dropout") != -1:`, torch's leaf layers
    only) sets no BatchNorm layer's mode: it is not read."""
    params = [*func.params.posonly_params, *func.params.params]
    if len(params) != 1 or isinstance(func.params.star_arg, cst.Param):
        return False
    name, inner = params[0].name.value, facts.func_scopes.get(id(func)) or scope
    nodes = list(_read_parts(facts, func.body, name, inner))
    if any(_MODE_WORDS.search(code_of(n)) for n in nodes if isinstance(n, (cst.Name, cst.Attribute, cst.BaseString))):
        return False
    for node in nodes:
        if isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            return False  # a callable made inside: what runs it is not read
        if not isinstance(node, cst.Call):
            continue
        f = node.func
        if isinstance(f, cst.Attribute):
            if isinstance(f.value, cst.Name) and f.value.value == name and f.attr.value not in _MODELESS:
                return False  # a method of the module: its class's, which may set a mode
            continue
        q = facts.qualname(f, inner) if isinstance(f, cst.Name) else None
        if not q or not (is_library(q) or hasattr(builtins, q)) or facts.resolve_def(f, inner) is not None:
            return False  # a function of the project, or a callable not known
    return True


def _read_parts(facts: Facts, node: cst.CSTNode, name: str, scope):
    """The nodes of a body, less the arms a test on `name` keeps to layers that are no BatchNorm."""
    yield node
    if isinstance(node, (cst.If, cst.IfExp)) and _picks_no_batchnorm(facts, node.test, name, scope):
        parts = [node.test, node.orelse] if node.orelse is not None else [node.test]
    else:
        parts = children(node)
    for child in parts:
        yield from _read_parts(facts, child, name, scope)


# torch's layers that hold no BatchNorm, by the end of their name: a test that picks only these picks no BatchNorm
_LEAVES = re.compile(r"^torch\.nn\.(?:modules\.\w+\.)?"
                     r"(?:Dropout\w*|AlphaDropout|Linear|Bilinear|Conv\w*|Embedding\w*)$")


def _picks_no_batchnorm(facts: Facts, test: cst.BaseExpression, name: str, scope) -> bool:
    """`isinstance(m, nn.Dropout)` (or a tuple of such leaf layers of torch), `type(m) == nn.Dropout`,
    or a class-name test for "Dropout" (`classname.find("Dropout") != -1`, `"Dropout" in classname`,
    `...startswith("Dropout")`): true only of layers that are no BatchNorm and hold none."""
    if isinstance(test, cst.Call) and facts.qualname(test.func, scope) == "isinstance" and len(test.args) == 2:
        subject, classes = test.args[0].value, test.args[1].value
        exprs = [e.value for e in classes.elements] if isinstance(classes, cst.Tuple) else [classes]
        return isinstance(subject, cst.Name) and subject.value == name \
            and all(_LEAVES.match(facts.qualname(e, scope) or "") for e in exprs)
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        left, op, right = test.left, test.comparisons[0].operator, test.comparisons[0].comparator
        if isinstance(op, (cst.Equal, cst.Is)) and isinstance(left, cst.Call) and len(left.args) == 1 \
                and facts.qualname(left.func, scope) == "type" and isinstance(left.args[0].value, cst.Name) \
                and left.args[0].value.value == name:
            return bool(_LEAVES.match(facts.qualname(right, scope) or ""))
        if isinstance(op, cst.In):  # `"Dropout" in classname`
            return string_value(left) == "Dropout"
        if isinstance(op, (cst.NotEqual, cst.GreaterThanEqual, cst.GreaterThan)) and isinstance(left, cst.Call):
            test = left  # `classname.find("Dropout") != -1`
    if isinstance(test, cst.Call) and isinstance(test.func, cst.Attribute) \
            and test.func.attr.value in ("find", "startswith") and len(test.args) == 1:
        return string_value(test.args[0].value) == "Dropout"
    return False


def _unknown(facts: Facts, flow: Flow, e: Event, model: str) -> bool:
    """The model handed to a function whose effects on it are not known."""
    waits = handed_to(facts, flow, e, model)
    return waits is None or bool(waits)  # pending: a function of another file, not resolved here


def frozen_records(facts: Facts, callees) -> dict:
    """For a summary (what another file's FZ202 reads, see `_apply_external`): per top-level
    function, the positions it freezes whole (a parameter: every parameter of it frozen by the
    function's own requires_grad changes on every path, `{"whole": true}`), and the model it
    returns with every BatchNorm layer frozen (`"ret": {"parts": {path: [factory, sub]}}`); per
    Module class, the same of an instance `__init__` built, unless a method of the class puts a
    part of it in eval mode. Nothing for a file that deals with BatchNorm itself (FrozenBatchNorm,
    momentum, isinstance tests...)."""
    out: dict = {"functions": {}, "classes": {}}
    text = facts.code
    if _handles_batchnorm(facts, text):
        return out
    models = bool(_BN_WORDS.search(text))  # else no model with BatchNorm is built here
    for stmt in facts.module.body:
        if isinstance(stmt, cst.FunctionDef):
            flow = callees.body_flow(stmt)
            if flow is None:
                continue
            params = [p.name.value for p in (*stmt.params.posonly_params, *stmt.params.params)]
            signature = " ".join(code_of(stmt.params).split())
            entry = {str(i): {"whole": True} for i, p in enumerate(params) if _whole(flow, p)}
            for i, p in enumerate(params):
                tests = _whole_when(flow, stmt, p) if str(i) not in entry else None
                if tests:  # frozen whole where the caller's arguments pass the tests (`if feature_extracting:`)
                    entry[str(i)] = {"whole": True, "when": tests, "signature": signature}
            local = returned_local(flow, flow.scope, params) if models else None
            when: list = []  # `if feature_extract:` of the builder: where its callers' arguments pass them
            parts = _returned_parts(facts, flow, local, when) if local is not None else None
            helper: list = []  # `set_bn(m, freeze_bn)` of a third file: frozen where its record says so
            if not parts and local is not None and models:
                when = []
                parts = _returned_parts(facts, flow, local, when, helper)
            arms = _returned_arms(facts, flow, stmt, local) if local is not None and not parts else []
            if parts:
                entry[RET] = {"parts": {rel: list(v) for rel, v in parts.items()},
                              **({"when": when, "signature": signature} if when else {}),
                              **({"helper": helper[0], "signature": signature} if helper else {})}
            elif arms:  # a per-architecture builder: the callers' arguments pick the arm
                entry[RET] = {"arms": arms, "signature": signature}
            elif local is None or not models:
                via = returned_builder(facts, flow, params)
                if via is not None:  # what that builder's model comes with, the project reads
                    entry[RET] = {"via": via}
            for at in returned_elements(flow, flow.scope, params) if models else ():
                # `return model_ft, input_size`: the element as a returned model is recorded
                local = returned_element(flow, flow.scope, params, int(at.partition("@")[2]))
                when, helper = [], []
                parts = _returned_parts(facts, flow, local, when)
                if not parts and local is not None:
                    when = []
                    parts = _returned_parts(facts, flow, local, when, helper)
                arms = _returned_arms(facts, flow, stmt, local) if not parts else []
                if parts:
                    entry[at] = {"parts": {rel: list(v) for rel, v in parts.items()},
                                 **({"when": when, "signature": signature} if when else {}),
                                 **({"helper": helper[0], "signature": signature} if helper else {})}
                elif arms:
                    entry[at] = {"arms": arms, "signature": signature}
            if entry:
                out["functions"][stmt.name.value] = entry
        elif isinstance(stmt, cst.ClassDef):
            info = facts.classes.get(stmt.name.value)
            parts = _init_parts(facts, callees, info) if models and info is not None and info.is_module else None
            if parts:
                out["classes"][stmt.name.value] = {"parts": {rel: list(v) for rel, v in parts.items()}}
    return out


def held_records(facts: Facts) -> dict:
    """For a summary: per plain Module class of the file, the parts of an instance that table models
    built (`_class_parts`), frozen or not, and its attributes of unknown content: what another file's
    `self.f = Model().f` holds (`_held_part`). Nothing for a file that deals with BatchNorm itself."""
    if not _BN_WORDS.search(facts.code) or _handles_batchnorm(facts, facts.code):
        return {}
    out = {}
    for stmt in facts.module.body:
        info = facts.classes.get(stmt.name.value) if isinstance(stmt, cst.ClassDef) else None
        if info is None or not info.is_module or not _plain_module(facts, info):
            continue
        parts, unknown = _class_parts(facts, info)
        if parts:
            out[stmt.name.value] = {"parts": {rel: list(v) for rel, v in parts.items()}, "unknown": unknown}
    return out


# a file that never builds a model of the table nor names BatchNorm records nothing
_BN_WORDS = re.compile(BN_FACTORY_CALL + r"|BatchNorm")


def _whole(flow: Flow, param: str) -> bool:
    """The function freezes every parameter of its parameter `param` itself, on every path, and
    unfreezes or replaces nothing of it."""
    mine = [e for e in flow.events if (e.target == param or e.target.startswith(param + "."))
            and e.kind in (FREEZE, UNFREEZE, REPLACE, FREEZE_BY_DEFAULT)]
    if not mine:
        return False
    for e in mine:
        if e.kind != FREEZE or e.detail.get("via") or e.detail.get("applied") or _conditional(flow, e) \
                or _relative(e.detail.get("sub"), param, "") != "":
            return False  # `applied`: the modules `model.apply(fn)` or a loop under a test picks
        loop = _loop_of(flow, e)
        if loop is not None and (loop is _UNKNOWN or loop[1]):
            return False  # a name test, or a loop not understood: not every parameter
    return True


def _whole_when(flow: Flow, fn: cst.FunctionDef, param: str) -> list[list] | None:
    """The tutorial's `set_parameter_requires_grad(model, feature_extracting)`: the function freezes
    every parameter of `param` itself, as `_whole` says, but only under `if` tests on its other
    parameters (`if feature_extracting:`), the same tests for each freeze: those tests as code, each
    with the arm taken, for a caller to read its arguments by. None for anything else."""
    mine = [e for e in flow.events if (e.target == param or e.target.startswith(param + "."))
            and e.kind in (FREEZE, UNFREEZE, REPLACE, FREEZE_BY_DEFAULT)]
    if not mine or any(e.kind != FREEZE or e.detail.get("via") or e.detail.get("applied")
                       or _relative(e.detail.get("sub"), param, "") != "" for e in mine):
        return None
    when = None
    for e in mine:
        loop = _loop_of(flow, e)
        if loop is not None and (loop is _UNKNOWN or loop[1]):
            return None  # a name test, or a loop not understood: not every parameter
        tests = _param_tests(flow, fn, e, param)
        if tests is None or when is not None and tests != when:
            return None  # a test on anything else, or freezes under different tests
        when = tests
    return when or None


def _param_tests(flow: Flow, fn: cst.FunctionDef, e: Event, model: str) -> list[list] | None:
    """The `if` tests an event of the function's body sits under (not a loop's own), each `[code,
    arm]`, where every one reads only parameters of the function other than `model`; else None."""
    body = _body(flow)
    nodes = {id(n): n for n in walk(body)} if body is not None else {}
    loops = [nodes[i] for i in e.loops if i in nodes]
    flags = {p.name.value for p in (*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params)} - {model}
    out = []
    for i, arm in e.branches:
        node = nodes.get(i)
        if node is not None and any(_contains(lp, node) for lp in loops):
            continue  # a test inside the loop (which parameter): the loop's reading says
        read = {n.split(".")[0] for n in _names_in(node.test)} if isinstance(node, cst.If) else set()
        if not read or not read <= flags:
            return None  # an arm of something else, or a test on what the caller does not pass
        out.append([code_of(node.test), arm])
    return out


def _returned_parts(facts: Facts, flow: Flow, local: str, when: list | None = None,
                    helper: list | None = None) -> Parts | None:
    """The parts of the model a builder returns (`return m`), when every BatchNorm layer in it is
    frozen there on every path; or, with `when` (a list to fill), where tests on the builder's own
    parameters hold (`if feature_extract:`, inline or in a helper handed the flag), those tests.
    With `helper` (a list to fill): the one function of another project file the whole model is
    handed to (`set_bn(m, freeze_bn)`) taken as a freeze of all of it, the call recorded there
    (`_handed_helper`) for the project to read that function's own record (what it freezes, under
    which of its flags: project.frozen)."""
    first = next((e for e in flow.events if e.target == local and (e.kind in (FREEZE, BUILT) or helper is not None
                                                                    and e.kind.startswith(VIA))), None)
    found = _model_parts(facts, flow, local, first) if first is not None else None
    layers = _layers(found[0]) if found is not None else []
    if not layers:
        return None
    state = _State({f"{layer}.{p}": False for layer in layers for p in ("weight", "bias")},
                   {part: True for part in found[1]}, when=when)
    fn = flow.scope.node if isinstance(flow.scope.node, cst.FunctionDef) else None
    binds = [e for e in flow.events if e.kind == REBIND and e.target == local]
    if len(binds) != 1 or binds[0].branches or binds[0].loops:
        when = state.when = None  # a model per arm (`if arch == "resnet":`): `_returned_arms` reads those
    for e in flow.events:
        if helper is not None and when is not None and fn is not None and e.target == local \
                and e.kind.startswith(VIA) and not e.kind.endswith("#" + RET):
            handed = _handed_helper(flow, fn, e, local)
            if handed is None or helper:
                return None  # a second one, or one not read: what the model comes with is not known
            if _conditional(flow, e):
                tests = _param_tests(flow, fn, e, local)
                if not tests:
                    return None
                when.extend(t for t in tests if t not in when)
            helper.append(handed)
            for name in state.names:
                state.names[name] = True
                state.first[name] = e
            for part in state.unknown:
                state.unknown[part] = False
            continue
        if (e.target == local or e.target.startswith(local + ".")) and e.kind in (FREEZE, UNFREEZE, REPLACE, BUILT):
            if e.kind == FREEZE and _conditional(flow, e):
                tests = _param_tests(flow, fn, e, local) if when is not None and fn is not None else None
                if not tests:
                    continue
                when.extend(t for t in tests if t not in when)
            if not _apply(flow.facts, flow, e, local, "", state, 0):
                return None
    frozen = [layer for layer in layers if state.names.get(f"{layer}.weight") and state.names.get(f"{layer}.bias")]
    return found[0] if _all_frozen(state, frozen) else None


def _handed_helper(flow: Flow, fn: cst.FunctionDef, e: Event, local: str) -> dict | None:
    """A builder's `set_bn(m, freeze_bn)`, the model handed whole to a function of another project
    file (`e`, its via event): `{"fn": its qualified name, "pos": the model's position, "call": the
    call's text}`, each other argument as the builder's caller can read it (a literal, or a parameter
    of the builder's it hands on, else `...`: not read). None for `*args`, a part of the model."""
    call, kind = e.node, e.kind[len(VIA):]
    q, _, pos = kind.rpartition("#")
    if not isinstance(call, cst.Call) or not q or not pos.isdigit() or any(a.star for a in call.args):
        return None
    args = [a for a in call.args if a.keyword is None]
    if int(pos) >= len(args) or not (isinstance(args[int(pos)].value, cst.Name) and args[int(pos)].value.value == local):
        return None
    params = {p.name.value for p in (*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params)}

    def shown(value: cst.BaseExpression) -> str:
        if _literal(value) or isinstance(value, cst.Name) and value.value == local:
            return code_of(value)
        if isinstance(value, cst.Name) and value.value in params \
                and all(b.how == "param" for b in flow.scope.bindings.get(value.value, [])):
            return value.value  # the builder's own flag, handed on
        return "..."
    text = ", ".join(f"{a.keyword.value}={shown(a.value)}" if a.keyword is not None else shown(a.value)
                     for a in call.args)
    return {"fn": q, "pos": int(pos), "call": f"_({text})"}


def carried_tests(record: dict, call: str, signature: str | None) -> list | None:
    """The tests of a function's "frozen" record at a position (`when`, on its own flags) said of the
    builder that calls it (`call`, as `_handed_helper` recorded it, the builder's `signature`): a flag
    given a literal decides its test here (one that fails: None, nothing frozen), one the builder
    hands on becomes a test on the builder's parameter; anything else is not read (None)."""
    when = record.get("when")
    if not when:
        return []
    try:
        fn = cst.parse_statement(f"def _({record['signature']}): pass\n")
        outer = cst.parse_statement(f"def _({signature}): pass\n") if signature is not None else None
        expr = cst.parse_expression(call)
        tests = [(cst.parse_expression(code), arm) for code, arm in when]
    except (cst.ParserSyntaxError, KeyError, TypeError, ValueError):
        return None
    if not isinstance(fn, cst.FunctionDef) or not isinstance(outer, cst.FunctionDef) or not isinstance(expr, cst.Call):
        return None
    names = {p.name.value for p in (*outer.params.posonly_params, *outer.params.params, *outer.params.kwonly_params)}
    out = []
    for test, arm in tests:
        given, renamed = {}, {}
        for name in _names_in(test):
            known, value = _argument(expr, fn, name.split(".")[0])
            if not known or "." in name or value is None:
                return None
            if _literal(value):
                given[name] = _value_of(value)
            elif isinstance(value, cst.Name) and value.value in names:
                renamed[name] = value.value
            else:
                return None
        if given and renamed:
            return None  # a literal beside a flag handed on: not read
        if given:
            if _evaluate_literal(test, given) != (arm == 0):
                return None
            continue
        out.append([code_of(test.visit(_Rename(renamed))), arm])
    return out


def returned_builder(facts: Facts, flow: Flow, params: list[str]) -> str | None:
    """The imported project function whose result every `return` hands back untouched (`return
    build(cfg)`, or `m = build(cfg)` ... `return m.to(device)` with nothing done to `m` between):
    a builder of another file passed on, its model's frozen BatchNorm with it."""
    calls = []
    for value in flow.returns:
        value = unwrap_self_returning(value) if value is not None else None
        if isinstance(value, cst.Name) and value.value not in params:
            bound = flow.scope.bindings.get(value.value, [])
            if len(bound) != 1 or bound[0].how != "expr" or not isinstance(bound[0].node, cst.Call) or any(
                    e.target == value.value or e.target.startswith(value.value + ".")
                    for e in flow.events if e.kind not in (BUILT, REBIND)
                    and not (e.kind.startswith(VIA) and e.kind.endswith("#" + RET))):
                return None
            value = bound[0].node
        if not isinstance(value, cst.Call) or not isinstance(value.func, cst.Name):
            return None  # `models.build(cfg)`: not followed, as `m = models.build(cfg)` is not
        calls.append(value)
    quals = {facts.qualname(c.func, flow.scope) for c in calls}
    if len(quals) != 1:
        return None
    q = quals.pop()
    root = root_of(calls[0].func)
    if not q or is_library(q) or not _imported(facts, flow, root):
        return None
    return q


def _imported(facts: Facts, flow: Flow, name: str | None) -> bool:
    """`name` is bound by an import of the file (not a def of its own, not a local)."""
    if name is None or name in flow.scope.bindings:
        return False
    binding = facts.module_scope.bindings.get(name, [])
    return len(binding) == 1 and binding[0].how == "import"


def _init_parts(facts: Facts, callees, info) -> Parts | None:
    """The parts of an instance of a Module class of this file when its `__init__` leaves every
    BatchNorm layer in it frozen, and no method of the class puts a part of it in eval mode."""
    init = next((m for m in info.node.body.body if isinstance(m, cst.FunctionDef) and m.name.value == "__init__"),
                None)
    flow = callees.body_flow(init) if init is not None else None
    report = next((e for e in flow.events if e.kind == FREEZE), None) if flow is not None else None
    if report is None or not _plain_module(facts, info) or _evals_parts(callees, info):
        return None
    parts, unknown = _class_parts(facts, info)
    layers = _layers(parts)
    state = _State({f"{layer}.{p}": False for layer in layers for p in ("weight", "bias")},
                   {part: True for part in unknown})
    if not _apply_init(facts, flow, info, "", state, 0, report):
        return None
    frozen = [layer for layer in layers if state.names.get(f"{layer}.weight") and state.names.get(f"{layer}.bias")]
    return parts if _all_frozen(state, frozen) else None
