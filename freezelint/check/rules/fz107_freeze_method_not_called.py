"""FZ107 freeze-method-not-called: `model.eval` or `model.freeze_encoder` without `()`."""

from __future__ import annotations

import re
from typing import Iterable

import libcst as cst

from freezelint.check.declared import kind_known
from freezelint.check.facts import MODULE, Facts
from freezelint.check.rules.base import Example, Finding, Fix, Rule, is_property, src

# A freeze helper's name: `freeze`, `freeze_bn`, `_freeze_stages`, `freeze_feature_encoder`,
# `unfreeze_backbone`, `bn_freeze` (not `frozen`, `freezer`, `antifreeze`).
FREEZE_NAME = re.compile(r"(?:^|_)(?:un)?freeze(?:_|$)")
_MODE = ("eval", "train")
_REFERENCE = r"[ \t]*(?:#[^\n]*)?$"  # nothing after the name but a comment


def _meant(name: str) -> bool:
    return name in _MODE or name == "requires_grad_" or bool(FREEZE_NAME.search(name))


def _what_is_lost(name: str, module: bool) -> str:
    """What the call would have done; torch's consequences only for an object known to be a Module."""
    if name == "eval":
        return "nothing is put in eval mode" + (": BatchNorm statistics keep moving and Dropout stays on" if module
                                                 else "")
    if name == "train":
        return "the mode does not change"
    if name == "requires_grad_":
        return "no requires_grad flag changes"
    return "nothing is frozen" if not name.lstrip("_").startswith("un") else "nothing is unfrozen"


class FreezeMethodNotCalled(Rule):
    code = "FZ107"
    words = ("eval", "train", "freeze", "requires_grad_")
    # a line ending in one of the names (a cheap over-approximation: the rule decides the rest);
    # anchoring at the line's start made re try every position of every file with "eval" in it (4x slower)
    triggers = (r"(?m:(?:\.(?:eval|train|requires_grad_)|freeze\w*)\)?" + _REFERENCE + ")",)
    what = ("Finds a freezing method named as a statement without being called: `model.eval`, "
            "`model.train`, `x.requires_grad_`, `model.freeze_feature_encoder`, `freeze_bn`.")
    why = (
        "Without `()` the statement only looks the method up and throws it away: no module changes "
        "mode and no parameter is frozen, and Python raises nothing. Everything runs as if the line "
        "were absent: a model meant to be in eval mode keeps its BatchNorm statistics moving and its "
        "Dropout on, and parameters meant to be frozen keep training."
    )
    fix_title = "Call it: add `()`"
    fix_unsafe_when = (
        "always: the call runs code the line never ran (it changes what the script does, as intended); "
        "`x.requires_grad_` gets no fix, since `x.requires_grad_()` would turn requires_grad on"
    )
    notes = (
        "Not reported where the name is data rather than a method: an attribute of that name assigned "
        "anywhere in the file (`self.freeze_bn = cfg.freeze_bn`), a `@property` of that name, an object "
        "known to be something other than a Module (`args.train`, a config), or a bare name that is not "
        "a function defined in the file."
    )
    bad = [
        Example(
            """
            import torchvision

            model = torchvision.models.resnet50(weights=None)
            model.requires_grad_(False)
            model.eval  # expect: FZ107
            """,
            fixed="""
            import torchvision

            model = torchvision.models.resnet50(weights=None)
            model.requires_grad_(False)
            model.eval()  # expect: FZ107
            """,
        ),
        Example(
            """
            from transformers import Wav2Vec2ForCTC

            model = Wav2Vec2ForCTC.from_pretrained(checkpoint)
            model.freeze_feature_encoder  # expect: FZ107
            """,
            fixed="""
            from transformers import Wav2Vec2ForCTC

            model = Wav2Vec2ForCTC.from_pretrained(checkpoint)
            model.freeze_feature_encoder()  # expect: FZ107
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class Detector(nn.Module):
                def _freeze_stages(self):
                    for p in self.stem.parameters():
                        p.requires_grad = False

                def train(self, mode=True):
                    super().train(mode)
                    self._freeze_stages  # expect: FZ107
                    return self
            """,
            fixed="""
            import torch.nn as nn

            class Detector(nn.Module):
                def _freeze_stages(self):
                    for p in self.stem.parameters():
                        p.requires_grad = False

                def train(self, mode=True):
                    super().train(mode)
                    self._freeze_stages()  # expect: FZ107
                    return self
            """,
        ),
        Example(
            """
            import torchvision

            model = torchvision.models.resnet50(weights=None)

            def freeze_bn():
                for m in model.modules():
                    if "BatchNorm" in type(m).__name__:
                        m.eval()

            for epoch in range(10):
                model.train()
                freeze_bn  # expect: FZ107
            """,
            fixed="""
            import torchvision

            model = torchvision.models.resnet50(weights=None)

            def freeze_bn():
                for m in model.modules():
                    if "BatchNorm" in type(m).__name__:
                        m.eval()

            for epoch in range(10):
                model.train()
                freeze_bn()  # expect: FZ107
            """,
        ),
    ]
    good = [
        """
        model.eval()
        model.freeze_feature_encoder()
        freeze = model.freeze_feature_encoder  # bound for later
        hooks = [model.eval, model.train]
        callback(model.eval)
        """,
        """
        import argparse

        args = argparse.ArgumentParser().parse_args()
        args.train  # a flag, not a method (shown in a notebook cell)
        cfg.freeze_bn
        """,
        """
        class Runner:
            def __init__(self, cfg):
                self.freeze_bn = cfg.freeze_bn  # data, not a method

            def run(self):
                self.freeze_bn

        class Config:
            @property
            def freeze(self):
                return True

        Config().freeze
        """,
        """
        from gensim.models import Word2Vec

        model = Word2Vec(sentences)
        model.train  # another library's object: its train() is not torch's (and needs its corpus)
        model = Word2Vec.load("word2vec.model")
        model.train([["hello", "world"]], total_examples=1, epochs=1)  # called like torch's: still gensim's
        """,
        """
        freeze_layers  # a name of unknown kind, not a function defined here
        import torch
        t = torch.nn.Parameter(torch.zeros(3))
        t.train  # a Parameter, not a Module: no such method to call
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        data: set[str] | None = None
        for es in facts.expr_statements:
            ref = es.stmt.value
            if isinstance(ref, cst.Attribute):
                name = ref.attr.value
            elif isinstance(ref, cst.Name):
                name = ref.value
            else:
                continue
            if not _meant(name):
                continue
            if data is None:
                data = _data_names(facts)
            if name in data:
                continue
            if isinstance(ref, cst.Name):
                target = None if name in _MODE or name == "requires_grad_" else facts.resolve_def(ref, es.ctx.scope)
                if target is None:
                    continue  # a bare name: only a function defined in this file is known to be one
                fixable = not _required_params(target)
                module = False
            else:
                kind = facts.kind(ref.value, es.ctx)
                guessed = not kind_known(kind) or (kind.tag == MODULE and not (kind.cls or kind.qual or kind.factory))
                if name != "requires_grad_" and (kind_known(kind) and kind.tag != MODULE
                                                  or not kind_known(kind) and _settings(ref.value)
                                                  or guessed and _foreign(facts, ref.value, es.ctx)):
                    continue  # a Parameter, tensor, settings or other library's object: not torch's method
                fixable = True
                module = kind_known(kind) and kind.tag == MODULE
            shown = src(ref.with_changes(lpar=[], rpar=[]))
            message = f"`{shown}` names the method without calling it: {_what_is_lost(name, module)}."
            if name == "requires_grad_":
                yield self.finding(ref, message + f" Call `{shown}(False)` to freeze.", es.ctx)
                continue
            if not fixable:  # the function needs arguments: which ones is the author's to say
                yield self.finding(ref, message + f" Call it with its arguments: `{shown}(...)`.", es.ctx)
                continue
            call = cst.Call(ref.with_changes(lpar=[], rpar=[]))
            yield self.finding(ref, message + f" Call it: `{shown}()`.", es.ctx,
                               Fix("Call it: add `()`", [(ref, call)], safe=False))


# Roots that name parsed options or settings (`args.train`, `cfg.freeze_bn`): flags, not modules,
# when nothing says what they hold
SETTINGS_ROOTS = frozenset({"args", "arg", "opt", "opts", "options", "cfg", "config", "conf", "hparams", "hp", "flags",
                       "FLAGS", "settings", "params", "hyp"})


def _settings(obj: cst.BaseExpression) -> bool:
    while isinstance(obj, cst.Attribute):
        obj = obj.value
    return isinstance(obj, cst.Name) and obj.value in SETTINGS_ROOTS


# Packages whose objects have torch's train()/eval() and freeze methods (or build models that do)
_TORCH_WORLD = frozenset({"torch", "torchvision", "torchaudio", "timm", "transformers", "lightning",
                          "pytorch_lightning", "peft", "accelerate", "diffusers", "mmdet", "mmcv", "mmseg",
                          "mmengine", "detectron2", "ultralytics", "open_clip", "sentence_transformers",
                          "segmentation_models_pytorch", "torchmetrics", "fairseq", "speechbrain"})


def _foreign(facts: Facts, obj: cst.BaseExpression, ctx) -> bool:
    """The object's root is built by a library outside PyTorch's world (gensim's `Word2Vec(...)`:
    its `train` is a different method, and `train()` without its corpus raises): every binding of
    the name a call of an imported name that is neither torch's world's nor the project's."""
    while isinstance(obj, cst.Attribute):
        obj = obj.value
    if not isinstance(obj, cst.Name):
        return False
    owner = ctx.scope.lookup(obj.value)
    bound = owner.bindings.get(obj.value, []) if owner is not None else []
    if not bound:
        return False
    for b in bound:
        q = facts.qualname(b.node.func, b.scope or owner) if b.how == "expr" and isinstance(b.node, cst.Call) else None
        if not q or "." not in q or q.startswith(".") or q.split(".", 1)[0] in _TORCH_WORLD:
            return False
        project = facts.project
        if project is not None and facts.path and project.resolve(facts.path, q) is not None:
            return False  # a class of the project's own
    return True


def _required_params(fn: cst.FunctionDef) -> list[str]:
    """Positional parameters without defaults, not counting a method's `self`/`cls`."""
    ps = [*fn.params.posonly_params, *fn.params.params]
    names = [p.name.value for p in ps if p.default is None]
    names += [p.name.value for p in fn.params.kwonly_params if p.default is None]
    return [n for n in names if n not in ("self", "cls")]


def _data_names(facts: Facts) -> set[str]:
    """Names that are data somewhere in the file: assigned as attributes, assigned in a class body
    (`freeze = True`), or `@property` defs."""
    names = {s.attr for s in facts.attr_stores}
    stack: list[cst.CSTNode] = [facts.module]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.FunctionDef):
            if is_property(node):
                names.add(node.name.value)
        elif isinstance(node, cst.ClassDef):
            for stmt in node.body.body:
                for small in getattr(stmt, "body", ()) if isinstance(stmt, cst.SimpleStatementLine) else ():
                    targets = ([t.target for t in small.targets] if isinstance(small, cst.Assign)
                               else [small.target] if isinstance(small, cst.AnnAssign) else [])
                    names.update(t.value for t in targets if isinstance(t, cst.Name))
        if isinstance(node, (cst.Module, cst.ClassDef, cst.FunctionDef, cst.IndentedBlock, cst.If, cst.Else,
                             cst.Try, cst.With, cst.For, cst.While)):
            stack.extend(node.children)
    return names
