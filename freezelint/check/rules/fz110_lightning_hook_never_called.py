"""FZ110 lightning-hook-never-called: freezing code in `on_epoch_start` (and kin) Lightning 2 never calls."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

import libcst as cst

from freezelint.check.events import library_bases
from freezelint.check.facts import Facts
from freezelint.check.lightning_version import version_signal
from freezelint.check.rules.base import Example, Finding, Fix, Rule, src
from freezelint.check.rules.fz107_freeze_method_not_called import FREEZE_NAME, SETTINGS_ROOTS
from freezelint.check.syntax import call_arg, string_value, walk
from freezelint.lightning_hooks import DEAD_HOOKS, REPLACEMENT_ARGS, SILENT_SINCE

_HOOK_DEF = r"def[ \t]+(?:" + "|".join(sorted(DEAD_HOOKS)) + r")[ \t]*\("
# Modules of Lightning 1.x that 2.0 no longer has (1.7 deprecated them): a class from one runs on 1.x
_GONE_IN_2 = (".callbacks.base.", ".core.lightning.")
_UNFREEZING = frozenset({"unfreeze", "make_trainable", "unfreeze_and_add_param_group"})
# BaseFinetuning defines these itself (lightning 2.6, callbacks/finetuning.py): a subclass's method
# of that name would replace Lightning's, so no rename to them is offered on one
_BASE_FINETUNING_OWN = frozenset({"on_train_epoch_start", "on_fit_start", "setup"})


def _lightning_kind(qual: str) -> str | None:
    """"module" for Lightning's LightningModule, "callback" for its Callback and the callbacks
    Lightning ships (BaseFinetuning, ModelCheckpoint, ...), else None."""
    if qual.split(".", 1)[0] not in ("lightning", "pytorch_lightning"):
        return None
    last = qual.rsplit(".", 1)[-1]
    if last == "LightningModule":
        return "module"
    if last in ("Callback", "BaseFinetuning") or ".callbacks." in qual:
        return "callback"
    return None


def _effect(node: cst.CSTNode) -> tuple[str, str] | None:
    """(what the statement does, what stays as it was) when the node changes what trains."""
    if isinstance(node, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        if any(isinstance(t, cst.Attribute) and t.attr.value == "requires_grad" for t in targets):
            return _flag(node.value)
        return None
    if not isinstance(node, cst.Call):
        return None
    func = node.func
    name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
    if name == "setattr" and string_value(call_arg(node, 1) or cst.Name("x")) == "requires_grad":
        return _flag(call_arg(node, 2))
    if not isinstance(func, cst.Attribute) and name not in ("freeze", "unfreeze") and not FREEZE_NAME.search(name):
        return None  # a bare call: only a freeze helper's name says what it does
    if isinstance(func, cst.Attribute) and name not in ("add_param_group", "requires_grad_") and _on_settings(func.value):
        return None  # `self.cfg.freeze()`: a config made read-only (detectron2's CfgNode), not a module
    if name == "requires_grad_":
        value = call_arg(node, 0, "requires_grad")
        return _flag(value if value is not None else cst.Name("True"))
    if name in _UNFREEZING or name.lstrip("_").startswith("unfreeze") or _unfreeze_flag(node):
        return "unfreezes", "what it unfreezes stays frozen"
    if FREEZE_NAME.search(name) or name == "freeze_before_training":
        return "freezes", "what it freezes keeps training"
    if name == "eval" and not node.args or name == "train" and _mode_args(node):
        return "changes a module's mode", "no module changes mode"
    if name == "add_param_group":
        return "adds a param group", "the optimizer never gets those parameters"
    return None


def _on_settings(obj: cst.BaseExpression) -> bool:
    """Some part of the receiver names settings: `cfg`, `self.config`, `self.hparams.model`."""
    while isinstance(obj, (cst.Attribute, cst.Subscript)):
        if isinstance(obj, cst.Attribute) and obj.attr.value in SETTINGS_ROOTS:
            return True
        obj = obj.value
    return isinstance(obj, cst.Name) and obj.value in SETTINGS_ROOTS


def _unfreeze_flag(call: cst.Call) -> bool:
    """`freeze_block(blocks, freeze=False)`: a freeze helper told to unfreeze."""
    for arg in call.args:
        word = arg.keyword.value if arg.keyword is not None else ""
        if word in ("freeze", "frozen") and isinstance(arg.value, cst.Name) and arg.value.value == "False":
            return True
    return False


def _mode_args(call: cst.Call) -> bool:
    """`m.train()`, `m.train(False)`, `m.train(mode=flag)`: nn.Module's signature, not another
    library's `train(data)`."""
    if not call.args:
        return True
    if len(call.args) != 1:
        return False
    arg = call.args[0]
    return arg.keyword is not None and arg.keyword.value == "mode" or \
        isinstance(arg.value, cst.Name) and arg.value.value in ("True", "False")


def _flag(value: cst.BaseExpression | None) -> tuple[str, str]:
    if isinstance(value, cst.Name) and value.value == "True":
        return "unfreezes", "what it unfreezes stays frozen"
    if isinstance(value, cst.Name) and value.value == "False":
        return "freezes", "what it freezes keeps training"
    return "sets requires_grad", "requires_grad never changes there"


def _first_effect(fn: cst.FunctionDef) -> tuple[cst.CSTNode, str, str] | None:
    for node in walk(fn.body):
        found = _effect(node)
        if found is not None:
            return node, *found
    return None


def _referenced(module: cst.Module, hook: str) -> bool:
    """The file reaches the hook other than by Lightning: `self.on_epoch_start()` from another
    hook, `pl_module.on_epoch_start`, `getattr(obj, "on_epoch_start")`; not `super().on_epoch_start(...)`
    inside an override of the hook itself (that one runs only when the override does)."""
    own: list[cst.FunctionDef] = []
    for node in walk(module):
        if isinstance(node, cst.FunctionDef) and node.name.value == hook:
            own.append(node)
    inside = {id(n) for fn in own for n in walk(fn.body)}
    for node in walk(module):
        if isinstance(node, cst.Attribute) and node.attr.value == hook:
            if id(node) in inside and isinstance(node.value, cst.Call) and \
                    isinstance(node.value.func, cst.Name) and node.value.func.value == "super":
                continue
            return True
        if isinstance(node, cst.SimpleString) and string_value(node) == hook:
            return True
    return False


def _accepts(fn: cst.FunctionDef, count: int) -> bool:
    """The method takes `count` positional arguments after self, as Lightning passes them."""
    params = [*fn.params.posonly_params, *fn.params.params][1:]
    required = sum(1 for p in params if p.default is None)
    star = isinstance(fn.params.star_arg, cst.Param)
    return required <= count and (len(params) >= count or star) and \
        all(p.default is not None for p in fn.params.kwonly_params)


class LightningHookNeverCalled(Rule):
    code = "FZ110"
    words = ("on_epoch_", "on_batch_", "on_pretrain_routine_", "on_configure_sharded_model",
             "on_before_accelerator_backend_setup")
    triggers = (_HOOK_DEF,)
    requires = (r"requires_grad|freeze|make_trainable|\.train\(|\.eval\(|add_param_group",)
    what = ("Finds a LightningModule or Callback method named as a hook Lightning 2 no longer calls "
            "(`on_epoch_start`, `on_epoch_end`, `on_batch_start`, `on_batch_end`, `on_pretrain_routine_start`, "
            "`on_pretrain_routine_end`, and the Callback hooks `on_configure_sharded_model` and "
            "`on_before_accelerator_backend_setup`) whose body changes what trains: sets requires_grad, "
            "freezes or unfreezes (BaseFinetuning's `freeze`, `make_trainable`, `unfreeze_and_add_param_group`), "
            "calls `.train()`/`.eval()` or `add_param_group`.")
    why = (
        "Lightning 1.8 removed these hooks and refused a class that defined one; 2.0 dropped that check, "
        "so the method is accepted and never called. Nothing fails: a backbone meant to unfreeze at "
        "epoch 5 stays frozen for the whole run, layers meant to be frozen keep training, and the results "
        "look like those of a model that simply learned less."
    )
    fix_title = "Rename the method to the hook Lightning 2 calls at that point (`on_epoch_start` -> `on_train_epoch_start`)"
    notes = (
        "Reported only where the project runs Lightning 2: `lightning-version` in `[tool.freezelint]`; "
        "else the requirement the project declares (pyproject.toml, requirements*.txt, setup.py, setup.cfg, "
        "environment.yml, from the file's directory up to the project root: `lightning>=2.1` and "
        "`pytorch-lightning==2.1.0` say 2, `<2` or a 1.x pin says 1); else the installed distribution's "
        "version; else, for a class from the `lightning` package, that package (1.8 and 1.9 refuse the "
        "hook with an error, later releases skip it). Lightning 1.7 and earlier called these hooks: a "
        "project on 1.x is never told. Silent when the file calls the method itself "
        "(`self.on_epoch_start()` from `on_train_epoch_start`) or names it (`getattr(m, \"on_epoch_start\")`), "
        "and for a hook that only logs. The rename is not offered where the class (or a base class, "
        "BaseFinetuning's `on_train_epoch_start` included) already defines the new name, where the "
        "method's parameters do not take the new hook's arguments (`on_batch_start(self, trainer, "
        "pl_module)` lacks `batch, batch_idx`), or for `setup`. It is unsafe: the code starts to run "
        "(as meant), and `on_epoch_start` also ran before validation and test epochs in 1.x."
    )
    bad = [
        Example(
            """
            import lightning.pytorch as pl

            class Unfreeze(pl.Callback):
                def on_epoch_start(self, trainer, pl_module):  # expect: FZ110
                    if trainer.current_epoch == 5:
                        pl_module.backbone.requires_grad_(True)
            """,
            fixed="""
            import lightning.pytorch as pl

            class Unfreeze(pl.Callback):
                def on_train_epoch_start(self, trainer, pl_module):  # expect: FZ110
                    if trainer.current_epoch == 5:
                        pl_module.backbone.requires_grad_(True)
            """,
        ),
        Example(
            """
            import lightning as L

            class Classifier(L.LightningModule):
                def __init__(self, backbone, head):
                    super().__init__()
                    self.backbone, self.head = backbone, head
                    self.backbone.requires_grad_(False)

                def on_epoch_start(self):  # expect: FZ110
                    if self.current_epoch >= 3:
                        for p in self.backbone.parameters():
                            p.requires_grad = True
            """,
            fixed="""
            import lightning as L

            class Classifier(L.LightningModule):
                def __init__(self, backbone, head):
                    super().__init__()
                    self.backbone, self.head = backbone, head
                    self.backbone.requires_grad_(False)

                def on_train_epoch_start(self):  # expect: FZ110
                    if self.current_epoch >= 3:
                        for p in self.backbone.parameters():
                            p.requires_grad = True
            """,
        ),
        Example(
            """
            from lightning.pytorch.callbacks import BaseFinetuning

            class UnfreezeBackbone(BaseFinetuning):
                def __init__(self, at_epoch=10):
                    super().__init__()
                    self.at_epoch = at_epoch

                def freeze_before_training(self, pl_module):
                    self.freeze(pl_module.backbone)

                def finetune_function(self, pl_module, epoch, optimizer):
                    pass

                def on_epoch_end(self, trainer, pl_module):  # expect: FZ110
                    if trainer.current_epoch + 1 == self.at_epoch:
                        self.unfreeze_and_add_param_group(pl_module.backbone, trainer.optimizers[0])
            """,
            fixed="""
            from lightning.pytorch.callbacks import BaseFinetuning

            class UnfreezeBackbone(BaseFinetuning):
                def __init__(self, at_epoch=10):
                    super().__init__()
                    self.at_epoch = at_epoch

                def freeze_before_training(self, pl_module):
                    self.freeze(pl_module.backbone)

                def finetune_function(self, pl_module, epoch, optimizer):
                    pass

                def on_train_epoch_end(self, trainer, pl_module):  # expect: FZ110
                    if trainer.current_epoch + 1 == self.at_epoch:
                        self.unfreeze_and_add_param_group(pl_module.backbone, trainer.optimizers[0])
            """,
        ),
        Example(
            """
            from lightning.pytorch import LightningModule

            class Base(LightningModule):
                pass

            class Detector(Base):
                def on_pretrain_routine_start(self):  # expect: FZ110
                    self.backbone.eval()
                    self.freeze_stem()

                def freeze_stem(self):
                    for p in self.backbone.stem.parameters():
                        p.requires_grad = False
            """,
            fixed="""
            from lightning.pytorch import LightningModule

            class Base(LightningModule):
                pass

            class Detector(Base):
                def on_fit_start(self):  # expect: FZ110
                    self.backbone.eval()
                    self.freeze_stem()

                def freeze_stem(self):
                    for p in self.backbone.stem.parameters():
                        p.requires_grad = False
            """,
        ),
    ]
    good = [
        """
        import lightning.pytorch as pl

        class Unfreeze(pl.Callback):
            def on_train_epoch_start(self, trainer, pl_module):  # the hook Lightning 2 calls
                if trainer.current_epoch == 5:
                    pl_module.backbone.requires_grad_(True)
        """,
        """
        class Schedule:  # not Lightning's: its own loop calls on_epoch_start
            def on_epoch_start(self, model, epoch):
                if epoch == 5:
                    model.backbone.requires_grad_(True)
        """,
        """
        import lightning.pytorch as pl

        class Printer(pl.Callback):
            def on_epoch_start(self, trainer, pl_module):  # only logs: nothing about training is lost
                print("epoch", trainer.current_epoch, "trainable:",
                      sum(p.requires_grad for p in pl_module.parameters()))
        """,
        """
        import lightning as L

        class Classifier(L.LightningModule):
            def on_epoch_start(self):
                if self.current_epoch >= 3:
                    self.backbone.requires_grad_(True)

            def on_train_epoch_start(self):
                self.on_epoch_start()  # called by the class itself: it runs
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        # every class statement, not `facts.classes` (one per name): test files redefine names
        for node in walk(module):
            if not isinstance(node, cst.ClassDef):
                continue  # `node`: the class statement throughout
            hooks = [m for m in node.body.body if isinstance(m, cst.FunctionDef) and m.name.value in DEAD_HOOKS]
            if not hooks:
                continue
            quals = sorted(library_bases(facts, node)[0] | self._plain_import_bases(facts, node))
            kinds = {q: _lightning_kind(q) for q in quals}
            lightning = [q for q in quals if kinds[q]]
            if not lightning:
                continue
            if any(part in q for q in lightning for part in _GONE_IN_2):
                continue  # imported from a module Lightning 2 lacks: the file runs on 1.x only
            kind = "module" if any(kinds[q] == "module" for q in lightning) else "callback"
            package = lightning[0].split(".", 1)[0]
            for fn in hooks:
                hook = fn.name.value
                effect = _first_effect(fn)
                if effect is None or _referenced(facts.module, hook) or self._base_calls(facts, node, hook):
                    continue
                signal = self._signal(facts, package)
                if signal is None or signal[0] < SILENT_SINCE:
                    continue
                where, does, lost = effect
                new = DEAD_HOOKS[hook]
                shown = src(where)
                shown = shown if len(shown) <= 60 else shown[:57] + "..."
                message = (f"`{node.name.value}.{hook}` {does} (`{shown}`), but Lightning 2 never calls `{hook}`: the "
                           f"code does not run and {lost}; rename the method `{new}` ({signal[1]})")
                fix = None
                if self._renamable(facts, node, fn, new, kind, lightning):
                    fix = Fix(f"Rename `{hook}` to `{new}`", [(fn.name, fn.name.with_changes(value=new))], safe=False)
                yield self.finding(fn.name, message, fix=fix, stmt=fn)

    @staticmethod
    def _signal(facts: Facts, package: str):
        project = facts.project
        if project is None or not facts.path:
            return version_signal(None, package)
        here = Path(facts.path).resolve().parent
        # a dependency of the finding: re-checked when the declared or installed version changes
        # (a path that is no file, so that no file's metadata stands in for it)
        key = f"{here}{os.sep}<lightning>#lightning {package}"
        project.used[key] = project.current_digest(key)
        return version_signal(here, package, project.root)

    @staticmethod
    def _plain_import_bases(facts: Facts, node: cst.ClassDef) -> set[str]:
        """Lightning bases of a project base class of another file that reaches them through a
        plain import (`import lightning.pytorch as pl` ... `class Base(pl.LightningModule)`): the
        project index reads `from` imports only. One file deep."""
        project, found = facts.project, set()
        if project is None or not facts.path:
            return found
        for b in (b.value for b in node.bases if b.keyword is None):
            q = facts.qualname(b, facts.module_scope)
            hit = project.resolve(facts.path, q) if q and q.split(".", 1)[0] not in ("lightning", "pytorch_lightning") \
                else None
            outline = project.outline(hit[0]) if hit is not None else None
            m = re.search(rf"^class[ \t]+{re.escape(hit[1])}[ \t]*\(([^)]*)\)", outline["text"], re.M) if outline else None
            for base in (x.strip() for x in m.group(1).split(",")) if m else ():
                head, _, rest = base.partition(".")
                alias = re.search(rf"^[ \t]*import[ \t]+((?:pytorch_)?lightning[\w.]*)[ \t]+as[ \t]+{re.escape(head)}"
                                  r"[ \t]*(?:#.*)?$", outline["text"], re.M)  # a comment may end the line
                full = f"{alias.group(1)}.{rest}" if alias and rest else \
                    base if head in ("lightning", "pytorch_lightning") and re.search(
                        rf"^[ \t]*import[ \t]+{head}\b", outline["text"], re.M) else None
                if full and _lightning_kind(full):
                    found.add(full)
        return found

    @staticmethod
    def _base_calls(facts: Facts, node: cst.ClassDef, hook: str) -> bool:
        """A base class of another project file reaches the hook itself (`self.on_epoch_start()`)."""
        project = facts.project
        if project is None or not facts.path:
            return False
        for b in (b.value for b in node.bases if b.keyword is None):
            q = facts.qualname(b, facts.module_scope)
            hit = project.resolve(facts.path, q) if q and q.split(".", 1)[0] not in ("lightning", "pytorch_lightning") \
                else None
            outline = project.outline(hit[0]) if hit is not None else None
            if outline is not None and re.search(rf"[.\"']{hook}\b", outline["text"]):
                return True
        return False

    @staticmethod
    def _renamable(facts: Facts, node: cst.ClassDef, fn: cst.FunctionDef, new: str, kind: str,
                   lightning: list[str]) -> bool:
        """The new name is free on the class and its bases, and the method takes what Lightning
        passes to the new hook."""
        if new not in REPLACEMENT_ARGS or not _accepts(fn, REPLACEMENT_ARGS[new][kind == "callback"]):
            return False
        for q in lightning:  # Callback's and LightningModule's hooks do nothing: others may do something
            last = q.rsplit(".", 1)[-1]
            if last not in ("Callback", "LightningModule") and (last != "BaseFinetuning" or new in _BASE_FINETUNING_OWN):
                return False
        seen, todo = set(), [node]
        while todo:
            cls = todo.pop()
            if id(cls) in seen:
                continue
            seen.add(id(cls))
            if any(isinstance(m, cst.FunctionDef) and m.name.value == new for m in cls.body.body):
                return False
            for b in (b.value for b in cls.bases if b.keyword is None):
                local = facts.classes.get(b.value) if isinstance(b, cst.Name) else None
                if local is not None:
                    todo.append(local.node)
                    continue
                q = facts.qualname(b, facts.module_scope) or ""
                if q.split(".", 1)[0] in ("lightning", "pytorch_lightning"):
                    continue
                project = facts.project
                hit = project.resolve(facts.path, q) if project is not None and facts.path and q else None
                outline = project.outline(hit[0]) if hit is not None else None
                if outline is None or re.search(rf"def[ \t]+{new}\b", outline["text"]):
                    return False  # a base of unknown or defining the name: leave it to the author
        return True
