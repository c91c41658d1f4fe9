"""What each function and class of one file does to its arguments, as plain JSON data.

A summary is computed once per file content (the project index caches it by content hash) and is
all another file needs to know: which parameters a function freezes, unfreezes, puts in train()
or eval(), BN-freezes, builds an optimizer over, wraps in DDP, trains, and the state of the
model it returns ("ret": frozen, BN-frozen, in eval() or train()); what each Module class
does to `self` in `__init__` and in its other methods, whether it overrides train(), whether it
has `configure_optimizers`, and which of its attributes are proven to hold BatchNorm ("bn": a
`model.backbone.eval()` of another file freezes BatchNorm statistics). Effects map an event kind
to the 1-based line where it happens.

    {"version": 1,
     "imports": {"Net": "models.net.Net", "F": ".functional"},
     "functions": {"train_one_epoch": {"params": ["model", "loader"],
                                       "effects": {"0": {"train": 12, "calls:freeze_bn": 13}},
                                       "opt": {}},
                   "build": {"params": ["cfg"], "effects": {"ret": {"bn_freeze": 20}}, "opt": {}},
                   "make": {"params": ["cfg"], "effects": {}, "opt": {}, "fresh": true}},
     "classes": {"Net": {"bases": ["torch.nn.Module"], "module": true, "train_override": false,
                         "configure_optimizers": false,
                         "methods": {"freeze_bn": {"bn_freeze": 30}, "__init__": {}}, "bn": ["backbone"],
                         "attrs": {"backbone": {"kind": "module", "qual": "torch.nn.Sequential",
                                                "factory": "torch.nn.Sequential"},
                                   "scale": {"kind": "param"}}}}}

"passes" (FZ102 across files, `_passes`): per imported project function this file calls, as it names
the function, what each call gives it: `[{"0": {"kind": "module", "class": "Net"}, "=cfg": null}]`.

"probes" (FZ202's linear probe across files): per imported helper given a model, as this file names it
with the argument's position, what follows each call: `[eval_seen, [pending helpers]]` per path on
which the model is left in eval mode, or null when some call leaves it in train mode (probe.py).

"frozen" (FZ202's whole-model freeze, whole_model.frozen_records): in a function's entry, the
positions it freezes whole (`{"0": {"whole": true}}`: every parameter of its argument, on every path;
or only under `if` tests on its other parameters, the same tests for each freeze, with those tests and
the signature a caller's arguments are read by: `{"0": {"whole": true, "when": [["feature_extracting",
0]], "signature": "model, feature_extracting"}}`, the tutorial's `set_parameter_requires_grad`)
and the model it returns with every BatchNorm layer frozen (`{"ret": {"parts": {"": [factory, sub]}}}`,
the table factories that built it, by path inside it; with "when" and "signature" as above where the
freezes sit under tests on the builder's own parameters, inline or in a helper of its file handed them:
the tutorial's `initialize_model(num_classes, feature_extract)`), or the builder of another file whose model
it returns untouched (`{"ret": {"via": "models.build"}}`: the project follows it there), or, for a
builder that binds a different table model per arm of an `if`, each arm's model frozen whole on every
path of that arm (`{"ret": {"arms": [{"parts": {"": [factory, sub]}, "when": [["arch == 'resnet'", 0]]}],
"signature": "arch, num_classes=2"}}`: the tests of the `if`s, with the arm taken, and the parameters
the callers' arguments are read by); in a Module
class's entry, the same of an instance its `__init__` built (`{"parts": {"backbone":
["torchvision.models.resnet50", null]}}`). "held" (a plain Module class's, whole_model.held_records):
what table models an instance holds, frozen or not (`{"parts": {"f.bn1": ["torchvision.models.resnet18",
"bn1"]}, "unknown": [attr]}`), for another file's `self.f = Model().f`. A function that returns such a builder's result straight
(`return build(cfg)`) has `{"ret": {"via:models.build#ret": line}}` in its effects, as
`m = build(cfg); return m` has. A function that returns the model in a tuple (`return model_ft,
input_size`) has the same at the element's position, "ret@0" (effects, "flags", "frozen"): what a
caller's `model_ft, size = build(cfg)` unpacks.

A plain class (not a Module) whose `__init__` acts on its arguments has "init": that constructor as a
function of them, self left out ({"params", "effects", "opt"} as a function's entry has them): a
`Trainer(model)` that builds its optimizer over the model builds it at the call. Such a class that
keeps constructor arguments as they are (`self.model = model`, assigned nowhere else) has "acts": per
method, what it does to them as a function of the constructor's arguments (the same shape, with
"kept" and "reach"; at "self", a param group it adds to an optimizer of the instance's own):
`trainer.freeze_backbone()` freezes the model given to `Trainer(model)`. Such a class's "margs": per
method, what it does to the arguments it is given, self left out (a function's entry): `trainer.freeze(model)`
freezes `model`. "init", "acts" and "margs" count what a class inherits from its bases of the same file
too (their `__init__`, their methods); a base of another file is followed there by the project index.
A LightningModule's entry also has "optimizer": the first optimizer its `configure_optimizers` builds
over `self` or a part of it ({"filtered", "optimizer", "whole", "stateful", "path", "line"}; "path":
`self.model` for a part). "fresh": the function returns a model a library call just built, which
nothing in it freezes or hands on: every parameter of it is trainable (FZ303: an optimizer's requires_grad filter over it kept them all).
A Module class's "attrs" (and those of a class with a project base class, a Module maybe through
another file): what each `self.<attr>` holds where the file establishes it (see `_attr_kinds`):
another file's `model.backbone` is then known as this file knows it. An attribute that holds an
instance of a project class says which ("class": as this file names it, a class of another file or
of this one): the project index follows it there (`model.backbone.stem`), through its bases too.
"modeless" (FZ202): a function of one parameter that, handed to `model.apply`, visibly sets no
BatchNorm layer's mode (a weight initialiser: whole_model.keeps_modes).
"quiet" (FZ201): the positions of the parameters a function provably leaves in their modes (it
reads, prints or saves them: modes.quiet); "hands": per position it hands to a callable it was
given ("opaque"), `[index, name, at, none_default]` of that callable parameter (null: not known),
so a call site that passes a known function can tell. "restores" (FZ202): the positions whose every train() call puts back the mode saved from
that argument (`was = model.training; ...; model.train(was)`). "reach" (FZ201): per position, where every
train() call of the function reaches only parts of that parameter, those parts relative to it with
whether each is proven to hold BatchNorm (`[[".head", false]]`); a class's "reach" says the same of
self per method. "init_bn" (FZ201): the BatchNorm freezes a Module class's `__init__` makes through
a public method of it (`self.freeze_bn()`), `{"inner": ".backbone" or "", "flags": [[index, name,
off by default]]}` each, the `if flag:` tests on its parameters it sits under. "init_freeze" (FZ301):
the parts of self a Module class's `__init__` leaves frozen (of self, or of a constructor argument it
holds), `{"inner": ".encoder.fc", "flags": [...]}` each, flags as in "init_bn". A function's "kept"
(FZ301): the positions whose freeze outlives the function's own unfreezes of them (each picks a
subset by a name test of its own: loralib's `mark_only_lora_as_trainable`). A function's "flags": per
position (or "ret") and kind, where every event of that kind sits under `if flag:` on a parameter of
it, those tests per event (`[[index, name, off by default], ...]`): a call that sets each off
(`build()` of `def build(freeze=False)`) does not do it. A class with a train() of its own has
"train_keeps": the parts that train() provably keeps in eval mode (`[]`: none), or null when it
may keep more (modes.train_keeps).
A plain class whose methods (its line of this file) call train() on an attribute of self and then
train has "trainer" (FZ201, rules.fz201_train_undoes_bn_freeze.trainer_record): per method, the
class that defines it ("cls"), the methods of self it calls ("calls"), whether it may re-freeze
itself ("refreeze"), and "trains" (`{"self.model": [line of the train(), called by the method
itself]}`): what a subclass of another file whose `__init__` froze BatchNorm inherits; and "then"
(`{"on_epoch_start": [line of the call, ["self.model"]]}`): the methods of self it calls that
training of those attributes follows, nothing between that may re-freeze (a subclass's override of
one that calls train() undoes the freeze).
"partial" (FZ401): in a function's entry, the line of a `load_state_dict(..., strict=False)` whose
result it returns and nothing in it reads (a caller that drops the result drops the missing and
unexpected keys); in a class's entry, the same per method (`{"load_from_pretrained": 212}`).
"""

from __future__ import annotations

import libcst as cst

from freezelint.check.declared import class_declares
from freezelint.check.events import (BN_FREEZE, CALLS, EVAL, OPT_BUILD, REBIND, REPLACE, RET, TRAIN, VIA, Summaries,
                                     RUNS, chain_init, init_events, init_only_attrs, is_returned, lineage, own_method,
                                     opt_detail, returned_elements, unwrap_self_returning)
from freezelint.check.facts import MODULE, PARAM, Facts
from freezelint.check.known import is_library
from freezelint.check.lines import start_lines
from freezelint.check.modes import train_keeps
from freezelint.check.syntax import root_of, walk
from freezelint.check.project import SUMMARY_VERSION as VERSION  # there: read back without libcst

# Event kinds a summary records (what crosses files). ACTIVITY: the argument is trained/run.
RECORDED = ("train", "eval", "bn_freeze", "freeze", "unfreeze", "opt_build", "add_group", "ddp_wrap", "activity",
            "opaque")


def _returned_call(facts: Facts, callees, stmt: cst.FunctionDef, params: list[str]) -> dict:
    """`{"via:<qualname>#ret": node}` for a function that returns straight what a function of
    another file returns (`return build(cfg)`, the same call on every path), else nothing."""
    flow = callees.body_flow(stmt)
    if flow is None or not flow.returns:
        return {}
    calls = [unwrap_self_returning(v) for v in flow.returns if v is not None]
    if len(calls) != len(flow.returns) or not all(isinstance(c, cst.Call) and isinstance(c.func, cst.Name)
                                                   for c in calls):
        return {}
    from freezelint.check.whole_model import returned_builder  # the flow layer, as frozen_records

    via = returned_builder(facts, flow, params)
    return {f"{VIA}{via}#{RET}": calls[0]} if via is not None else {}


def _keeps_modes(facts: Facts, stmt: cst.FunctionDef) -> bool:
    from freezelint.check.whole_model import keeps_modes  # the flow layer, as frozen_records

    try:
        return keeps_modes(facts, stmt, facts.func_scopes.get(id(stmt)) or facts.module_scope)
    except RecursionError:  # a generated body nested too deep to read: not known to keep modes
        return False


def _recorded(kind: str) -> bool:
    return kind in RECORDED or kind.startswith((CALLS, VIA))


def summarise(facts: Facts) -> dict:
    """The file's summary (see the module docstring)."""
    from freezelint.check.rules.fz201_train_undoes_bn_freeze import trainer_record  # the rule's own reading

    callees = Summaries(facts)
    found: dict[str, dict[str, cst.CSTNode]] = {}  # "f:0" / "C.m" -> kind -> first node

    functions: dict[str, dict] = {}
    classes: dict[str, dict] = {}
    for stmt in facts.module.body:
        if isinstance(stmt, cst.FunctionDef):
            params = [p.name.value for p in (*stmt.params.posonly_params, *stmt.params.params)]
            entry: dict = {"params": params, "effects": {}, "opt": {}}
            for i in range(len(params)):
                eff = {k: n for k, n in callees.effects(stmt, i).items() if _recorded(k)}
                if eff:
                    found[f"{stmt.name.value}:{i}"] = eff
                    entry["effects"][str(i)] = eff
                opt = callees.first_event(stmt, i, OPT_BUILD)
                if opt is not None:
                    entry["opt"][str(i)] = opt_detail(opt)
            # the state of the model it returns (`"ret"`): what a `model = build(cfg)` starts from
            eff = {k: n for k, n in callees.effects(stmt, RET).items()
                   if k in Summaries.RETURNED or k.startswith((CALLS, VIA))}
            if not eff:  # `return build(cfg)`: handed on as `m = build(cfg); return m` is
                eff = _returned_call(facts, callees, stmt, params)
            if eff:
                found[f"{stmt.name.value}:{RET}"] = eff
                entry["effects"][RET] = eff
            for at in returned_elements(callees.body_flow(stmt), facts.func_scopes.get(id(stmt)), params):
                # `return model_ft, input_size`: what a `model_ft, size = build(cfg)` starts from
                eff = {k: n for k, n in callees.effects(stmt, at).items()
                       if k in Summaries.RETURNED or k.startswith((CALLS, VIA))}
                if eff:
                    found[f"{stmt.name.value}:{at}"] = eff
                    entry["effects"][at] = eff
            if _returns_fresh(facts, stmt, callees):
                entry["fresh"] = True
            returned = _returned_module(facts, stmt)
            if returned:  # kinds: a call of it in another file gives a Module
                entry["returns"] = returned
            # an argument with effects is not left alone (whatever `quiet` found: not asked)
            quiet = [i for i in range(len(params)) if str(i) not in entry["effects"] and callees.quiet(stmt, i)]
            if quiet:  # FZ201: handed the model after train(), it re-freezes nothing
                entry["quiet"] = quiet
            if len(params) == 1 and _keeps_modes(facts, stmt):
                entry["modeless"] = True  # FZ202: handed to `model.apply`, it sets no BatchNorm layer's mode
            kept = [i for i in range(len(params)) if {"freeze", "unfreeze"} <= set(entry["effects"].get(str(i), {}))
                    and callees.kept(stmt, i)]
            if kept:  # FZ301: its freeze of the argument outlives its own unfreezes (a subset by name)
                entry["kept"] = kept
            hands = {str(i): callees.hands(stmt, i) for i in range(len(params))
                     if "opaque" in entry["effects"].get(str(i), {})}
            if hands:
                entry["hands"] = hands
            reach = {str(i): r for i in range(len(params)) if "train" in entry["effects"].get(str(i), {})
                     and (r := callees.reach_inner(stmt, i))}
            if reach:  # FZ201: its train() calls reach only these parts of the argument
                entry["reach"] = reach
            restores = [i for i in range(len(params)) if "train" in entry["effects"].get(str(i), {})
                        and callees.restores(stmt, i)]
            if restores:  # FZ202: each train() of it puts back the mode saved from it (`model.train(was)`)
                entry["restores"] = restores
            flags = {at: kinds for at in entry["effects"] if is_returned(at) or at.isdigit()
                     if (kinds := {k: f for k in entry["effects"][at] if not k.startswith(VIA)
                                   and (f := callees.flags_of(stmt, at if is_returned(at) else int(at), k))})}
            if flags:  # a freeze under `if freeze:` on a parameter: a call that leaves it False does not freeze
                entry["flags"] = flags
            functions[stmt.name.value] = entry
        elif isinstance(stmt, cst.ClassDef):
            info = facts.classes.get(stmt.name.value)
            bases = [facts.qualname(b.value, facts.module_scope) or "" for b in stmt.bases if b.keyword is None]
            methods: dict[str, dict] = {}
            reach: dict[str, list] = {}
            for m in stmt.body.body:
                if isinstance(m, cst.FunctionDef) and (m.params.params or m.params.posonly_params):
                    eff = {k: n for k, n in callees.effects(m, 0).items() if _recorded(k)}
                    found[f"{stmt.name.value}.{m.name.value}"] = eff
                    methods[m.name.value] = eff
                    if "train" in eff and (r := callees.reach_inner(m, 0)):
                        reach[m.name.value] = r
            classes[stmt.name.value] = {
                "bases": bases, "module": bool(info and info.is_module),
                "train_override": "train" in methods, "configure_optimizers": "configure_optimizers" in methods,
                "methods": methods, "bn": callees.bn_attrs(info) if info and info.is_module else [],
            }
            if reach:  # FZ201: the parts of self the train() calls of these methods reach
                classes[stmt.name.value]["reach"] = reach
            init = _constructor_entry(callees, stmt, info, found)
            if init:  # a trainer built over the model: what `Trainer(model)` does to its arguments
                classes[stmt.name.value]["init"] = init
            acts = _held_acts(callees, stmt, info, found)
            if acts:  # `trainer.freeze_backbone()`: what its methods do to the arguments it holds
                classes[stmt.name.value]["acts"] = acts
            owns = _owned(callees, stmt, info, found)
            if owns:  # a trainer that builds its own model: what its constructor leaves (a subclass elsewhere)
                classes[stmt.name.value]["owns"] = owns
            margs = _method_args(callees, stmt, info, found)
            if margs:  # `trainer.freeze(model)`: what its methods do to the arguments they are given
                classes[stmt.name.value]["margs"] = margs
            init_bn = callees.constructed_bn(info) if info is not None and info.is_module else []
            if init_bn:  # FZ201: a model built from it arrives with this BatchNorm frozen
                classes[stmt.name.value]["init_bn"] = init_bn
            init_freeze = callees.constructed_freezes(info) if info is not None and info.is_module else []
            if init_freeze:  # FZ301: a model built from it arrives with these parts frozen
                classes[stmt.name.value]["init_freeze"] = init_freeze
            record = trainer_record(facts, info, callees.body_flow) if info is not None and not info.is_module else None
            if record:  # FZ201: what a trainer subclass of another file inherits that trains its model
                classes[stmt.name.value]["trainer"] = record
            if "train" in methods and info is not None:  # what its train() provably keeps in eval (FZ201)
                classes[stmt.name.value]["train_keeps"] = train_keeps(facts, info)
            if info is not None and (info.is_module or any(b and not is_library(b) for b in bases)):
                # a class whose base is a project class may be a Module through another file
                classes[stmt.name.value]["attrs"] = _attr_kinds(facts, info)
            conf = next((m for m in stmt.body.body if isinstance(m, cst.FunctionDef)
                         and m.name.value == "configure_optimizers" and m.params.params), None)
            built = callees.first_event(conf, 0, OPT_BUILD) if conf is not None else None
            if built is not None and (built.target == "self" or built.target.startswith(("self.", "self["))):
                # what a Callback of another file needs: the optimizer Lightning builds before its hooks;
                # over a part of self too (`self.model.parameters()`), which `x.configure_optimizers()` places
                # on `x.model`
                classes[stmt.name.value]["optimizer"] = {**opt_detail(built), "path": built.detail.get("path")}
                found[f"{stmt.name.value}#optimizer"] = {"line": built.node}
    # FZ401: the functions and methods that return a `strict=False` load's result unread (the rule
    # says which), and those that load with a parameter of theirs as `strict` and drop the result, or
    # return it unread (marked True: the caller that drops it drops the keys)
    from freezelint.check.rules.fz401_unchecked_partial_load import (returned_loads, returned_strict_loads,
                                                                      strict_arg_loads)

    loads = returned_loads(facts)
    through = {**strict_arg_loads(facts), **{k: (*v, True) for k, v in returned_strict_loads(facts).items()}}
    # the lines of the nodes recorded, in one code generation over the file (see lines.py)
    lines = start_lines(facts.module, [*(n for eff in found.values() for n in eff.values()), *loads.values(),
                                       *(load for load, *_ in through.values())])
    for eff in found.values():
        for k, node in list(eff.items()):
            eff[k] = lines.get(node, 0)
    for name, entry in classes.items():
        if "optimizer" in entry:
            entry["optimizer"]["line"] = found.pop(f"{name}#optimizer")["line"]
        for i, record in enumerate(entry.get("owns", {}).get("events", ())):
            record["line"] = found.pop(f"{name}#owns{i}")["line"]

    if loads:
        for name, stmt in _last_defs(facts.module.body).items():  # the def a name ends up bound to
            if id(stmt) in loads and name in functions:
                functions[name]["partial"] = lines[loads[id(stmt)]]
        for stmt in facts.module.body:
            if isinstance(stmt, cst.ClassDef) and stmt.name.value in classes:
                partial = {name: lines[loads[id(m)]]
                           for name, m in _last_defs(stmt.body.body).items() if id(m) in loads}
                if partial:
                    classes[stmt.name.value]["partial"] = partial

    if through:
        for name, stmt in _last_defs(facts.module.body).items():
            if id(stmt) in through and name in functions:
                load, *rest = through[id(stmt)]
                functions[name]["strict_arg"] = [lines[load], *rest]
        for stmt in facts.module.body:  # a subclass of another file runs them through self (FZ401)
            if isinstance(stmt, cst.ClassDef) and stmt.name.value in classes:
                strict = {name: [lines[through[id(m)][0]], *through[id(m)][1:]]
                          for name, m in _last_defs(stmt.body.body).items() if id(m) in through}
                if strict:
                    classes[stmt.name.value]["strict_arg"] = strict

    # FZ202's whole-model freeze: what a helper, builder or class leaves frozen (its module says how)
    from freezelint.check.whole_model import frozen_records, held_records

    frozen = frozen_records(facts, callees)
    for kind, entries in (("functions", functions), ("classes", classes)):
        for name, record in frozen[kind].items():
            if name in entries:
                entries[name]["frozen"] = record
    for name, record in held_records(facts).items():  # another file's `self.f = Model().f`
        if name in classes:
            classes[name]["held"] = record

    flows = _flows(facts, callees)
    trained, evaluated = _instances_put_in_modes(facts, flows)
    imports = {name: b[0].qualname for name, b in facts.module_scope.bindings.items()
               if len(b) == 1 and b[0].how == "import" and b[0].qualname}
    from freezelint.check.probe import probes  # the flow layer's ordering; loaded with the summary

    return {"version": VERSION, "imports": imports, "functions": functions, "classes": classes,
            "trained": trained, "evaluated": evaluated, "probes": probes(facts, flows), "passes": _passes(facts)}


def _passes(facts: Facts) -> dict[str, list[dict]]:
    """What each call of an imported project function is given ("passes"), as this file names the
    function: per call, its arguments by position ("0") or keyword ("=model"), each the Module entry
    of a Module this file establishes (`_module_entry`; a class of this file by its "class") or null;
    a `*args`/`**kwargs` call has "*": null. The function's own file reads them back (kinds: a
    parameter holds what every call passes)."""
    out: dict[str, list[dict]] = {}
    for mc in (*facts.extracted.name_calls, *facts.extracted.method_calls):
        func, scope = mc.call.func, mc.ctx.scope
        local = root_of(func)
        owner = scope.lookup(local) if local else None
        binding = owner.bindings.get(local, []) if owner is not None else []
        if not binding or any(b.how != "import" for b in binding):
            continue  # a function of this file, a method of an object, a builtin
        q = facts.qualname(func, scope)
        if not q or is_library(q):
            continue
        args: dict = {}
        for i, a in enumerate(x for x in mc.call.args if x.keyword is None and not x.star):
            args[str(i)] = _passed(facts, a.value, mc.ctx)
        for a in mc.call.args:
            if a.star:
                args["*"] = None
            elif a.keyword is not None:
                args["=" + a.keyword.value] = _passed(facts, a.value, mc.ctx)
        out.setdefault(q, []).append(args)
    return out


def _passed(facts: Facts, expr, ctx) -> dict | None:
    """A call's argument as `passes` records it: a Module this file establishes, or None (unknown,
    a Parameter, or taken for a Module only because it is called like a layer)."""
    k = facts.kind(expr, ctx)
    if k is None or k.tag != MODULE or facts.kinds.module_only_called(expr, ctx.scope):
        return None
    if k.cls is not None and class_declares(k.cls, "requires_grad"):
        return None  # a class that keeps requires_grad as its own setting
    return _module_entry(facts, k)


def _last_defs(body) -> dict[str, cst.FunctionDef]:
    """The `def` each name of a block ends up bound to (the last one)."""
    return {s.name.value: s for s in body if isinstance(s, cst.FunctionDef)}


def _constructor_entry(callees: Summaries, stmt: cst.ClassDef, info, found: dict) -> dict | None:
    """A plain class's `__init__` as a function of the constructor's arguments (self left out):
    {"params", "effects", "opt"} as a function's entry has them, or None when it does nothing
    recorded to them. Module classes are left out: their arguments are parts, held as self's."""
    if info is None or info.is_module:
        return None
    init = _init_of(callees, info)
    if init is None or len(init.params.params) < 2:
        return None
    params = [p.name.value for p in init.params.params[1:]]
    entry: dict = {"params": params, "effects": {}, "opt": {}}
    for i in range(len(params)):
        eff = {k: n for k, n in callees.effects(init, i + 1).items() if _recorded(k)}
        if eff:
            found[f"{stmt.name.value}.__init__:{i}"] = eff
            entry["effects"][str(i)] = eff
        opt = callees.first_event(init, i + 1, OPT_BUILD)
        if opt is not None:
            entry["opt"][str(i)] = opt_detail(opt)
    return entry if entry["effects"] else None


def _line_methods(callees: Summaries, info) -> list[cst.FunctionDef]:
    """The methods an instance of a plain class has from its own body and its bases of this file
    (the first that defines each name), taking self."""
    line = lineage(callees.facts, info)
    seen: set[str] = set()
    out = []
    for c in line[0] if line is not None else [info]:
        for m in c.node.body.body:
            if isinstance(m, cst.FunctionDef) and m.name.value not in seen:
                seen.add(m.name.value)
                if own_method(c, m.name.value) is m:
                    out.append(m)
    return out


def _init_of(callees: Summaries, info) -> cst.FunctionDef | None:
    """The `__init__` an instance of a plain class runs: its own, or that of its base of this file."""
    line = lineage(callees.facts, info)
    found = chain_init(line[0] if line is not None else [info])
    return found[1] if found is not None else None


def _held_acts(callees: Summaries, stmt: cst.ClassDef, info, found: dict) -> dict:
    """What each method of a plain class does to the constructor arguments the class holds as
    they are (`self.model = model`: Summaries.holds), as a function of the constructor's
    arguments: {method: {"params", "effects", "opt"} (and "kept", "reach"), positions as "init"
    has them}. Methods that do nothing recorded to them are left out."""
    held = callees.holds(info)
    if not held:
        return {}
    init = _init_of(callees, info)
    params = [p.name.value for p in init.params.params[1:]]
    out: dict = {}
    line = lineage(callees.facts, info)
    attrs = sorted({a for c in (line[0] if line is not None else [info]) for a in c.attrs})
    for m in _line_methods(callees, info):
        entry: dict = {"params": params, "effects": {}, "opt": {}}
        for attr, (i, _) in held.items():
            eff = {k: n for k, n in callees.effects(m, attr).items() if _recorded(k)}
            if not eff:
                continue
            found[f"{stmt.name.value}.{m.name.value}:{attr}"] = eff
            entry["effects"][str(i)] = eff
            opt = callees.first_event(m, attr, OPT_BUILD)
            if opt is not None:
                entry["opt"][str(i)] = opt_detail(opt)
            if {"freeze", "unfreeze"} <= set(eff) and callees.kept(m, attr):
                entry.setdefault("kept", []).append(i)
            if "train" in eff and (r := callees.reach_inner(m, attr)):
                entry.setdefault("reach", {})[str(i)] = r
        own = [n for attr in attrs if f"self.{attr}" not in held
               for k, n in callees.effects(m, f"self.{attr}").items() if k == "add_group"]
        if own:  # its own optimizer given a param group: the instance itself, at "self"
            found[f"{stmt.name.value}.{m.name.value}:self"] = {"add_group": own[0]}
            entry["effects"]["self"] = found[f"{stmt.name.value}.{m.name.value}:self"]
        runs = callees.effects(m, RUNS).get("activity")
        if runs is not None:
            # a backward() or step it runs (`trainer.fit()`), at "*": the call runs one
            found[f"{stmt.name.value}.{m.name.value}:*"] = {"activity": runs}
            entry["effects"][RUNS] = found[f"{stmt.name.value}.{m.name.value}:*"]
        if entry["effects"]:
            out[m.name.value] = entry
    return out


def _owned(callees: Summaries, stmt: cst.ClassDef, info, found: dict) -> dict | None:
    """A plain class (its bases of this file) whose constructor builds an optimizer over an attribute
    only constructors assign (`self.model = build_model(cfg)`): those attributes, and the events of
    the constructor on them, in order ({"kind", "target", "line", "sub", and an optimizer's
    "path", "filtered", ...}): a subclass of another file reads its methods after them
    (flow.FileFlows.instances)."""
    if info is None or info.is_module:
        return None
    line = lineage(callees.facts, info)
    if line is None or line[1] is not None:
        return None
    init = init_events(line[0], callees.body_flow)
    if not any(e.kind == OPT_BUILD and e.target.startswith("self.") for e, _ in init or ()):
        return None  # no optimizer built over anything of self (most classes)
    stable = init_only_attrs(line[0]) - {a[len("self."):] for a in callees.holds(info)}
    roots = {f"self.{a}" for a in stable}
    events = [e for e, _ in init or () if e.target in roots
              and e.kind in (OPT_BUILD, "freeze", "unfreeze", REPLACE, REBIND, "add_group")]
    if not any(e.kind == OPT_BUILD for e in events):
        return None
    out = []
    for i, e in enumerate(events):
        record = {"kind": e.kind, "target": e.target}
        if e.kind == OPT_BUILD:
            record.update(opt_detail(e), path=e.detail.get("path"))
        elif e.detail.get("sub") or e.detail.get("path"):
            record["sub"] = e.detail.get("sub") or e.detail.get("path")
        found[f"{stmt.name.value}#owns{i}"] = {"line": e.node}
        out.append(record)
    return {"attrs": sorted(stable), "events": out}


def _method_args(callees: Summaries, stmt: cst.ClassDef, info, found: dict) -> dict:
    """What each method of a plain class does to the arguments it is given (self left out), as a
    function's entry: {method: {"params", "effects", "opt"} (and "kept")}. Methods that do nothing
    recorded to them are left out."""
    if info is None or info.is_module:
        return {}
    out: dict = {}
    for m in _line_methods(callees, info):
        if m.params.posonly_params or len(m.params.params) < 2:
            continue
        params = [p.name.value for p in m.params.params]
        entry: dict = {"params": params[1:], "effects": {}, "opt": {}}
        for i in range(1, len(params)):
            eff = {k: n for k, n in callees.effects(m, i).items() if _recorded(k)}
            if not eff:
                continue
            found[f"{stmt.name.value}.{m.name.value}#{i}"] = eff
            entry["effects"][str(i - 1)] = eff
            opt = callees.first_event(m, i, OPT_BUILD)
            if opt is not None:
                entry["opt"][str(i - 1)] = opt_detail(opt)
            if {"freeze", "unfreeze"} <= set(eff) and callees.kept(m, i):
                entry.setdefault("kept", []).append(i - 1)
        if entry["effects"]:
            out[m.name.value] = entry
    return out


def _attr_kinds(facts: Facts, info) -> dict[str, dict]:
    """What each `self.<attr>` of a Module class holds, where the file establishes it: a Module
    ({"kind": "module"}, with the library class or table factory it was built from) or a
    Parameter ({"kind": "param"}). Any other attribute the class assigns is there as `{}`: unknown,
    and what a base class assigns to it does not hold (a Module of this file whose class keeps
    `requires_grad` as its own setting too: nothing another file concludes from the kind holds)."""
    out: dict[str, dict] = {}
    for attr in sorted(info.attrs):
        k = facts.kinds.class_attr(info, attr)
        if k is None:
            made = _project_instance(facts, info.attrs[attr])
            # an instance of a project class of another file: what that class is, the project reads there
            out[attr] = {"class": made} if made else {}
            continue
        if k.tag not in (MODULE, PARAM) or k.tag == MODULE and k.cls is not None \
                and class_declares(k.cls, "requires_grad"):
            out[attr] = {}
            continue
        if k.tag == PARAM:
            out[attr] = {"kind": PARAM}
            continue
        out[attr] = _module_entry(facts, k)
    return out


def _module_entry(facts: Facts, k) -> dict:
    """A Module kind as another file can read it back (kinds._from_summary)."""
    entry = {"kind": MODULE}
    # only library names mean the same in another file (a project class is named as this file imports it)
    if k.qual and is_library(k.qual) and k.wraps is None:
        entry["qual"] = k.qual
    elif k.cls is not None and k.cls.name in facts.classes and k.wraps is None:
        entry["class"] = k.cls.name  # a class of this file: its own attributes are followed there
    if k.factory and is_library(k.factory):
        entry["factory"] = k.factory
        if k.sub:
            entry["sub"] = k.sub
    return entry


def _returned_module(facts: Facts, func: cst.FunctionDef) -> dict | None:
    """What every `return` of a top-level function gives, when that is a Module (`model =
    ResNet(...); return model`): another file's `net = models.resnet50(...)` is then known as one."""
    values = facts.extracted.returns.get(id(func), [])
    scope = facts.func_scopes.get(id(func))
    if not values or scope is None or any(v is None for v in values):
        return None
    kinds = [facts.kind(v, scope) for v in values]
    if any(k is None or k.tag != MODULE for k in kinds):
        return None
    entries = [_module_entry(facts, k) for k in kinds]
    if any(e != entries[0] for e in entries[1:]):
        return {"kind": MODULE}
    if "class" in entries[0] and class_declares(facts.classes[entries[0]["class"]], "requires_grad"):
        return None  # a class that keeps requires_grad as its own setting: nothing holds
    return entries[0]


def _project_instance(facts: Facts, values) -> str | None:
    """Every assignment of an attribute builds an instance of one class of another project file
    (`self.backbone = Backbone(cfg)`): that class as this file names it (`models.backbones.Backbone`)."""
    found = set()
    for value, scope in values:
        value = unwrap_self_returning(value)
        q = facts.qualname(value.func, scope) if isinstance(value, cst.Call) else None
        local = root_of(value.func) if q else None  # `Backbone`, `backbones` of `backbones.Backbone`
        bound = scope.lookup(local) if local else None
        binding = bound.bindings.get(local, []) if bound is not None else []
        if not q or is_library(q) or not binding or any(b.how != "import" for b in binding):
            return None
        found.add(q)
    return found.pop() if len(found) == 1 else None


def _returns_fresh(facts: Facts, func: cst.FunctionDef, callees: Summaries) -> bool:
    """Every `return` gives a model a library call built here (`return resnet18(...)`, or a local
    bound only to such calls), and nothing in the function freezes it, runs it or hands it to code
    that is not a library's: the caller gets every parameter trainable."""
    flow, scope = callees.body_flow(func), facts.func_scopes.get(id(func))
    if flow is None or scope is None or not flow.returns:
        return False
    names = set()
    for value in (unwrap_self_returning(v) if v is not None else None for v in flow.returns):
        if _library_call(facts, value, scope):
            continue
        bindings = scope.bindings.get(value.value, []) if isinstance(value, cst.Name) else []
        if not bindings or not all(b.how == "expr" and not b.index
                                   and _library_call(facts, unwrap_self_returning(b.node), scope) for b in bindings):
            return False
        names.add(value.value)
    if any(e.target in names and e.kind not in (TRAIN, EVAL, BN_FREEZE, REPLACE, REBIND) for e in flow.events):
        return False
    return not any(isinstance(n, cst.Call) and not is_library(facts.qualname(n.func, scope) or "")
                   and any(root_of(a.value) in names for a in n.args)
                   for n in walk(func.body))


def _library_call(facts: Facts, value, scope) -> bool:
    return isinstance(value, cst.Call) and is_library(facts.qualname(value.func, scope) or "")


def _flows(facts: Facts, callees: Summaries) -> list:
    """The events of the module body and of every function body."""
    from freezelint.check.events import Flow

    flows = [Flow.of_body(facts, facts.module_scope, facts.module.body, callees)]
    return flows + [f for f in (callees.body_flow(s.node) for s in facts.func_scopes.values()) if f is not None]


def _instances_put_in_modes(facts: Facts, flows: list) -> tuple[list[str], list[str]]:
    """Classes (as this file names them: `Net`, `models.Net`, `.net.Net`) whose instances this
    file puts in train() mode, and those it puts in eval() mode."""
    from freezelint.check.events import EVAL, TRAIN

    modes: dict[str, set[str]] = {TRAIN: set(), EVAL: set()}
    for flow in flows:
        scope = flow.scope
        for e in flow.events:
            if e.kind in modes and "." not in e.target:
                made = _constructed_from(facts, e.target, scope)
                if made:
                    modes[e.kind].add(made)
    return sorted(modes[TRAIN]), sorted(modes[EVAL])


def summarise_text(text: str) -> dict | None:
    """Summary of a source text, or None when it does not parse."""
    try:
        module = cst.parse_module(text)
        return summarise(Facts.of(module, text))
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return None


def _constructed_from(facts: Facts, name: str, scope) -> str | None:
    """`model = Net(...)` (possibly rebound through `.to()`/`.cuda()`): the class as this file
    names it, when every constructing binding agrees."""
    owner = scope.lookup(name)
    if owner is None:
        return None
    found = set()
    for b in owner.bindings[name]:
        value = unwrap_self_returning(b.node)
        if isinstance(value, cst.Name) and value.value == name:
            continue  # `model = model.to(device)`
        if b.how != "expr" or not isinstance(value, cst.Call):
            return None
        q = facts.qualname(value.func, b.scope or owner)
        if not q:
            return None
        found.add(q)
    return found.pop() if len(found) == 1 else None
