"""FZ505 trainable-unchanged, in the code: an optimizer that is built but never stepped.

The auditor reports a trainable parameter of an optimizer that never changes as FZ505. Its
plainest cause in the source is an optimizer nothing ever steps: diffusers' AutoencoderKL script
builds `disc_optimizer` over the discriminator, hands it to `get_scheduler` and
`accelerator.prepare`, and its discriminator branch computes `disc_loss` without a backward or
a `disc_optimizer.step()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import libcst as cst

from freezelint.check import traverse
from freezelint.check.events import optimizer_classes
from freezelint.check.facts import Facts, Scope
from freezelint.check.param_sources import param_sources
from freezelint.check.rules.base import OPTIMIZER_CALL, OPTIMIZER_CLASS, Example, Finding, Rule, src
from freezelint.check.syntax import call_arg, dotted

# Uses of an optimizer that never step it: methods and attributes
_FINE_METHODS = frozenset({"zero_grad", "state_dict", "load_state_dict", "add_param_group"})
_FINE_ATTRS = frozenset({"param_groups", "state", "defaults"})
# Calls an optimizer may be handed to that never step it. Schedulers read and write the lrs of
# its param groups; transformers' and diffusers' `get_*_schedule*` build a LambdaLR over it.
_SCHEDULER_PACKAGES = ("torch.optim.lr_scheduler.", "torch.optim.swa_utils.SWALR")
_SCHEDULE_MODULES = ("transformers.", "diffusers.optimization.", "diffusers.")
_PRINTS = frozenset({"print", "str", "repr", "format", "torch.save"})
_LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "critical", "log", "exception"})
_LOGGING = frozenset({"logging", "logger", "log", "LOGGER", "LOG", "_logger"})
_ACCELERATOR = frozenset({"accelerate.Accelerator", "accelerate.accelerator.Accelerator"})
# `accelerator.prepare(a, O, b)` returns its arguments, wrapped, in order: the wrapper of O is
# what gets stepped then
_PREPARE = frozenset({"prepare", "prepare_optimizer"})
# Names whose use lets any code reach a local by its name
_INTROSPECTION = frozenset({"globals", "locals", "vars", "eval", "exec"})


class OptimizerNeverStepped(Rule):
    code = "FZ505"
    words = ("optim", "AdamW", "Adafactor", "Prodigy")
    triggers = (OPTIMIZER_CALL, *OPTIMIZER_CLASS)
    requires = (r"backward\s*\(|\.step\s*\(",)
    what = (
        "Finds an optimizer built into a name that nothing ever steps, in a file that trains (another "
        "optimizer is stepped, or backward is called, in the same body): no `.step()` on it or on a "
        "name `accelerator.prepare(...)` returns it under, and it is handed to nothing that could step "
        "it."
    )
    why = (
        "Only `optimizer.step()` changes the parameters an optimizer holds. One that is built, given a "
        "scheduler and prepared but never stepped leaves every parameter it holds at its initial value, "
        "with no error: the losses of the other parts go down, and the part it was meant to train (a GAN's "
        "discriminator, the second model of a pair) stays as it was. A scheduler built over it steps its "
        "lr alone."
    )
    notes = (
        "The optimizer counts as stepped, and the rule is silent, when it (or a name it is rebound to: "
        "`a, O2, b = accelerator.prepare(x, O, y)` by position, `O = accelerator.prepare(O)`, `O2 = O`) "
        "is stepped (`O.step(...)`) or escapes where something may step it: returned or yielded, stored on "
        "an attribute or in a container or dict (`for opt in [opt_g, opt_d]: opt.step()`), passed to any "
        "call but the few that never step it (LR scheduler classes, `get_scheduler` and the "
        "`get_*_schedule*` functions of transformers and diffusers, `accelerator.prepare` and "
        "`register_for_checkpointing`, printing and logging, `torch.save`), used by a nested function or "
        "lambda, or through a method that is not `zero_grad`, `state_dict`, `load_state_dict` or "
        "`add_param_group`. So Lightning's `configure_optimizers` (it returns the optimizer), the HF "
        "Trainer's `optimizers=(O, scheduler)`, `deepspeed.initialize(optimizer=O)` and `scaler.step(O)` "
        "are silent. Silent too when another optimizer of the file is built over the same model (that "
        "one may train its parameters), when what the optimizer holds is not known, and in a file that "
        "uses `globals()`, `locals()`, `vars()`, `eval` or `exec`. The run-time half reports each "
        "parameter of such an optimizer that stayed unchanged over the watched steps."
    )
    bad = [
        Example(
            """
            import torch
            from accelerate import Accelerator
            from diffusers.optimization import get_scheduler

            accelerator = Accelerator()
            optimizer = torch.optim.AdamW(vae.parameters(), lr=4.5e-6)
            disc_optimizer = torch.optim.AdamW(discriminator.parameters(), lr=4.5e-6)  # expect: FZ505
            lr_scheduler = get_scheduler("constant", optimizer=optimizer)
            disc_lr_scheduler = get_scheduler("constant", optimizer=disc_optimizer)
            vae, discriminator, optimizer, disc_optimizer, loader = accelerator.prepare(
                vae, discriminator, optimizer, disc_optimizer, loader
            )
            for step, batch in enumerate(loader):
                reconstructions = vae(batch).sample
                if step % 2 == 0:
                    loss = rec_loss(reconstructions, batch) - discriminator(reconstructions).mean()
                    accelerator.backward(loss)
                    optimizer.step()
                    lr_scheduler.step()
                    optimizer.zero_grad()
                else:
                    disc_loss = hinge_d_loss(discriminator(batch), discriminator(reconstructions.detach()))
                    logs = {"disc_loss": disc_loss.item(), "disc_lr": disc_lr_scheduler.get_last_lr()[0]}
            """,
            instead="""
            import torch
            from accelerate import Accelerator
            from diffusers.optimization import get_scheduler

            accelerator = Accelerator()
            optimizer = torch.optim.AdamW(vae.parameters(), lr=4.5e-6)
            disc_optimizer = torch.optim.AdamW(discriminator.parameters(), lr=4.5e-6)
            lr_scheduler = get_scheduler("constant", optimizer=optimizer)
            disc_lr_scheduler = get_scheduler("constant", optimizer=disc_optimizer)
            vae, discriminator, optimizer, disc_optimizer, loader = accelerator.prepare(
                vae, discriminator, optimizer, disc_optimizer, loader
            )
            for step, batch in enumerate(loader):
                reconstructions = vae(batch).sample
                if step % 2 == 0:
                    loss = rec_loss(reconstructions, batch) - discriminator(reconstructions).mean()
                    accelerator.backward(loss)
                    optimizer.step()
                    lr_scheduler.step()
                    optimizer.zero_grad()
                else:
                    disc_loss = hinge_d_loss(discriminator(batch), discriminator(reconstructions.detach()))
                    accelerator.backward(disc_loss)
                    disc_optimizer.step()
                    disc_lr_scheduler.step()
                    disc_optimizer.zero_grad()
            """,
        ),
        Example(
            """
            import torch.optim as optim

            def train(netG, netD, loader, epochs):
                optimizerD = optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))  # expect: FZ505
                optimizerG = optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
                for epoch in range(epochs):
                    for real in loader:
                        optimizerD.zero_grad()
                        fake = netG(torch.randn(real.size(0), 100, 1, 1))
                        errD = criterion(netD(real), ones) + criterion(netD(fake.detach()), zeros)
                        errD.backward()
                        optimizerG.zero_grad()
                        errG = criterion(netD(fake), ones)
                        errG.backward()
                        optimizerG.step()
                print(optimizerD)
            """,
        ),
    ]
    good = [
        # stepped through a list of both
        """
        import torch
        opt_g = torch.optim.Adam(G.parameters())
        opt_d = torch.optim.Adam(D.parameters())
        for batch in loader:
            loss_g, loss_d = losses(G, D, batch)
            (loss_g + loss_d).backward()
            for opt in [opt_g, opt_d]:
                opt.step()
                opt.zero_grad()
        """,
        # stepped under the name accelerator.prepare returns it as
        """
        import torch
        from accelerate import Accelerator
        accelerator = Accelerator()
        opt = torch.optim.AdamW(model.parameters())
        disc_opt = torch.optim.AdamW(disc.parameters())
        model, disc, opt, d_opt = accelerator.prepare(model, disc, opt, disc_opt)
        for batch in loader:
            accelerator.backward(model(batch).loss)
            opt.step()
            accelerator.backward(disc(batch).mean())
            d_opt.step()
        """,
        # Lightning returns it: Lightning steps it
        """
        import torch
        import lightning as L

        class GAN(L.LightningModule):
            def configure_optimizers(self):
                opt_g = torch.optim.Adam(self.generator.parameters())
                opt_d = torch.optim.Adam(self.discriminator.parameters())
                return opt_g, opt_d

            def training_step(self, batch):
                opt_g, opt_d = self.optimizers()
                self.manual_backward(self.g_loss(batch))
                opt_g.step()
        """,
        # handed to something that may step it: the HF Trainer, DeepSpeed, a GradScaler, a closure
        """
        import torch
        import deepspeed
        from transformers import Trainer
        head_opt = torch.optim.AdamW(head.parameters())
        trainer = Trainer(model=model, optimizers=(head_opt, None))
        ds_opt = torch.optim.AdamW(body.parameters())
        engine, _, _, _ = deepspeed.initialize(model=body, optimizer=ds_opt)
        aux_opt = torch.optim.SGD(aux.parameters(), lr=0.1)
        scaler.scale(loss).backward()
        scaler.step(aux_opt)
        """,
        """
        import torch
        opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
        opt_b = torch.optim.SGD(b.parameters(), lr=0.1)

        def step_b():
            opt_b.step()

        loss.backward()
        opt_a.step()
        step_b()
        """,
        # another optimizer over the same model may train those parameters
        """
        import torch
        unused = torch.optim.Adam(model.parameters())
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        loss.backward()
        optimizer.step()
        """,
        # nothing trains in this body: a checkpoint converter
        """
        import torch
        opt = torch.optim.AdamW(model.parameters())
        opt.load_state_dict(torch.load("ckpt.pt")["optimizer"])
        torch.save(opt.state_dict(), "optimizer.pt")
        """,
    ]

    def check(self, facts: Facts, module: cst.Module) -> Iterable[Finding]:
        if _introspects(facts):
            return
        for scope in [facts.module_scope, *facts.func_scopes.values()]:
            body = scope.node if isinstance(scope.node, cst.FunctionDef) else module if scope.kind == "module" else None
            if body is None:
                continue
            builds = _builds(facts, scope, body)
            if not builds:
                continue
            trains = _Trains(facts, scope, body)
            traverse.visit(body, trains)
            uses = {name: _uses(facts, scope, body, name) for name in builds}
            for name, found in builds.items():
                if uses[name].escapes or uses[name].stepped:
                    continue
                if not (trains.backward or any(u.stepped for n, u in uses.items() if n != name)):
                    continue  # nothing trains in this body
                roots = {s.root for b in found for s in b.sources}
                if not roots or any(not b.sources for b in found):
                    continue  # what it holds is not known
                others = [b for n, bs in builds.items() if n != name for b in bs]
                if any(not o.sources or roots & {s.root for s in o.sources} for o in others) \
                        or _shared_elsewhere(facts, scope, roots, found):
                    continue  # another optimizer may hold those parameters
                yield self.finding(found[0].target, _message(name, found[0]), stmt=found[0].stmt)


@dataclass(eq=False)
class _Build:
    target: cst.Name
    call: cst.Call
    stmt: cst.CSTNode
    classes: list[str]
    sources: list = field(default_factory=list)


def _builds(facts: Facts, scope: Scope, body: cst.CSTNode) -> dict[str, list[_Build]]:
    """Optimizers built into a plain name of this body: `O = torch.optim.AdamW(params, ...)`."""
    out: dict[str, list[_Build]] = {}
    for stmt in _statements(body):
        for small in stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ():
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target, value = small.targets[0].target, small.value
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                target, value = small.target, small.value
            else:
                continue
            if not (isinstance(target, cst.Name) and isinstance(value, cst.Call)):
                continue
            classes = optimizer_classes(value.func, scope)
            params = call_arg(value, 0, "params")
            if not classes or params is None:
                continue
            sources = param_sources(params, scope, facts.module)
            out.setdefault(target.value, []).append(_Build(target, value, stmt, classes, sources))
    return out


def _statements(body: cst.CSTNode) -> Iterable[cst.CSTNode]:
    """The statements of a body, in compound statements too, not in nested defs or classes."""
    stack = list(body.body.body if isinstance(body, cst.FunctionDef) else body.body)  # type: ignore[attr-defined]
    while stack:
        stmt = stack.pop(0)
        yield stmt
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            continue
        inner: list = []
        for child in traverse.children(stmt):
            if isinstance(child, cst.BaseSuite):
                inner += list(child.body) if isinstance(child, cst.IndentedBlock) else [child]
            elif isinstance(child, (cst.Else, cst.If, cst.ExceptHandler, cst.Finally, cst.ExceptStarHandler)):
                inner.append(child)
        stack[:0] = inner


def _message(name: str, build: _Build) -> str:
    params = call_arg(build.call, 0, "params")
    over = src(params) if params is not None else "its parameters"
    paths = list(dict.fromkeys(s.path for s in build.sources))
    of = ", ".join(f"`{p}`" for p in paths)
    what = f"`{over}`" if len(over) <= 60 else f"the parameters of {of}"
    if len(over) <= 60 and over not in paths and not over.startswith(tuple(f"{p}." for p in paths)):
        what += f" (parameters of {of})"
    return (f"`{name}` is built over {what} but never stepped "
            f"(nor handed to anything that steps it): those parameters never train; call `{name}.step()` "
            f"after their backward (or drop `{name}`)")


# ------------------------------------------------------------------------------------ uses


@dataclass
class _Uses:
    stepped: bool = False
    escapes: bool = False


def _uses(facts: Facts, scope: Scope, body: cst.CSTNode, name: str) -> _Uses:
    """How the optimizer a name holds is used in the body: through the name and every name it is
    rebound to (`accelerator.prepare`, a plain `a = b`), until no new name turns up."""
    names = {name}
    while True:
        walker = _Walker(facts, scope, names)
        walker.walk(body)
        if walker.uses.escapes or walker.uses.stepped or walker.aliases <= names:
            return walker.uses
        names |= walker.aliases


class _Walker:
    """Every reference to `names` in a body, judged by what holds it (its parents)."""

    def __init__(self, facts: Facts, scope: Scope, names: set[str]) -> None:
        self.facts, self.scope, self.names = facts, scope, names
        self.uses = _Uses()
        self.aliases: set[str] = set()
        self.shadowed: list[frozenset[str]] = []  # names a nested def or lambda binds itself

    def walk(self, body: cst.CSTNode) -> None:
        self._visit(body, [], top=True)

    def _visit(self, node: cst.CSTNode, parents: list[cst.CSTNode], top: bool = False) -> None:
        pushed = False
        if not top and isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            self.shadowed.append(self._binds(node))
            pushed = True
        if isinstance(node, cst.Name) and node.value in self.names and parents:
            self._judge(node, parents)
        parents.append(node)
        for child in traverse.children(node):
            self._visit(child, parents)
        parents.pop()
        if pushed:
            self.shadowed.pop()

    def _binds(self, node: cst.CSTNode) -> frozenset[str]:
        if isinstance(node, cst.FunctionDef):
            s = self.facts.func_scopes.get(id(node))
            return frozenset(s.bindings) - _declared(node) if s is not None else frozenset()
        if isinstance(node, cst.Lambda):
            p = node.params
            return frozenset(x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params))
        return frozenset()  # a class body: its names are no locals of its methods

    def _judge(self, node: cst.Name, parents: list[cst.CSTNode]) -> None:
        parent = parents[-1]
        if _not_a_reference(node, parent):
            return
        if self.shadowed:
            if any(node.value in frame for frame in self.shadowed):
                return  # a local of a nested function of the same name
            self.uses.escapes = True  # a nested function or lambda uses it: it may step it
            return
        if _bound_here(node, parents):
            return
        gp = parents[-2] if len(parents) > 1 else None
        if isinstance(parent, cst.Attribute):
            attr = parent.attr.value
            if isinstance(gp, cst.Call) and gp.func is parent:
                if attr == "step":
                    self.uses.stepped = True
                elif attr not in _FINE_METHODS:
                    self.uses.escapes = True
            elif attr not in _FINE_ATTRS:
                self.uses.escapes = True
            return
        if isinstance(parent, cst.Arg) and isinstance(gp, cst.Call) and not parent.star:
            self._handed(gp, parent, parents[:-2])
            return
        if isinstance(parent, cst.Assign) and parent.value is node:
            if len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
                self.aliases.add(parent.targets[0].target.value)  # `O2 = O`
            else:
                self.uses.escapes = True
            return
        if isinstance(parent, cst.FormattedStringExpression):
            return  # shown in an f-string
        self.uses.escapes = True  # returned, yielded, in a container, compared, called, ...

    def _handed(self, call: cst.Call, arg: cst.Arg, outer: list[cst.CSTNode]) -> None:
        """The optimizer is an argument of `call`."""
        q = self.facts.qualname(call.func, self.scope) or ""
        func = call.func
        if isinstance(func, cst.Attribute) and self._accelerator(func.value):
            if func.attr.value == "register_for_checkpointing":
                return
            if func.attr.value in _PREPARE and arg.keyword is None:
                self._prepared(call, arg, outer)
                return
        if _scheduler(q) or q in _PRINTS:
            return
        if isinstance(func, cst.Attribute) and func.attr.value in _LOG_METHODS \
                and (dotted(func.value) or "").rpartition(".")[2] in _LOGGING:
            return
        self.uses.escapes = True

    def _prepared(self, call: cst.Call, arg: cst.Arg, outer: list[cst.CSTNode]) -> None:
        """`a, O2, b = accelerator.prepare(x, O, y)`: O2 is the name the optimizer is stepped
        under; a discarded result leaves it where it was."""
        holder = outer[-1] if outer else None
        if isinstance(holder, cst.Expr):
            return
        positional = [a for a in call.args if a.keyword is None]
        if not isinstance(holder, cst.Assign) or holder.value is not call or len(holder.targets) != 1 \
                or any(a.star for a in positional):
            self.uses.escapes = True
            return
        at = positional.index(arg)
        target = holder.targets[0].target
        if isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            if len(elements) != len(positional) or any(isinstance(e, cst.StarredElement) for e in elements):
                self.uses.escapes = True
                return
            target = elements[at].value
        elif len(positional) != 1:
            self.uses.escapes = True
            return
        if isinstance(target, cst.Name):
            self.aliases.add(target.value)
        else:
            self.uses.escapes = True  # stored on an attribute or in a container

    def _accelerator(self, recv: cst.BaseExpression) -> bool:
        """`recv` is an accelerate Accelerator: bound to `Accelerator(...)` here, or so named."""
        if isinstance(recv, cst.Name):
            owner = self.scope.lookup(recv.value)
            for b in owner.bindings.get(recv.value, []) if owner is not None else ():
                if b.how == "expr" and isinstance(b.node, cst.Call) \
                        and self.facts.qualname(b.node.func, b.scope or owner) in _ACCELERATOR:
                    return True
        return (dotted(recv) or "").rpartition(".")[2].lower().endswith("accelerator")


def _declared(func: cst.FunctionDef) -> frozenset[str]:
    """The names `global` or `nonlocal` declares in a function (its nested ones included)."""
    return frozenset(n.name.value for node in traverse.walk(func.body) if isinstance(node, (cst.Global, cst.Nonlocal))
                     for n in node.names)


def _not_a_reference(node: cst.Name, parent: cst.CSTNode) -> bool:
    """The attribute of `x.O`, the keyword of `f(O=...)`, a parameter, an import, a def's name."""
    return isinstance(parent, cst.Attribute) and parent.attr is node \
        or isinstance(parent, cst.Arg) and parent.keyword is node \
        or isinstance(parent, (cst.Param, cst.ImportAlias)) \
        or isinstance(parent, (cst.FunctionDef, cst.ClassDef)) and parent.name is node


def _bound_here(node: cst.Name, parents: list[cst.CSTNode]) -> bool:
    """`node` is (part of) an assignment target: a binding of the name, not a use of its value."""
    child: cst.CSTNode = node
    for parent in reversed(parents):
        if isinstance(parent, (cst.Tuple, cst.List, cst.StarredElement, cst.Element)):
            child = parent
            continue
        if isinstance(parent, cst.AssignTarget):
            return parent.target is child
        if isinstance(parent, (cst.AnnAssign, cst.AugAssign, cst.For, cst.CompFor, cst.NamedExpr)):
            return parent.target is child
        if isinstance(parent, cst.AsName):
            return parent.name is child
        if isinstance(parent, cst.Del):
            return True
        return False
    return False


def _scheduler(q: str) -> bool:
    """An LR scheduler's class or builder: it reads and sets the groups' lrs, never steps."""
    if q.startswith(_SCHEDULER_PACKAGES):
        return True
    last = q.rpartition(".")[2]
    return q.startswith(_SCHEDULE_MODULES) and last.startswith("get_") and "schedule" in last


class _Trains(cst.CSTVisitor):
    """A backward in the body itself (not in a nested function, lambda or class)."""

    def __init__(self, facts: Facts, scope: Scope, root: cst.CSTNode) -> None:
        super().__init__()
        self.facts, self.scope, self.root = facts, scope, root
        self.backward = False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.root

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "backward" \
                or self.facts.qualname(func, self.scope) == "torch.autograd.backward":
            self.backward = True


def _shared_elsewhere(facts: Facts, scope: Scope, roots: set[str], found: list[_Build]) -> bool:
    """Another optimizer built in the file, outside this body, over the same models (or over what is
    not known)."""
    mine = {id(b.call) for b in found}
    for mc in (*facts.name_calls, *facts.method_calls):
        call = mc.call
        if id(call) in mine or mc.ctx.scope is scope or not call.args:
            continue
        if optimizer_classes(call.func, mc.ctx.scope):
            params = call_arg(call, 0, "params")
            sources = param_sources(params, mc.ctx.scope, facts.module) if params is not None else []
            if not sources or roots & {s.root for s in sources}:
                return True
    return False


def _introspects(facts: Facts) -> bool:
    """The file reaches locals by their names: `globals()`, `locals()`, `vars()` (not `vars(obj)`),
    `eval`, `exec`."""
    return any(isinstance(mc.call.func, cst.Name) and mc.call.func.value in _INTROSPECTION
               and facts.qualname(mc.call.func, mc.ctx.scope) == mc.call.func.value
               and not (mc.call.func.value == "vars" and mc.call.args) for mc in facts.name_calls)
