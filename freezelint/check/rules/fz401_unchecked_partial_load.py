"""FZ401 unchecked-partial-load: the result of `load_state_dict(..., strict=False)` is discarded
(a statement of its own, or assigned to names never read)."""

from __future__ import annotations

import builtins
import re
from typing import Iterable

import libcst as cst

from freezelint.check import traverse
from freezelint.check.facts import ClassInfo, Ctx, Facts, MethodCall, Scope
from freezelint.check.known import MODULE_METHODS, is_library
from freezelint.check.project import ABSENT, Edge, shown_path
from freezelint.check.rules._kept import (
    REPORTS, _path, _run_before, key_filter, key_test, loop_key, names_read, read_before, rebound_before_read, results,
    unread_result)
from freezelint.check.rules.base import Example, Finding, Rule, src
from freezelint.check.syntax import dotted


def _strict_false(call: cst.Call) -> bool:
    for a in call.args:
        if a.keyword is not None and a.keyword.value == "strict":
            return isinstance(a.value, cst.Name) and a.value.value == "False"
    positional = [a for a in call.args if a.keyword is None and not a.star]
    return len(positional) >= 2 and isinstance(positional[1].value, cst.Name) and positional[1].value.value == "False"


class UncheckedPartialLoad(Rule):
    code = "FZ401"
    # (a file that only passes strict=False to a project helper is admitted by the project: every
    # `zip(..., strict=False)` is not parsed for it)
    words = ("load_state_dict", "model_state_dict", "load_checkpoint", "sharded_checkpoint")
    triggers = (r"strict\s*=\s*False", r"load_state_dict\([^)\n]*,\s*False", r"\bset_peft_model_state_dict\b",
                r"(?:set_base_model_state_dict|load_checkpoint|load_sharded_checkpoint)\([^)\n]*\bFalse\b")
    what = ("Finds `load_state_dict(..., strict=False)` calls whose result is thrown away: a statement of its "
            "own, or assigned to names the function never reads (`msg = model.load_state_dict(...)`), or "
            "returned by a helper whose caller drops it (`self.load_from_pretrained(path)` as a statement or "
            "into a name never read, or peft's `set_peft_model_state_dict(model, sd)`).")
    why = (
        "With `strict=False`, a prefix mismatch (`module.`, `backbone.`) loads nothing at all and "
        "raises nothing: the returned `missing_keys` / `unexpected_keys` are the only evidence. "
        "Discarding them means fine-tuning may start from random weights in the layers you then "
        "freeze. Shape mismatches still raise; name mismatches do not."
    )
    notes = (
        "Not reported where the code checked the keys before the load, in the same function: a call "
        "that takes the model (or its `state_dict()`) and the loaded dict together and whose name says "
        "it checks (key, check, match, missing, compare, verify, valid: a `check_keys(model, pretrained)` "
        "helper, not `interpolate_pos_embed(model, sd)`), or a comparison of keys (a membership test of a "
        "loop's key, a set difference of key sets, also of names bound to them: `for k in expected - found:`) "
        "that names the loaded dict or the receiver, directly or through the names it reads (`expected = "
        "set(model.state_dict())`; a loop's key is what the loop runs over: not `k in new_kwargs` in a loop "
        "over hyper-parameters), with a raise, an assert or a warning at or after it (not one "
        "only a matching key reaches: inside `if k in own ...:`, a prefix mismatch never gets there), or, where the "
        "loaded dict was filtered on the model's keys (`{k: v for k, v in sd.items() if k in own}`), a "
        "read of a key spelled out in the code that raises when it kept nothing (`kept.pop(\"fc.weight\")`, "
        "`del kept[\"fc.weight\"]`; FZ402 says which reads count). Nor where the function, before or after the "
        "load, computes the receiver's keys the loaded dict lacks (`missing = set(own) - set(sd)`, `own."
        "difference(sd)`, `[k for k in own if k not in sd]`, `own` bound to the receiver's `state_dict()`) and "
        "raises, asserts or logs them (`if missing: print(...)`): every key shows when none matched; a log of "
        "the loaded dict alone (`print(list(sd))`) shows the checkpoint's keys, not whether they match, and "
        "does not count. Nor where the load is the fallback of a strict one: in an `except` handler that prints, "
        "logs or warns, of a `try` that loads the same dict into the same receiver strictly (a mismatch fails that "
        "load first, and the handler says so); a silent handler stays reported. A comment that says the load is "
        "partial on purpose (`# only the backbone: partial load`) is no check: the canonical mistake (a prefix "
        "that matches no key) hides under just such a comment; a deliberate partial load whose keys match by "
        "construction takes a `# noqa: FZ401`. "
        "Nor where the loaded dict keeps, under the key it tests, only keys of the receiver's own `state_dict()` "
        "(`{k: v for k, v in sd.items() if k in own}`, `own = model.state_dict()`; also returned by a function "
        "of the function handed the receiver, funasr's `compatible_state(self.ctc, \"ctc.\")`) and the load runs "
        "only under `if kept:` (or `if len(kept)`, `if len(kept) > 0`): every entry loads, and at least one; "
        "unguarded, it stays reported. "
        "Nor where, on every path to the load, a helper of the file or a `self.` method "
        "whose name says it checks is handed the loaded dict (and the receiver, or reads it as `self.net`) "
        "and asserts, or raises under a test, on the keys the two share or the ones the dict lacks "
        "(`used = set(self.net.state_dict()) & set(sd)`, `assert len(used) > 0`), the dict not bound again "
        "between; a helper that only prints them, or one called in a branch, does not count. Nor where the "
        "loaded dict is a literal whose every key is a string written at the load (assigned in the "
        "same block, or filled there by `d[\"linear_1.weight\"] = w` stores only), or the target of a loop "
        "around the load over strings of the same function (`for src, dst in mapping.items()` with "
        "`mapping` a dict literal that only loops read): a chosen subset, with no prefix to get wrong. "
        "Nor where a model is copied into a sibling: `student.load_state_dict(teacher.state_dict(), "
        "strict=False)` with both local names built in the function by one class or factory "
        "(`UNet.from_pretrained(...)` and `UNet.from_config(teacher.config, ...)`; a plain call's first "
        "argument, a string or a name, must match too), neither wrapped (`DDP`, `accelerator.prepare`, "
        "`torch.compile`, `get_peft_model`) nor passed to any call before the load, only moved, frozen "
        "or read (`to`, `requires_grad_`, `eval`, `.config`), and the load not in a loop (or, in one, both "
        "built anew by statements of the loop's own body before it, each pass): the keys "
        "match by construction, the missing ones are the layers the student adds. So across two methods of a "
        "class: `env.load_state_dict(self._sd, strict=False)` where the class assigns `self._sd` once, in another "
        "method, `shadow.state_dict()`, `shadow` and `env` locals of their methods built by the same factory of "
        "the object or the module (`self.create_env_fn()`, torchrl's EnvCreator) and mentioned before only as "
        "above, and every other mention of `self._sd` in the class a load of it or an `is None` test. A `.module` or "
        "`_orig_mod.` source stays reported, and so does a module built to replace another of another class "
        "(`new.load_state_dict(old.state_dict(), strict=False)`, then `new` put where `old` was): nothing ties "
        "the two classes' key names (a LoRA wrapper names the weight `base_layer.weight`). Nor where the "
        "receiver is a local bound once, before the load, to a new object of the source's own class "
        "(`copy = model.__class__(**cfg)`, `type(model)(**cfg)`, `copy.deepcopy(model)`, moved or not) and the "
        "dict is `model.state_dict()`: the keys match by construction; not where either was handed to a call "
        "or `model` bound again between, nor where the classes differ or are unknown. Nor where a submodule is loaded from the same attribute path of "
        "another model the receiver was configured from (`controlnet = cls.from_config(dict(transformer.config))`, "
        "then `controlnet.blocks.load_state_dict(transformer.blocks.state_dict(), strict=False)`, `transformer` a "
        "parameter too): both dicts are rooted at a submodule of that one name, so no prefix "
        "can differ; not through `.module` / `._orig_mod`, nor where either model was handed to a wrapper "
        "(`get_peft_model`, `DDP`, ...) in the function before the load. Nor where, after the load, a log line reports how many "
        "entries the loaded dict kept (`len(csd)` in it, or a name bound once to a value of `len(csd)`, "
        "`n = len(csd) + remapped`). Nor where "
        "the loaded dict's keys are the receiver's own, so none can miss: its `state_dict()` or a copy of "
        "it (also one handed to calls that fill it in place, `receive(sd)`, none named as if it renamed or "
        "dropped keys: `strip_prefix(sd)`, `filter_keys(sd)`), a dict comprehension over its `named_parameters()` / `named_buffers()` / `state_dict()` keys, "
        "a dict filled only under such keys (`for name, p in model.named_parameters(): mixed[name] = ...`), "
        "or under a key tested to be one of the dict's own (`if k in own: own[k] = sd[k]`, which FZ402 reports "
        "where nothing counts what it copied), "
        "or under `named_modules()` names joined with each child's `state_dict()` keys (also built by a "
        "helper of the file handed the module, and handed back by a call of one argument, `states = "
        "all_reduce(states)`), or a snapshot a class stored from the module it then holds (`self.snap = "
        "copy.deepcopy(model.state_dict())` and `self.enc = model`, `model` not rebound between), or a dict "
        "stored on the receiver itself and restored (`transformer.load_state_dict(transformer._norm, "
        "strict=False)`) where every store of that attribute in the file is None or a dict of the storing "
        "object's own entries, also one read by its key from its `state_dict()` (`{k: own[k].clone() for k in "
        "keys}`, `saved[k] = own[k].clone()`: a foreign key raises KeyError there), directly or from a helper "
        "of the file or a `self.` method of the class handed that object. A dict "
        "renamed (`rename_keys`, `convert`, `strip_prefix`), merged with another, loaded into another "
        "module (`model.state_dict()` into `model.backbone`) or into a name rebound in the function "
        "(`model = model.module`) stays reported. A result assigned to names counts as "
        "kept when the function (or module, for a module-level load) names one of them anywhere else: "
        "printed, logged, asserted, returned, passed on, stored, read in a branch or a nested function, "
        "even `del msg`, or when it calls `locals()` / `vars()` or runs code whose literal text names one "
        "(`eval(\"print(msg)\")`; `eval(opt.ratios)` reads none); stored on an object (`self.msg = ...`) "
        "or in a class body, it is kept. `_ = model.load_state_dict(...)` and other `_` names are "
        "reported like a bare statement: unlike an unused variable (which ruff lets `_` mark as "
        "intended), the hazard is that nothing looks at the keys, and `_ =` (often there to silence a "
        "notebook's echo of the result) looks at none; a deliberate unchecked load takes a `noqa`. "
        "A helper that returns the result (`msg = self.load_state_dict(sd, strict=False)` then `return msg`, "
        "on every `return` that gives a value, the name read nowhere else) hands the keys to its callers: a "
        "call of it that is a statement of its own, or assigned to names never read (`out = load(model, sd)`), "
        "drops them and is reported, the helper found as Python "
        "would call it: a function of the file or imported from another project file, `self.method(...)` "
        "in a method through the class and its bases, here or in other project files. Not where the helper "
        "logs or checks the keys itself, returns anything else on some path, or loads strictly, nor where "
        "the caller keeps the result in any way. A function (of the file, or imported from another project "
        "file) that loads with one of its parameters as `strict` (`model.load_state_dict(sd, strict=strict)`, "
        "the parameter bound nowhere else) and drops the result is reported where a caller passes that "
        "parameter `False` (litgpt's `load_checkpoint(fabric, model, path, strict=False)`): by keyword, or by "
        "position in a file that says `strict=False` somewhere; or where a call that is a statement of its "
        "own passes nothing for a parameter whose default is `False` (`def load(self, path, strict=False)` "
        "called as `self.load(path)`). One that hands that load's result back unread on every `return` "
        "(`def load(self, sd, strict=False): return self.load_state_dict(sd, strict=strict)`, of the same "
        "file or another project file) is reported where a caller that leaves the parameter `False` drops what it returns: a statement "
        "of its own (`self.load(sd)`), or a name never read; kept, checked, logged or returned, it is silent. "
        "So is a method of the caller's own class "
        "called on `self` (coqui-tts's `self.load_checkpoint(config, path, strict=False)`, whose body runs "
        "`self.xtts.load_state_dict(state, strict=strict)`): the method the class defines, or the first of "
        "its bases that does, in order, of the same file or of another project file (a base the project does "
        "not hold stops the search: it may define the method first). Not followed: a method called on another object "
        "(`model.load_checkpoint_from_config(cfg)`), an override a subclass may add to a method the class "
        "defines (where neither the class nor its bases define it, the file's subclasses are followed, and "
        "the direct subclasses of other project files, LAVIS's `BaseModel` calling blip2.py's `Blip2Base."
        "load_from_pretrained`; subclasses of those in further files are not, nor is a base file that never "
        "says `strict=False`), a library's helpers (but see below), "
        "and a helper that returns another helper's result. Library loaders that load non-strictly and hand "
        "back the keys unread (read in their sources) are reported like such a helper when a call drops "
        "their result: peft's `set_peft_model_state_dict(model, sd)` (an adapter dict whose keys do not "
        "match the model's loads nothing), and, given "
        "`strict=False`, peft's `set_base_model_state_dict`, timm's `load_checkpoint` (also a literal `False` "
        "as its 4th positional argument, timm < 0.9's `strict`: `load_checkpoint(model, path, False, False)`; "
        "from 0.9 that place is `device`, so anything else there is not read as `strict`) and transformers' "
        "`load_sharded_checkpoint`; however imported or renamed, and from their older homes "
        "(`transformers.modeling_utils` in transformers 4.x, `peft.peft_model`). Not `set_peft_model_state_dict(model, sd)` "
        "where `sd` is `get_peft_model_state_dict(model)` of the same function, or a dict comprehension over "
        "its items that keeps each key, `model` not rebound between: peft's own keys, mapped back. Not accelerate's `load_checkpoint_in_model` "
        "(it logs unexpected keys), Lightning's `load_from_checkpoint` (it warns on both) nor Fabric's "
        "`load_raw` (it returns nothing)."
    )
    bad = [
        Example(
            """
            import torch

            state = torch.load("backbone.pt")
            model.load_state_dict(state, strict=False)  # expect: FZ401
            model.backbone.load_state_dict(state, False)  # expect: FZ401
            """,
            instead="""
            import torch

            state = torch.load("backbone.pt")
            result = model.load_state_dict(state, strict=False)
            assert not result.unexpected_keys, result.unexpected_keys
            """,
        ),
        Example(
            """
            class Detector:
                def check_keys(self, pretrained):
                    print(set(self.net.state_dict()) & set(pretrained))  # shown, nothing stops a load of none

                def load_model(self, pretrained):
                    print("loading", list(pretrained))  # the checkpoint's keys alone
                    self.check_keys(pretrained)
                    self.net.load_state_dict(pretrained, strict=False)  # expect: FZ401
            """,
            instead="""
            class Detector:
                def check_keys(self, pretrained):
                    used = set(self.net.state_dict()) & set(pretrained)
                    assert len(used) > 0, "no key of the checkpoint is a key of the model"

                def load_model(self, pretrained):
                    self.check_keys(pretrained)
                    self.net.load_state_dict(pretrained, strict=False)
            """,
        ),
        Example(
            """
            def extract(model, other, config):
                model_copy = other.__class__(**config)  # another object's class: the keys may differ
                model_copy.load_state_dict(model.state_dict(), strict=False)  # expect: FZ401
                return model_copy
            """,
            instead="""
            def extract(model, other, config):
                model_copy = other.__class__(**config)
                result = model_copy.load_state_dict(model.state_dict(), strict=False)
                assert not result.unexpected_keys, result.unexpected_keys
                return model_copy
            """,
        ),
        Example(
            """
            import warnings

            def from_pretrained(cls, pre_model, labels_key=None, **new_kwargs):
                for k, v in pre_model.init_kwargs.items():
                    if k in new_kwargs:  # hyper-parameters compared, not the weights' keys
                        warnings.warn(f"Ignoring param {k}")
                if labels_key is None:
                    raise ValueError("labels_key is needed")
                model = cls(**new_kwargs)
                model.load_state_dict(pre_model.state_dict(), strict=False)  # expect: FZ401
            """
        ),
        Example(
            """
            def refresh(model, other, receive):
                sd = other.state_dict()  # another module's keys
                receive(sd)
                model.load_state_dict(sd, strict=False)  # expect: FZ401
            """
        ),
        Example(
            """
            import torch
            from utils.general import intersect_dicts

            def load_weights(model, weights):
                csd = torch.load(weights, map_location="cpu")["model"].float().state_dict()
                csd = intersect_dicts(csd, model.state_dict(), exclude=["anchor"])  # a filter: may keep nothing
                model.load_state_dict(csd, strict=False)  # expect: FZ401
            """
        ),
        Example(
            """
            import torch

            def load_backbone(model, path, mode):
                ckpt = torch.load(path)
                if mode not in ["finetune", "probe"]:
                    raise ValueError(mode)  # checks a setting, not the keys
                if "state_dict" in ckpt:  # unwrapping a checkpoint is not a key check
                    ckpt = ckpt["state_dict"]
                print(f"loading {len(ckpt)} tensors")  # a report, but no key was compared
                model.load_state_dict(ckpt, strict=False)  # expect: FZ401
                if mode == "probe":
                    ckpt = {"fc.weight": fc}
                model.load_state_dict(ckpt, strict=False)  # expect: FZ401
                check_keys(model, ckpt)  # a check after the load comes too late
            """
        ),
        Example(
            """
            import torch

            def from_config(cls, cfg):
                model = cls()
                if cfg.get("ckpt"):
                    ckpt = torch.load(cfg["ckpt"], map_location="cpu")
                    msg = model.load_state_dict(ckpt["model"], strict=False)  # expect: FZ401
                return model  # `msg` is never read: dropped as surely as a bare call's result
            """,
            instead="""
            import torch

            def from_config(cls, cfg):
                model = cls()
                if cfg.get("ckpt"):
                    ckpt = torch.load(cfg["ckpt"], map_location="cpu")
                    msg = model.load_state_dict(ckpt["model"], strict=False)
                    assert not msg.unexpected_keys, msg.unexpected_keys
                return model
            """,
        ),
        Example(
            """
            import torch

            def resume(model, path):
                sd = torch.load(path) if path else None
                model.load_state_dict(sd, strict=False) if sd else None  # expect: FZ401
                sd and model.load_state_dict(sd, strict=False)  # expect: FZ401
                msg = model.load_state_dict(sd, strict=False) if sd else None  # expect: FZ401
            """,
            instead="""
            import torch

            def resume(model, path):
                sd = torch.load(path) if path else None
                msg = model.load_state_dict(sd, strict=False) if sd else None
                assert msg is None or not msg.unexpected_keys, msg
            """,
        ),
        Example(
            """
            import torch
            from peft import get_peft_model
            from torch.nn.parallel import DistributedDataParallel as DDP

            def distill(build, rank, lora_config):
                teacher = DDP(build().cuda(rank), device_ids=[rank])  # keys now start with `module.`
                student = build(time_proj=True)
                student.load_state_dict(teacher.state_dict(), strict=False)  # expect: FZ401
                twin = build()
                twin = torch.compile(twin)  # keys now start with `_orig_mod.`
                twin.load_state_dict(student.state_dict(), strict=False)  # expect: FZ401
                lora_student = build(time_proj=True)
                peft_model = get_peft_model(lora_student, lora_config)  # `q.weight` is now `q.base_layer.weight`
                lora_student.load_state_dict(student.state_dict(), strict=False)  # expect: FZ401
            """,
            instead="""
            import torch
            from torch.nn.parallel import DistributedDataParallel as DDP

            def distill(build, rank):
                teacher = DDP(build().cuda(rank), device_ids=[rank])
                student = build(time_proj=True)
                missing, unexpected = student.load_state_dict(teacher.module.state_dict(), strict=False)
                assert not unexpected and all(k.startswith("time_proj.") for k in missing), (missing, unexpected)
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            class BaseModel(nn.Module):
                def load_from_pretrained(self, path):
                    state_dict = torch.load(path, map_location="cpu")["model"]
                    msg = self.load_state_dict(state_dict, strict=False)
                    return msg  # handed to the caller...

            class QFormerModel(BaseModel):
                def __init__(self, q_former_ckpt):
                    super().__init__()
                    self.qformer = nn.Linear(8, 8)
                    self.load_from_pretrained(q_former_ckpt)  # expect: FZ401

            def load_weights(model, path):
                return model.load_state_dict(torch.load(path), strict=False)

            def build(path):
                model = nn.Linear(8, 8)
                load_weights(model, path)  # expect: FZ401
                return model

            def build_logged(path):
                model = nn.Linear(8, 8)
                out = load_weights(model, path)  # expect: FZ401
                return model
            """,
            instead="""
            import torch
            import torch.nn as nn

            class BaseModel(nn.Module):
                def load_from_pretrained(self, path):
                    state_dict = torch.load(path, map_location="cpu")["model"]
                    msg = self.load_state_dict(state_dict, strict=False)
                    return msg

            class QFormerModel(BaseModel):
                def __init__(self, q_former_ckpt):
                    super().__init__()
                    self.qformer = nn.Linear(8, 8)
                    msg = self.load_from_pretrained(q_former_ckpt)
                    assert not msg.unexpected_keys, msg.unexpected_keys
            """,
        ),
        Example(
            """
            import copy

            def reset_backbone(model):
                model.backbone.load_state_dict(model.state_dict(), strict=False)  # expect: FZ401

            def reload_inner(model):
                snapshot = copy.deepcopy(model.state_dict())
                model = model.module  # another object: its keys lack `module.`
                model.load_state_dict(snapshot, strict=False)  # expect: FZ401

            def interpolate(student, teacher, beta):
                mixed = {}
                for name, param in teacher.named_parameters():  # another module's names
                    mixed[name] = param * beta
                student.load_state_dict(mixed, strict=False)  # expect: FZ401
                prefixed = {}
                for name, param in student.named_parameters():
                    prefixed["module." + name] = param  # a name the student does not hold
                student.load_state_dict(prefixed, strict=False)  # expect: FZ401

            def norm_states(module):
                states = {}
                for name, child in module.named_modules():
                    for k, v in child.state_dict().items():
                        states[f"{name}.{k}"] = v
                return states

            def sync_norms(module, rename_keys):
                states = rename_keys(norm_states(module))  # renamed: no longer the module's own
                module.load_state_dict(states, strict=False)  # expect: FZ401
            """
        ),
        Example(
            """
            import copy

            import torch.nn as nn

            class Encoder(nn.Module):
                def __init__(self, build):
                    super().__init__()
                    model = build()
                    self.pretrained_params = copy.deepcopy(model.state_dict())
                    model = model.encoder  # a part of it: its keys lack the `encoder.` prefix
                    self.encoders = model

                def reload_pretrained_parameters(self):
                    self.encoders.load_state_dict(self.pretrained_params, strict=False)  # expect: FZ401
            """
        ),
        Example(
            """
            import torch

            def load_checkpoint(model, path, strict=True):
                state_dict = torch.load(path, mmap=True)
                model.load_state_dict(state_dict.get("model", state_dict), strict=strict)  # the keys dropped

            def setup(model, path):
                # strict=False: the checkpoint has no LoRA weights
                load_checkpoint(model, path, strict=False)  # expect: FZ401
                load_checkpoint(model, path, False)  # expect: FZ401
                load_checkpoint(model, path)  # strict: a mismatch raises
            """,
            instead="""
            import torch

            def load_checkpoint(model, path, strict=True):
                state_dict = torch.load(path, mmap=True)
                return model.load_state_dict(state_dict.get("model", state_dict), strict=strict)

            def setup(model, path):
                missing, unexpected = load_checkpoint(model, path, strict=False)
                assert not unexpected and all("lora_" in k for k in missing), (missing, unexpected)
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            class Base:
                def load(self, path, strict=False):
                    self.net.load_state_dict(torch.load(path), strict=strict)  # the keys dropped

            class Trainer(Base):
                def __init__(self, path):
                    self.net = nn.Linear(2, 2)
                    self.load(path)  # expect: FZ401
                    self.load(path, strict=True)  # strict: a mismatch raises
            """,
            instead="""
            import torch
            import torch.nn as nn

            class Base:
                def load(self, path, strict=False):
                    result = self.net.load_state_dict(torch.load(path), strict=strict)
                    assert not result.missing_keys and not result.unexpected_keys, result

            class Trainer(Base):
                def __init__(self, path):
                    self.net = nn.Linear(2, 2)
                    self.load(path)
            """,
        ),
        Example(
            """
            from peft import get_peft_model

            class ControlNet:
                @classmethod
                def from_transformer(cls, transformer, lora_config):
                    controlnet = cls.from_config(transformer.config)
                    controlnet.blocks.load_state_dict(transformer.state_dict(), strict=False)  # expect: FZ401
                    controlnet.blocks.load_state_dict(transformer.module.blocks.state_dict(), strict=False)  # expect: FZ401
                    get_peft_model(transformer, lora_config)  # `q.weight` is now `q.base_layer.weight`
                    controlnet.blocks.load_state_dict(transformer.blocks.state_dict(), strict=False)  # expect: FZ401
                    return controlnet

            class NormLoader:
                def load_norm(self, transformer, state_dict, keys):
                    transformer._norm_layers = {k: state_dict.get(k) for k in keys}  # the checkpoint's keys

                def unload(self, transformer):
                    transformer.load_state_dict(transformer._norm_layers, strict=False)  # expect: FZ401
            """
        ),
        Example(
            """
            import logging
            import torch

            logger = logging.getLogger(__name__)

            def load_inflated(model, path):
                state_dict = torch.load(path, map_location="cpu")
                own = model.state_dict()
                for k in state_dict.keys():
                    if k in own and state_dict[k].shape != own[k].shape:
                        logger.info(f"Inflate: {k}")  # only a key that matches gets here: a prefix mismatch logs nothing
                        state_dict[k] = state_dict[k].unsqueeze(2)
                model.load_state_dict(state_dict, strict=False)  # expect: FZ401
            """,
            instead="""
            import logging
            import torch

            logger = logging.getLogger(__name__)

            def load_inflated(model, path):
                state_dict = torch.load(path, map_location="cpu")
                own = model.state_dict()
                for k in state_dict.keys():
                    if k in own and state_dict[k].shape != own[k].shape:
                        logger.info(f"Inflate: {k}")
                        state_dict[k] = state_dict[k].unsqueeze(2)
                missing, unexpected = model.load_state_dict(state_dict, strict=False)
                assert not unexpected, unexpected
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            class BaseModel(nn.Module):
                def load_checkpoint_from_config(self, cfg):
                    self.load_from_pretrained(cfg["pretrained"])  # expect: FZ401

            class Blip2Base(BaseModel):
                def load_from_pretrained(self, path):  # only the subclass defines it, and hands the keys back
                    state_dict = torch.load(path, map_location="cpu")["model"]
                    msg = self.load_state_dict(state_dict, strict=False)
                    return msg
            """
        ),
        Example(
            """
            import torch.nn as nn

            class LoraLinear(nn.Module):
                def __init__(self, linear, r):
                    super().__init__()
                    self.base_layer = nn.Linear(linear.in_features, linear.out_features)
                    self.lora_a = nn.Linear(linear.in_features, r, bias=False)

            def add_lora(model, r):
                for name, child in list(model.named_children()):
                    if isinstance(child, nn.Linear):
                        new = LoraLinear(child, r)  # built to replace `child`, but names its weight `base_layer.weight`
                        new.load_state_dict(child.state_dict(), strict=False)  # expect: FZ401
                        setattr(model, name, new)
            """
        ),
        Example(
            """
            import os

            import torch
            from peft import set_peft_model_state_dict
            from timm.models import load_checkpoint

            def resume(model, checkpoint_dir):
                adapters_weights = torch.load(os.path.join(checkpoint_dir, "adapter_model.bin"))
                set_peft_model_state_dict(model, adapters_weights)  # expect: FZ401

            def load_backbone(backbone, path):
                load_checkpoint(backbone, path, strict=False)  # expect: FZ401
                load_checkpoint(backbone, path, False, False)  # expect: FZ401
            """,
            instead="""
            import os

            import torch
            from peft import set_peft_model_state_dict

            def resume(model, checkpoint_dir):
                adapters_weights = torch.load(os.path.join(checkpoint_dir, "adapter_model.bin"))
                result = set_peft_model_state_dict(model, adapters_weights)
                assert not result.unexpected_keys, result.unexpected_keys
                assert not [k for k in result.missing_keys if "lora_" in k], result.missing_keys
            """,
        ),
        Example(
            """
            from peft.peft_model import set_peft_model_state_dict
            from transformers.modeling_utils import load_sharded_checkpoint  # transformers 4.x's home

            def load(model, checkpoint_dir, adapters_weights):
                load_sharded_checkpoint(model, checkpoint_dir, strict=False)  # expect: FZ401
                set_peft_model_state_dict(model, adapters_weights)  # expect: FZ401
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            class Base(nn.Module):
                def load(self, sd, strict=False):
                    return self.load_state_dict(sd, strict=strict)  # the keys go back to the caller

            class Model(Base):
                def __init__(self, path):
                    super().__init__()
                    self.fc = nn.Linear(8, 8)
                    self.load(torch.load(path))  # expect: FZ401
            """,
            instead="""
            import torch
            import torch.nn as nn

            class Base(nn.Module):
                def load(self, sd, strict=False):
                    return self.load_state_dict(sd, strict=strict)

            class Model(Base):
                def __init__(self, path):
                    super().__init__()
                    self.fc = nn.Linear(8, 8)
                    result = self.load(torch.load(path))
                    assert not result.missing_keys and not result.unexpected_keys, result
            """,
        ),
    ]
    good = [
        """
        import torch

        def load_weights(model, path):
            return model.load_state_dict(torch.load(path), strict=False)

        def build_checked(model, path):
            out = load_weights(model, path)  # the keys are read
            assert not out.unexpected_keys, out.unexpected_keys
            return model

        def build_handed(model, path):
            out = load_weights(model, path)  # handed on to the caller
            return out
        """,
        """
        class Detector:
            def __init__(self, net):
                self.net = net

            def check_keys(self, pretrained):
                used = set(self.net.state_dict()) & set(pretrained)
                assert len(used) > 0, "load NONE from pretrained checkpoint"
                return True

            def load_model(self, pretrained):
                self.check_keys(pretrained)  # no key matching raises here
                self.net.load_state_dict(pretrained, strict=False)
                self.net.eval()

        def load_state_dict(module, state_dict):
            src, dst = state_dict, module.state_dict()
            missing = [k for k in dst if k not in src]  # every key of the module when none matches
            unexpected = [k for k in src if k not in dst]
            src = {k: v for k, v in src.items() if k not in set(unexpected)}
            module.load_state_dict(src, strict=False)
            if missing:
                print("Missing: " + ", ".join(missing))

        def load_head(head, state_dict):
            expected = head.state_dict()
            sub = {k[len("head."):]: v for k, v in state_dict.items()
                   if k.startswith("head.") and k[len("head."):] in expected}
            if sub:
                head.load_state_dict(sub, strict=False)
            missing = set(expected) - set(sub)  # the keys the load lacked, checked after it
            if missing:
                raise RuntimeError(f"head checkpoint incomplete: {sorted(missing)}")
        """,
        """
        import torch
        import torch.nn as nn

        class Base:
            def load(self, path, strict=True):  # strict unless told otherwise
                self.net.load_state_dict(torch.load(path), strict=strict)

            def load_loose(self, path, strict=False):
                return self.net.load_state_dict(torch.load(path), strict=strict)  # handed back

        class Trainer(Base):
            def __init__(self, path):
                self.net = nn.Linear(2, 2)
                self.load(path)
                result = self.load_loose(path)
                assert not result.unexpected_keys, result
        """,
        """
        class EnvCreator:
            def __init__(self, create_env_fn):
                self.create_env_fn = create_env_fn

            def init_(self):
                shadow_env = self.create_env_fn()
                self._transform_state_dict = shadow_env.state_dict()  # the only value the class gives it

            def __call__(self):
                env = self.create_env_fn()  # built by the same factory: the same keys
                env.load_state_dict(self._transform_state_dict, strict=False)
                return env
        """,
        # the essential keys the model expects and the checkpoint lacks, collected and raised on
        """
        import torch

        def load(model, path):
            model_state = torch.load(path)
            expected_keys = set(model.state_dict().keys())
            found_keys = set(model_state.keys())
            missing_essential_keys = []
            for missing_key in expected_keys - found_keys:
                if not missing_key.startswith("lm_head."):
                    missing_essential_keys.append(missing_key)
            if missing_essential_keys:
                raise RuntimeError(f"Keys {missing_essential_keys} are missing.")
            model.load_state_dict(model_state, strict=False)
        """,
        # the module's own state_dict() filled in place and loaded back: its keys by construction
        """
        def refresh(model, receive):
            sd = model.state_dict()
            receive(sd)
            model.load_state_dict(sd, strict=False)
        """,
        """
        from tensordict import is_tensor_collection

        class Storage:
            def load_state_dict(self, state_dict):
                if is_tensor_collection(self._storage):  # a TensorDict: its load returns itself, no keys
                    self._storage.load_state_dict(state_dict["_storage"], strict=False)
        """,
        # a copy of the adapter's own keys kept on the object and loaded back (an EMA teacher adapter)
        """
            from peft import get_peft_model_state_dict, set_peft_model_state_dict

            class TeacherSync:
                def __init__(self, model):
                    self.model = model
                    self.shadow = None

                def start(self):
                    state = get_peft_model_state_dict(self.model)
                    self.shadow = {k: v.clone().zero_() for k, v in state.items()}

                def on_step_end(self):
                    set_peft_model_state_dict(self.model, self.shadow, adapter_name="teacher")
        """,
        """
        from copy import deepcopy

        def reptile_step(model, beta):
            before = deepcopy(model.state_dict())
            after = model.state_dict()
            mixed = {}
            for name, param in model.named_parameters():  # the model's own names: none can miss
                mixed[name] = before[name] + (after[name] - before[name]) * beta
            model.load_state_dict(mixed, strict=False)  # strict=False: the buffers are left out
            model.load_state_dict({k: v * beta for k, v in model.named_buffers()}, strict=False)
        """,
        """
        from collections import OrderedDict

        import torch.nn as nn

        def get_norm_states(module):
            states = OrderedDict()
            for name, child in module.named_modules():
                if isinstance(child, nn.BatchNorm2d):
                    for k, v in child.state_dict().items():
                        states[".".join([name, k])] = v
            return states

        def all_reduce_norm(module, all_reduce):
            states = get_norm_states(module)  # keys from the module's own children
            states = all_reduce(states)  # the same dict, averaged across ranks
            module.load_state_dict(states, strict=False)
        """,
        """
        import copy

        import torch.nn as nn

        class Encoder(nn.Module):
            def __init__(self, build):
                super().__init__()
                model = build()
                self.pretrained_params = copy.deepcopy(model.state_dict())  # a snapshot of the module...
                self.encoders = model  # ...that is stored here, unchanged

            def reload_pretrained_parameters(self):
                self.encoders.load_state_dict(self.pretrained_params, strict=False)
        """,
        """
        import logging

        LOGGER = logging.getLogger(__name__)

        def load(model, weights, intersect_dicts, remapped, adapted):
            csd = intersect_dicts(weights.float().state_dict(), model.state_dict())
            model.load_state_dict(csd, strict=False)
            n = len(csd) + remapped
            if adapted:
                n += 1
            LOGGER.info(f"Transferred {n}/{len(model.state_dict())} items")  # the count, kept in a name first
        """,
        """
        import logging
        import torch

        def load_checkpoint(model, path, strict=True):
            result = model.load_state_dict(torch.load(path), strict=strict)
            logging.info("missing: %s", result.missing_keys)  # the helper reports the keys itself

        def load_weights(model, path, strict=True):
            return model.load_state_dict(torch.load(path), strict=strict)  # handed to the caller

        def load_flagged(model, path, strict=True):
            strict = strict or path.endswith(".ckpt")  # not only the caller's value
            model.load_state_dict(torch.load(path), strict=strict)

        def setup(model, path):
            load_checkpoint(model, path, strict=False)
            missing, unexpected = load_weights(model, path, strict=False)
            assert not unexpected, unexpected
            load_flagged(model, path, strict=False)
        """,
        """
        import torch

        def resume(model, path):
            sd = torch.load(path) if path else None
            msg = model.load_state_dict(sd, strict=False) if sd else None  # kept, and read below
            if msg is not None:
                print(msg.missing_keys)
            return sd and model.load_state_dict(sd, strict=False)  # handed to the caller
        """,
        """
        import torch
        from utils.general import intersect_dicts

        def load_weights(model, weights):
            csd = torch.load(weights, map_location="cpu")["model"].float().state_dict()
            csd = intersect_dicts(csd, model.state_dict())
            model.load_state_dict(csd, strict=False)
            LOGGER.info(f"Transferred {len(csd)}/{len(model.state_dict())} items")  # an empty one says so
        """,
        """
        import torch
        from torch.optim.lr_scheduler import MultiStepLR

        def resume(model, state):
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            optimizer.load_state_dict(state["optimizer"], strict=False)  # an optimizer: no keys to report
            scheduler = None
            if state.get("milestones"):
                scheduler = MultiStepLR(optimizer, state["milestones"])
                scheduler.load_state_dict(state["scheduler"], strict=False)
        """,
        """
        result = model.load_state_dict(state, strict=False)
        assert not result.unexpected_keys, result.unexpected_keys
        missing, unexpected = model.load_state_dict(state, strict=False)
        assert not missing, missing
        model.load_state_dict(state)  # strict: mismatches raise
        print(model.load_state_dict(state, strict=False))
        """,
        """
        def load(model, state):
            return model.load_state_dict(state, strict=False)
        """,
        """
        import logging

        def load(model, state, verbose=False):
            msg = model.load_state_dict(state, strict=False)
            if verbose:
                logging.info(f"loaded: {msg}")  # read on one branch: kept, the code chose when to look
            missing, unexpected = model.load_state_dict(state, strict=False)
            assert not unexpected, unexpected
        """,
        """
        import torch

        def check_keys(model, pretrained_state_dict):
            ckpt_keys = set(pretrained_state_dict.keys())
            model_keys = set(model.state_dict().keys())
            assert len(model_keys & ckpt_keys) > 0, "load NONE from pretrained checkpoint"
            return True

        def load_pretrain(model, path):
            pretrained_dict = torch.load(path, map_location="cpu")
            check_keys(model, pretrained_dict)  # compares the keys and asserts an overlap
            model.load_state_dict(pretrained_dict, strict=False)
            return model
        """,
        """
        def load_sharded(model, index, shards, loader):
            loaded_keys = index["weight_map"].keys()
            model_keys = model.state_dict().keys()
            missing_keys = [key for key in model_keys if key not in loaded_keys]
            if missing_keys:
                raise RuntimeError(f"Missing key(s): {missing_keys}")
            for shard in shards:
                model.load_state_dict(loader(shard), strict=False)

        def init_shared_prompt(self, state_dict):
            state_dict = {"embedding.weight": state_dict["prompt_embeddings"]}
            self.load_state_dict(state_dict, strict=False)  # every key spelled out: a chosen subset
            self.head.load_state_dict({"bias": bias}, strict=False)

        def load_adapter(self, state_dict):
            unexpected_keys = set(state_dict.keys()) - set(self._get_adapters().keys())
            if unexpected_keys:
                logger.warning(f"unexpected keys: {unexpected_keys}")
            self.load_state_dict(state_dict, strict=False)
        """,
        """
        from diffusers import UNet2DConditionModel

        def build_student(args):
            teacher_unet = UNet2DConditionModel.from_pretrained(args.teacher, subfolder="unet")
            teacher_unet.requires_grad_(False)
            unet = UNet2DConditionModel.from_config(teacher_unet.config, time_cond_proj_dim=256)
            # two unwrapped models of one class built here: the keys match by construction, and the
            # missing ones are the student's new `time_cond_proj` layer
            unet.load_state_dict(teacher_unet.state_dict(), strict=False)
            return accelerator.prepare(unet)  # wrapped after the load
        """,
        """
        from safetensors.torch import load_file

        def remap_time_embedder(transformer, path):
            original = load_file(path)
            param_mapping = {
                "time_embed.emb.linear_1.weight": "time_embed.linear_1.weight",
                "time_embed.emb.linear_1.bias": "time_embed.linear_1.bias",
            }
            for src_key, dst_key in param_mapping.items():  # every key spelled out above
                if src_key in original:
                    transformer.load_state_dict({dst_key: original[src_key]}, strict=False, assign=True)
        """,
        """
        import torch

        def zero_guidance(embedder):
            zero_state_dict = {}
            zero_state_dict["linear_1.weight"] = torch.zeros_like(embedder.linear_1.weight)
            zero_state_dict["linear_1.bias"] = torch.zeros_like(embedder.linear_1.bias)
            embedder.load_state_dict(zero_state_dict, strict=False)  # a literal, written in steps
        """,
        """
        import logging
        import torch
        import torch.nn as nn

        class BaseModel(nn.Module):
            def load_checkpoint(self, path):
                msg = self.load_state_dict(torch.load(path)["model"], strict=False)
                logging.info("Missing keys {}".format(msg.missing_keys))  # the helper reports them itself
                return msg

            def load_if_given(self, path):
                if path is None:
                    return None  # something else on some path
                return self.load_state_dict(torch.load(path), strict=False)

            def load_strict(self, path):
                return self.load_state_dict(torch.load(path))  # strict: a mismatch raises

            def load_prompt(self, weight):
                return self.load_state_dict({"prompt.weight": weight}, strict=False)  # every key spelled out

            def load_from_pretrained(self, path):
                return self.load_state_dict(torch.load(path), strict=False)

        class Model(BaseModel):
            def __init__(self, path, weight):
                super().__init__()
                self.load_checkpoint(path)
                self.load_if_given(path)
                self.load_strict(path)
                self.load_prompt(weight)
                msg = self.load_from_pretrained(path)  # kept, and read
                print(msg.missing_keys)

            def reload(self, path):
                return self.load_from_pretrained(path)  # handed on to its own caller

        class Checked(BaseModel):
            def load_from_pretrained(self, path):  # overrides the base's: checks the keys
                missing, unexpected = self.load_state_dict(torch.load(path), strict=False)
                assert not unexpected, unexpected

            def __init__(self, path):
                super().__init__()
                self.load_from_pretrained(path)
        """,
        """
        class ControlNet:
            @classmethod
            def from_transformer(cls, transformer, num_layers=4):
                config = dict(transformer.config)
                config["num_layers"] = num_layers
                controlnet = cls.from_config(config)
                # the same submodule of the model it was configured from: both dicts are rooted at
                # `transformer_blocks`, no prefix can differ; the extra source blocks are unexpected
                controlnet.transformer_blocks.load_state_dict(transformer.transformer_blocks.state_dict(), strict=False)
                return controlnet
        """,
        """
        from mylib.transformer import StreamingTransformer

        def test_cross_attention():
            for norm_first in [True, False]:
                m = StreamingTransformer(16, 4, 2, cross_attention=False, norm_first=norm_first)
                m_cross = StreamingTransformer(16, 4, 2, cross_attention=True, norm_first=norm_first)
                m_cross.load_state_dict(m.state_dict(), strict=False)  # one class, both new in this pass
        """,
        """
        import torch.nn as nn

        class NormLoader:
            def _save_norm(self, transformer, keys):
                own = transformer.state_dict()
                return {k: own[k].clone() for k in keys}  # `own[k]` raises unless k is the transformer's

            def load_norm(self, transformer, keys):
                transformer._norm_layers = self._save_norm(transformer, keys)

            def unload(self, transformer: nn.Module):
                if transformer._norm_layers:
                    transformer.load_state_dict(transformer._norm_layers, strict=False)  # its own entries back
                    transformer._norm_layers = None
        """,
        """
        import logging
        import torch

        logger = logging.getLogger(__name__)

        def load_inflated(model, path):
            state_dict = torch.load(path, map_location="cpu")
            own = model.state_dict()
            for k in state_dict.keys():
                if k not in own:
                    logger.warning(f"unexpected key: {k}")  # reached by a key that does not match
                elif state_dict[k].shape != own[k].shape:
                    state_dict[k] = state_dict[k].unsqueeze(2)
            model.load_state_dict(state_dict, strict=False)
            for k in state_dict.keys():
                if k in own:
                    state_dict[k] = state_dict[k].float()
                else:
                    logger.warning(f"unexpected key: {k}")  # the `else` of a match: a mismatch reaches it
            model.load_state_dict(state_dict, strict=False)
        """,
        """
        import logging
        import torch
        import torch.nn as nn

        class BaseModel(nn.Module):
            def load_checkpoint_from_config(self, cfg):
                self.load_from_pretrained(cfg["pretrained"])  # defined by subclasses only

        class Blip2Base(BaseModel):
            def load_from_pretrained(self, path):
                msg = self.load_state_dict(torch.load(path)["model"], strict=False)
                logging.info("missing keys: %s", msg.missing_keys)  # the override reports them itself
                return msg
        """,
        """
        import peft
        from timm.models import load_checkpoint

        def resume(model, adapters_weights, path, set_peft_model_state_dict):
            result = peft.set_peft_model_state_dict(model, adapters_weights)
            assert not result.unexpected_keys, result.unexpected_keys  # the keys are looked at
            load_checkpoint(model, path)  # strict: a mismatch raises
            load_checkpoint(model, path, strict=True)
            load_checkpoint(model, path, False, "cpu")  # timm >= 0.9: the 4th is `device`
            set_peft_model_state_dict(model, adapters_weights)  # a parameter, not peft's function
        """,
        """
        import torch
        from peft import get_peft_model_state_dict, set_peft_model_state_dict

        def add_teacher_adapter(model, name):
            student = get_peft_model_state_dict(model)
            zeros = {k: torch.zeros_like(v) for k, v in student.items()}
            model.add_adapter(name, model.peft_config["default"])
            set_peft_model_state_dict(model, zeros, adapter_name=name)  # peft's own keys of this model
        """,
        """
        from transformers.modeling_utils import load_sharded_checkpoint

        def load(model, checkpoint_dir):
            load_sharded_checkpoint(model, checkpoint_dir)  # strict: a mismatch raises
            result = load_sharded_checkpoint(model, checkpoint_dir, strict=False)
            assert not result.unexpected_keys, result.unexpected_keys  # the keys are looked at
        """,
        """
        def copy_state_dict(model, state_dict):
            own = model.state_dict()
            copied = 0
            for key in state_dict:
                if key in own:  # only the model's own keys: none can miss
                    own[key] = state_dict[key]
                    copied += 1
            assert copied, "no key of the checkpoint is one of the model's"  # what FZ402 asks for
            model.load_state_dict(own, strict=False)
        """,
        """
        import copy

        def extract_model(model, config, device):
            model_copy = model.__class__(**config)  # the same class: the keys match by construction
            model_copy.load_state_dict(model.state_dict(), strict=False)
            same = type(model)(**config).to(device)
            same.load_state_dict(model.state_dict(), strict=False)
            twin = copy.deepcopy(model)
            twin.load_state_dict(model.state_dict(), strict=False)
            return model_copy, same, twin
        """,
    ]

    def check(self, facts: Facts, module) -> Iterable[Finding]:
        for call, ctx, names in _loads(facts, module):
            home = _home(ctx.scope)
            body = home.node if home is not None and home.node is not None else module
            if _exempt(facts, call, body, home, ctx.scope):
                continue
            kept = _unread(facts, names, ctx.stmt, body)
            indexed = _indexes_own(call, body)
            # `{k: v for k, v in sd.items() if model.state_dict()[k].shape == v.shape}`: a key of no match
            # raises there, so all loads or it fails; what goes unsaid is what the filter left out
            risk = (f"every key kept is one of the model's (`{indexed}` raises on any other), but the model's "
                    f"weights left out (a shape that differs, a key the checkpoint lacks) keep their "
                    f"initial values and nothing says which; {_advice(names, missing_only=True)}") if indexed else \
                (f"if no key matches (a key prefix that differs, added or stripped: `module.`, `backbone.`), "
                 f"nothing is loaded and nothing says so; "
                 f"{_advice(names)}")
            yield self.finding(
                call, f"the result of `{src(call.func.value)}.load_state_dict(..., strict=False)` {kept}: {risk}", ctx)
        yield from self._dropped_by_callers(facts)
        yield from self._strict_through_helpers(facts)
        yield from self._library_loaders(facts, module)

    def _library_loaders(self, facts: Facts, module: cst.Module) -> Iterable[Finding]:
        """A library loader that returns a non-strict load's keys unchecked (LIBRARY_LOADERS), its
        result dropped: a statement of its own, or assigned to names never read."""
        for mc in (*facts.name_calls, *facts.method_calls):
            call = mc.call
            q = facts.qualname(call.func, mc.ctx.scope) if mc.ctx.scope.kind in ("function", "module") else None
            loader = LIBRARY_LOADERS.get(q or "")
            if loader is None or not _non_strict(call, loader[0], _OLD_STRICT.get(q or "")):
                continue
            names = unread_result(call, mc.ctx.stmt, _body_of(mc.ctx.scope, module))
            if not names and not _statement_of(call, mc.ctx.stmt) or _peft_round_trip(facts, call, mc.ctx.scope, module):
                continue
            name = q.rsplit(".", 1)[-1]
            lib = q.split(".", 1)[0] + ("'" if q.split(".", 1)[0].endswith("s") else "'s")
            called = f"{lib} `{src(call.func)}(...)`" if src(call.func).endswith(name) \
                else f"`{src(call.func)}(...)` ({lib} `{name}`)"
            dropped = _goes_to(facts, names, mc.ctx.stmt, _body_of(mc.ctx.scope, module))
            yield self.finding(
                call,
                f"{called} loads non-strictly (`strict=False`) and returns the missing and unexpected keys "
                f"unread; {dropped}: a checkpoint whose keys do not match loads nothing and nothing says so; "
                f"{loader[1]}",
                mc.ctx,
            )

    def _strict_through_helpers(self, facts: Facts) -> Iterable[Finding]:
        """`load_checkpoint(model, path, strict=False)` where the helper (a function of the file, or
        imported from another project file) loads with its `strict` parameter and drops the result."""
        loads, handed = strict_arg_loads(facts), returned_strict_loads(facts)
        if not loads and not handed and facts.project is None:
            return
        for mc in (*facts.name_calls, *facts.method_calls):
            call = mc.call
            if mc.method == "load_state_dict" or not _may_load_non_strict(call, mc.ctx.stmt) \
                    and not ((handed or facts.project is not None)
                             and unread_result(call, mc.ctx.stmt, _body_of(mc.ctx.scope, facts.module))):
                continue
            found = _strict_helper(facts, call, mc.ctx, loads)
            kept = None
            if found is None and (handed or facts.project is not None):  # a helper that returns the keys:
                # reported where the caller drops them
                kept = unread_result(call, mc.ctx.stmt, _body_of(mc.ctx.scope, facts.module))
                if kept or _statement_of(call, mc.ctx.stmt):
                    found = _strict_helper(facts, call, mc.ctx, handed, handed=True)
            if found is None:
                continue
            where, param, index, off = found
            said = _left_false(call, param, index, off)
            if said is None:
                continue
            at, edges = _load_at(facts, where, src(call.func).rsplit(".", 1)[-1])
            if kept is None:
                told = f"{said} and drops its missing and unexpected keys ({at})"
                advice = "check the keys, or return them and check them here"
            else:
                dropped = _goes_to(facts, kept, mc.ctx.stmt, _body_of(mc.ctx.scope, facts.module))
                told = f"{said} and returns its missing and unexpected keys ({at}); {dropped}"
                advice = "check them"
            yield self.finding(
                call,
                f"{told}: if no key matches (a key prefix that differs, added or stripped: `module.`, `backbone.`), "
                f"nothing is loaded and nothing says "
                f"so; {advice}",
                mc.ctx, facts=facts, edges=edges,
            )

    def _dropped_by_callers(self, facts: Facts) -> Iterable[Finding]:
        """A call of a helper returning a `strict=False` load's result (returned_loads; another
        file's through the project) that drops it: a statement of its own, or assigned to names
        never read (as a strict-arg helper's and a library loader's result are)."""
        loads = returned_loads(facts)
        if not loads and facts.project is None:
            return
        dropped = [(call, es.ctx, False) for es in facts.expr_statements for call in results(es.stmt.value)]
        dropped += [(mc.call, mc.ctx, True) for mc in (*facts.name_calls, *facts.method_calls)
                    if _assigned(mc.call, mc.ctx.stmt)]
        for call, ctx, assigned in dropped:
            if not isinstance(call, cst.Call) or _partial_load(call):
                continue
            found = _helper_load(facts, call, ctx, loads)
            names = unread_result(call, ctx.stmt, _body_of(ctx.scope, facts.module)) \
                if assigned and isinstance(found, tuple) else []
            if not isinstance(found, tuple) or assigned and not names:
                continue
            helper, where = found
            at, edges = _load_at(facts, where, helper)
            goes = _goes_to(facts, names, ctx.stmt, _body_of(ctx.scope, facts.module)) if names \
                else "this call drops them"
            yield self.finding(
                call,
                f"`{src(call.func)}(...)` returns `load_state_dict(..., strict=False)`'s missing and unexpected "
                f"keys ({at}) and {goes}: a checkpoint whose keys do not match loads nothing and nothing says so; "
                f"check them",
                ctx, facts=facts, edges=edges,
            )


_GENERIC = "keep the result and check that `unexpected_keys` is empty and `missing_keys` holds only what you meant to leave"
_ADAPTER = ("keep the result and check that `unexpected_keys` is empty and that no adapter key (`lora_`) is in "
            "`missing_keys` (the base model's own keys are always listed there)")
# Library loaders that run `load_state_dict(..., strict=False)` (always, or when their `strict` is False)
# and return its result without reading it, as their installed sources do (peft 0.21, timm 1.0,
# transformers 5): qualified name -> (the `strict` parameter's position, None for always; what to check).
# Each under every module it is imported from in public code, its older homes too: transformers 4.x
# defined `load_sharded_checkpoint` in modeling_utils (the same signature), and its trainer imports it;
# peft's peft_model and functional import `set_peft_model_state_dict`.
# Not here: accelerate's `load_checkpoint_in_model` (logs unexpected keys, returns None), Lightning's
# `load_from_checkpoint` (warns on missing / unexpected keys itself), Fabric's `load_raw` (returns None).
LIBRARY_LOADERS: dict[str, tuple[int | None, str]] = {
    **{f"{m}.set_peft_model_state_dict": (None, _ADAPTER)
       for m in ("peft", "peft.utils", "peft.utils.save_and_load", "peft.peft_model", "peft.functional")},
    **{f"{m}.set_base_model_state_dict": (2, _GENERIC) for m in ("peft", "peft.utils", "peft.utils.save_and_load")},
    **{f"{m}.load_checkpoint": (4, _GENERIC) for m in ("timm.models", "timm.models._helpers", "timm.models.helpers")},
    **{f"{m}.load_sharded_checkpoint": (2, _GENERIC)
       for m in ("transformers.trainer_utils", "transformers.modeling_utils", "transformers.trainer")},
}


# Where an older release took `strict` positionally: timm < 0.9's `load_checkpoint(model, checkpoint_path,
# use_ema=False, strict=True)`. From 0.9 that place is `device`, which a literal False cannot be, so only a
# literal False there is read as the old `strict`.
_OLD_STRICT = {f"{m}.load_checkpoint": 3 for m in ("timm.models", "timm.models._helpers", "timm.models.helpers")}


def _non_strict(call: cst.Call, index: int | None, old: int | None = None) -> bool:
    """Whether a library loader's call loads non-strictly: always (index None), or its `strict`
    (by keyword, or at `index`, or at an older release's `old`, among plain positional arguments) is `False`."""
    if index is None:
        return True
    for a in call.args:
        if a.keyword is not None and a.keyword.value == "strict":
            return isinstance(a.value, cst.Name) and a.value.value == "False"
    return any(_false_at(call, i) for i in (index, old) if i is not None)


def _false_at(call: cst.Call, index: int) -> bool:
    """Whether the plain positional argument at `index` is the literal `False` (none starred before it)."""
    positional = [a for a in call.args if a.keyword is None]
    if index >= len(positional) or any(a.star for a in positional[:index + 1]):
        return False
    given = positional[index].value
    return isinstance(given, cst.Name) and given.value == "False"


def _peft_round_trip(facts: Facts, call: cst.Call, scope: Scope, module: cst.Module) -> bool:
    """`set_peft_model_state_dict(model, sd, ...)` where `sd` is, in the same function,
    `get_peft_model_state_dict(model)` or a dict comprehension over its items that keeps each key
    (`{k: torch.zeros_like(v) for k, v in sd.items()}`), `model` not rebound between: peft's own
    keys for that model, which its loader maps back (trl's EMA teacher adapter)."""
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    if "set_peft_model_state_dict" not in (facts.qualname(call.func, scope) or "") or len(positional) < 2:
        return False
    if _stored_peft_state(facts, positional[1], scope):
        return True
    if not isinstance(positional[0], cst.Name):
        return False
    got = _peft_state_of(facts, positional[1], scope, 0)
    home = _home(scope)
    return got is not None and isinstance(got[1], cst.Name) and got[1].value == positional[0].value \
        and home is not None and not _rebound_between(got[1].value, got[0], call, _body_of(scope, module), home)


def _stored_peft_state(facts: Facts, expr: cst.BaseExpression, scope: Scope) -> bool:
    """`self.X` where every value the class's methods store in `self.X` (None aside) is peft's own
    keys as _peft_state_of finds them in that method: a copy of the adapter's state kept on the
    object and loaded back (trl's EMA teacher adapter, `self.shadow_weights`)."""
    if not (isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self"):
        return False
    cls = _class_scope(scope)
    if cls is None:
        return False
    stores = [st for st in facts.attr_stores if st.attr == expr.attr.value and isinstance(st.obj, cst.Name)
              and st.obj.value == "self" and _class_scope(st.ctx.scope) is cls]
    kept = [st for st in stores if not (isinstance(st.value, cst.Name) and st.value.value == "None")]
    return bool(kept) and all(st.form in ("assign", "annassign") and st.value is not None
                              and _peft_state_of(facts, st.value, st.ctx.scope, 0) is not None for st in kept)


def _class_scope(scope: Scope | None) -> Scope | None:
    """The class scope a method's scope is in (None outside a class)."""
    s = scope
    while s is not None and s.kind != "class":
        s = s.parent
    return s


def _peft_state_of(facts: Facts, expr: cst.BaseExpression, scope: Scope,
                   depth: int) -> tuple[cst.Call, cst.BaseExpression] | None:
    """The `get_peft_model_state_dict(X)` call whose keys `expr` holds unchanged, and X."""
    if isinstance(expr, cst.Call):
        args = [a for a in expr.args if a.keyword is None]
        q = facts.qualname(expr.func, scope) or ""
        ok = q.startswith("peft.") and q.endswith(".get_peft_model_state_dict") and len(args) == 1 \
            and not args[0].star
        return (expr, args[0].value) if ok else None
    if isinstance(expr, cst.DictComp) and isinstance(expr.key, cst.Name) and expr.for_in.inner_for_in is None \
            and not expr.for_in.ifs and isinstance(expr.for_in.target, cst.Tuple) \
            and len(expr.for_in.target.elements) == 2:
        first = expr.for_in.target.elements[0].value
        it = expr.for_in.iter
        if isinstance(first, cst.Name) and first.value == expr.key.value and isinstance(it, cst.Call) \
                and not it.args and isinstance(it.func, cst.Attribute) and it.func.attr.value == "items":
            return _peft_state_of(facts, it.func.value, scope, depth)
        return None
    if isinstance(expr, cst.Name) and depth < 3:
        owner = scope.lookup(expr.value)
        bound = owner.bindings.get(expr.value, []) if owner is not None and owner.kind == "function" else []
        if len(bound) == 1 and bound[0].how == "expr" and not bound[0].index and bound[0].node is not None:
            return _peft_state_of(facts, bound[0].node, bound[0].scope or owner, depth + 1)
    return None


def _assigned(call: cst.Call, stmt: cst.CSTNode | None) -> bool:
    """Whether `call` is (an arm of) the value an assignment statement stores (`out = load(...)`)."""
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is not None
        and any(r is call for r in results(small.value)) for small in stmt.body)


def _statement_of(call: cst.Call, stmt: cst.CSTNode | None) -> bool:
    """Whether `call` is (an arm of) an expression statement of its own: its value dropped."""
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(small, cst.Expr) and any(r is call for r in results(small.value)) for small in stmt.body)


def _load_at(facts: Facts, where, helper: str) -> tuple[str, list[Edge]]:
    """Where a helper's load is, as a finding says it (`line 12` in this file, `utils.py:398` in
    another, with the project edge to it)."""
    if isinstance(where, cst.Call):
        return f"line {facts.positions[where].start.line}", []
    edges = [Edge(shown_path(facts.path), where[1], helper)] if facts.path else []
    return f"{where[1]}:{where[0]}", edges


def strict_arg_loads(facts: Facts) -> dict[int, tuple[cst.Call, str, int | None, bool]]:
    """The top-level functions and methods of top-level classes that run `load_state_dict(...,
    strict=P)` with P one of their parameters (bound nowhere else) and drop the result, a load that
    would be reported with `strict=False` there: id of the def -> (that load, P, P's position as a
    caller passes it, after a method's receiver; None for keyword-only; whether P defaults to
    False). A caller that passes `P=False`, or leaves a False default, drops the keys (litgpt's
    `load_checkpoint(..., strict=False)`, coqui-tts's `self.load_checkpoint(config, path, strict=False)`)."""
    tops = {id(s): s for s in facts.module.body if isinstance(s, cst.FunctionDef)}
    methods = {id(m): m for s in facts.module.body if isinstance(s, cst.ClassDef)
               for m in s.body.body if isinstance(m, cst.FunctionDef)}
    tops.update(methods)
    out: dict[int, tuple[cst.Call, str, int | None, bool]] = {}
    for mc in facts.method_calls:
        home = _home(mc.ctx.scope)
        if mc.method != "load_state_dict" or home is None or home.kind != "function" \
                or id(home.node) not in tops or id(home.node) in out:
            continue
        param = _strict_name(mc.call)
        if param is None or home.lookup(param) is not home \
                or [b.how for b in home.bindings[param]] != ["param"]:
            continue
        stmt = mc.ctx.stmt
        dropped = isinstance(stmt, cst.SimpleStatementLine) and any(
            isinstance(small, cst.Expr) and any(r is mc.call for r in results(small.value)) for small in stmt.body)
        if not dropped and not unread_result(mc.call, stmt, home.node):
            continue
        if _exempt(facts, mc.call, home.node, home, mc.ctx.scope):
            continue
        func = tops[id(home.node)]
        out[id(home.node)] = _strict_entry(func, id(func) in methods, mc.call, param)
    return out


def _strict_entry(func: cst.FunctionDef, method: bool, load: cst.Call, param: str
                  ) -> tuple[cst.Call, str, int | None, bool]:
    """strict_arg_loads' record of `func`'s `load`: the parameter, its place as a caller passes it
    (after a method's receiver; None for keyword-only), whether it defaults to False."""
    params = [p.name.value for p in (*func.params.posonly_params, *func.params.params)]
    if method and not _static(func):
        params = params[1:]  # `self` (or `cls`): bound, not passed
    return load, param, params.index(param) if param in params else None, _defaults_false(func, param)


def returned_strict_loads(facts: Facts) -> dict[int, tuple[cst.Call, str, int | None, bool]]:
    """As strict_arg_loads, for the functions and methods that hand the result back unread on every
    `return` (`def load(self, sd, strict=False): return self.load_state_dict(sd, strict=strict)`):
    the keys are the caller's, reported where it drops them (summaries record them for other files)"""
    tops: dict[int, tuple[cst.FunctionDef, bool]] = {}
    for stmt in facts.module.body:
        body = stmt.body.body if isinstance(stmt, cst.ClassDef) else (stmt,)
        tops.update((id(d), (d, d is not stmt)) for d in body if isinstance(d, cst.FunctionDef))
    by_func: dict[int, list[MethodCall]] = {}
    for mc in facts.method_calls:
        home = _home(mc.ctx.scope)
        param = _strict_name(mc.call) if mc.method == "load_state_dict" else None
        if param is not None and home is not None and home.kind == "function" and id(home.node) in tops \
                and home.lookup(param) is home and [b.how for b in home.bindings[param]] == ["param"]:
            by_func.setdefault(id(home.node), []).append(mc)
    out = {}
    for key, mcs in by_func.items():
        func, method = tops[key]
        load = _returned_load(facts, func, mcs)
        param = _strict_name(load) if load is not None else None
        if param is not None:
            out[key] = _strict_entry(func, method, load, param)
    return out


def _defaults_false(func: cst.FunctionDef, name: str) -> bool:
    """Whether parameter `name` of `func` has the default `False` (`def load(self, path, strict=False)`)."""
    p = func.params
    param = next((q for q in (*p.posonly_params, *p.params, *p.kwonly_params) if q.name.value == name), None)
    return param is not None and isinstance(param.default, cst.Name) and param.default.value == "False"


def _left_false(call: cst.Call, param: str, index: int | None, off: bool) -> str | None:
    """How a call leaves a helper's `strict` parameter False, as a finding says it; None where it
    does not (passes True, or something not known, or a `**kwargs` that may pass it)."""
    given = _given(call, param, index)
    if given is None and off and not any(a.star == "**" for a in call.args):
        return f"`{src(call.func)}(...)` runs `load_state_dict(..., strict={param})` with `{param}` left at " \
               f"its default, False,"
    if isinstance(given, cst.Name) and given.value == "False":
        return f"`{src(call.func)}(..., {param}=False)` runs `load_state_dict(..., strict={param})`"
    return None


def _may_load_non_strict(call: cst.Call, stmt: cst.CSTNode | None) -> bool:
    """A call that passes a literal False, or a statement of its own (`self.load(path)`) that might
    leave a helper's False default: only those are followed to their helper."""
    if any(isinstance(a.value, cst.Name) and a.value.value == "False" for a in call.args):
        return True
    return _statement_of(call, stmt)


_BY_STAR = object()  # _given: a `*args` before the parameter's place may pass it


def _given(call: cst.Call, param: str, index: int | None) -> cst.BaseExpression | object | None:
    """What a call passes as a helper's parameter `param` (at `index` among plain positional
    arguments): None where it passes nothing, _BY_STAR where a `*args` may."""
    given = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == param), None)
    if given is not None:
        return given
    positional = [a for a in call.args if a.keyword is None]
    if index is not None and any(a.star for a in positional[:index + 1]):
        return _BY_STAR
    if index is not None and index < len(positional):
        return positional[index].value
    return None


def _static(func: cst.FunctionDef) -> bool:
    """A `@staticmethod`: called through self, it is given no receiver."""
    return any(isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod" for d in func.decorators)


def _strict_name(call: cst.Call) -> str | None:
    """P of `load_state_dict(sd, strict=P)` (or `load_state_dict(sd, P)`), a plain name."""
    for a in call.args:
        if a.keyword is not None and a.keyword.value == "strict":
            return a.value.value if isinstance(a.value, cst.Name) and a.value.value not in ("True", "False") else None
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if len(positional) >= 2 and isinstance(positional[1].value, cst.Name) \
            and positional[1].value.value not in ("True", "False"):
        return positional[1].value.value
    return None


StrictLoad = tuple[cst.Call | tuple[int, str], str, int | None, bool]


def _strict_helper(facts: Facts, call: cst.Call, ctx: Ctx, loads: dict[int, tuple[cst.Call, str, int | None, bool]],
                   handed: bool = False) -> StrictLoad | None:
    """The load a called helper runs with its parameter as `strict` and drops (strict_arg_loads): a
    function of the file, or one imported from another project file, or the method `self.method`
    runs (of the class or of its bases, here or in another project file); the load (a node here, or
    `(line, path)`), the parameter, its position and whether it defaults to False. With `handed`, a
    helper that returns the result instead (`loads` from returned_strict_loads; of another file, a
    summary's "strict_arg" marked so)."""
    func = call.func
    if isinstance(func, cst.Name):
        d = facts.resolve_def(func, ctx.scope)
        if d is not None:
            return loads[id(d)] if id(d) in loads else None
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
        info = _self_class(ctx)
        found = _strict_method(facts, info, func.attr.value, loads, set(), handed) if info is not None else None
        return found if isinstance(found, tuple) else None
    project = facts.project if facts.path else None
    if project is None or not isinstance(func, (cst.Name, cst.Attribute)):
        return None
    q = facts.qualname(func, ctx.scope)
    if not q or is_library(q) or hasattr(builtins, q):
        return None
    found = project.strict_load(facts.path, q)
    return ((found[0], found[1]), found[2], found[3], found[4]) if found is not None and found[5] == handed else None


def _strict_method(facts: Facts, info: ClassInfo, method: str, loads: dict, seen: set[int],
                   handed: bool = False) -> StrictLoad | str | None:
    """strict_arg_loads' load of the def `self.method(...)` runs: the class's own, or that of the
    first of its bases that defines it, in order, of this file or (Project.strict_method_load) of
    another project file; ABSENT where none does; None where that cannot be told or `self.method`
    is an attribute (`self.load = ...`)."""
    if id(info) in seen or method in info.attrs:
        return None
    seen.add(id(info))
    defined = [s for s in info.node.body.body if isinstance(s, cst.FunctionDef) and s.name.value == method]
    if defined:
        return loads.get(id(defined[-1]))
    for base in info.node.bases:
        if base.keyword is not None:
            continue
        local = facts.classes.get(base.value.value) if isinstance(base.value, cst.Name) else None
        if local is not None and local is not info:
            found = _strict_method(facts, local, method, loads, seen, handed)
        else:
            q = facts.qualname(base.value, facts.module_scope)
            if q and (is_library(q) or hasattr(builtins, q)):
                continue  # `nn.Module`, `object`: no project helper of this name
            if not q or facts.project is None or not facts.path:
                return None
            found = facts.project.strict_method_load(facts.path, q, method)
            if isinstance(found, tuple):  # the base's load, where it drops the keys or (`handed`) returns them
                found = ((found[0], found[1]), found[2], found[3], found[4]) if found[5] == handed else None
        if found != ABSENT:
            return found
    return ABSENT


def _self_class(ctx: Ctx) -> ClassInfo | None:
    """The class of the method a call is in, where that method's first parameter is `self`."""
    home = _home(ctx.scope)
    info = home.cls if home is not None and home.is_method and home.parent is not None \
        and home.parent.kind == "class" else None
    params = home.node.params.params if info is not None else ()
    return info if params and params[0].name.value == "self" else None


def returned_loads(facts: Facts) -> dict[int, cst.Call]:
    """The top-level functions and methods of top-level classes whose every `return` with a value
    gives the result of a `load_state_dict(..., strict=False)` of theirs, directly or through one
    local name bound once and read nowhere else, a load that would be reported were its result
    dropped there: id of the def -> that load (the first, where several are returned). A caller
    that drops what such a helper returns drops the missing and unexpected keys."""
    tops: dict[int, cst.FunctionDef] = {}
    for stmt in facts.module.body:
        body = stmt.body.body if isinstance(stmt, cst.ClassDef) else (stmt,)
        tops.update((id(d), d) for d in body if isinstance(d, cst.FunctionDef))
    by_func: dict[int, list[MethodCall]] = {}
    for mc in facts.method_calls:
        if mc.method != "load_state_dict" or not _strict_false(mc.call):
            continue
        home = _home(mc.ctx.scope)
        if home is not None and home.kind == "function" and id(home.node) in tops:
            by_func.setdefault(id(home.node), []).append(mc)
    out = {}
    for key, mcs in by_func.items():
        load = _returned_load(facts, tops[key], mcs)
        if load is not None:
            out[key] = load
    return out


def _returned_load(facts: Facts, func: cst.FunctionDef, mcs: list[MethodCall]) -> cst.Call | None:
    """The load `func` hands back unread on every `return` that gives a value, else None."""
    given = [v for v in facts.extracted.returns.get(id(func), []) if v is not None]
    home = _home(mcs[0].ctx.scope)
    if not given or home is None:
        return None
    direct = {id(mc.call): mc for mc in mcs}
    named = {name: mc for mc in mcs if (name := _bound_to_loads(mc, home, direct)) is not None}
    returned: list[MethodCall] = []
    for value in given:
        mc = direct.get(id(value)) or (named.get(value.value) if isinstance(value, cst.Name) else None)
        if mc is None:
            return None  # something else on some path: not only the keys
        returned.append(mc)
    carriers = {name for name, mc in named.items() if mc in returned}
    if carriers and names_read(carriers, func, besides=given):
        return None  # logged, checked or handed on before the return: the helper looked at them
    body = home.node if home.node is not None else facts.module
    for mc in returned:
        call = mc.call
        if not _exempt(facts, call, body, home, mc.ctx.scope):
            return call
    return None


def _bound_to_loads(mc: MethodCall, home: Scope, loads: dict[int, MethodCall]) -> str | None:
    """`msg = self.load_state_dict(sd, strict=False)`: the one local name the load's result is
    bound to, where every binding of that name in the function is such a load (peft's
    `load_result = model.load_state_dict(...)` in both arms of an `if`)."""
    stmt = mc.ctx.stmt
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    small = stmt.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and small.value is mc.call:
        target = small.targets[0].target
    elif isinstance(small, cst.AnnAssign) and small.value is mc.call:
        target = small.target
    else:
        return None
    if not isinstance(target, cst.Name) or home.lookup(target.value) is not home:
        return None
    bound = home.bindings.get(target.value, [])
    if not all(b.how == "expr" and not b.index and b.node is not None and id(b.node) in loads for b in bound):
        return None  # `msg = None` first, a loop's target, a parameter: not only the keys
    return target.value


def _helper_load(facts: Facts, call: cst.Call, ctx: Ctx,
                 loads: dict[int, cst.Call]) -> tuple[str, cst.Call | tuple[int, str]] | None:
    """The helper a call of a statement of its own runs, when it returns an unread `strict=False`
    load: its name and the load (a node of this file, or `(line, path)` of another's). A plain or
    dotted name is followed to its def here or, through the imports, in another project file;
    `self.method(...)` in a method, through the class and its bases (here and in other files)."""
    func = call.func
    project = facts.project if facts.path else None
    if isinstance(func, cst.Name):
        d = facts.resolve_def(func, ctx.scope)
        if d is not None:
            return (func.value, loads[id(d)]) if id(d) in loads else None
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
        home = _home(ctx.scope)
        info = home.cls if home is not None and home.is_method and home.parent is not None \
            and home.parent.kind == "class" else None
        first = home.node.params.params[0].name.value if info is not None and home.node.params.params else None
        if info is None or first != "self" or func.attr.value in info.attrs:
            return None
        found = _method_load(facts, info, func.attr.value, loads, set())
        if found == ABSENT:  # defined by no class up the chain: the subclasses' overrides run
            found = _subclass_load(facts, info, func.attr.value, loads)
            if found is None and project is not None and func.attr.value not in _MODULE_OWN \
                    and any(s is info.node for s in facts.module.body):  # (nn.Module's run: no file scan)
                found = project.subclass_load(facts.path, info.node.name.value, func.attr.value)
        return (func.attr.value, found) if isinstance(found, (tuple, cst.Call)) else None
    if project is None or not isinstance(func, (cst.Name, cst.Attribute)):
        return None
    q = facts.qualname(func, ctx.scope)
    found = project.partial_load(facts.path, q) if q and not is_library(q) and not hasattr(builtins, q) else None
    return (src(func).rsplit(".", 1)[-1], found) if isinstance(found, tuple) else None


# nn.Module's methods: a base class's `self.apply(fn)` runs torch's, not a subclass's (no scan of the project)
_MODULE_OWN = MODULE_METHODS | frozenset({
    "apply", "compile", "get_buffer", "get_extra_state", "set_extra_state", "set_submodule", "register_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_state_dict_post_hook", "register_state_dict_pre_hook",
})


def _subclass_load(facts: Facts, info: ClassInfo, method: str, loads: dict[int, cst.Call]) -> cst.Call | None:
    """The unread load a subclass of this file returns from its `method`, where the class calling
    `self.method(...)` and its bases define none (LAVIS's `BaseModel.load_checkpoint_from_config`
    calling `self.load_from_pretrained(...)`, which only subclasses define): for that subclass, the
    call drops the keys. Those of other files: Project.subclass_load."""
    below = {id(info)}
    changed = True
    while changed:  # subclasses of subclasses, by the names of this file's classes
        changed = False
        for other in facts.classes.values():
            if id(other) not in below and any(
                    b.keyword is None and isinstance(b.value, cst.Name) and b.value.value in facts.classes
                    and id(facts.classes[b.value.value]) in below for b in other.node.bases):
                below.add(id(other))
                changed = True
    for other in facts.classes.values():
        if id(other) == id(info) or id(other) not in below:
            continue
        defined = [s for s in other.node.body.body if isinstance(s, cst.FunctionDef) and s.name.value == method]
        if defined and id(defined[-1]) in loads:
            return loads[id(defined[-1])]
    return None


def _method_load(facts: Facts, info: ClassInfo, method: str, loads: dict[int, cst.Call],
                 seen: set[int]) -> cst.Call | tuple[int, str] | str | None:
    """The load `method` of a class of this file (or of the first of its bases that defines it, in
    order, here or in another project file) returns unread; ABSENT where none defines it; None where
    the one that does returns anything else, or a base is not known."""
    if id(info) in seen:
        return None
    seen.add(id(info))
    defined = [s for s in info.node.body.body if isinstance(s, cst.FunctionDef) and s.name.value == method]
    if defined:
        return loads.get(id(defined[-1]))
    if any(isinstance(s, cst.SimpleStatementLine) and method in {t.target.value for a in s.body
           if isinstance(a, (cst.Assign,)) for t in a.targets if isinstance(t.target, cst.Name)}
           for s in info.node.body.body):
        return None  # `load = other_function` in the class body
    for base in info.node.bases:
        if base.keyword is not None:
            continue
        value = base.value
        local = facts.classes.get(value.value) if isinstance(value, cst.Name) else None
        if local is not None and local is not info:
            found = _method_load(facts, local, method, loads, seen)
        else:
            q = facts.qualname(value, facts.module_scope)
            if q and (is_library(q) or hasattr(builtins, q)):
                continue  # `nn.Module`, `object`: no project helper of this name
            if not q or facts.project is None or not facts.path:
                return None
            found = facts.project.partial_load(facts.path, q, method)
        if found != ABSENT:
            return found
    return ABSENT


def _advice(names: list[str], missing_only: bool = False) -> str:
    """What to check, in the names the code already chose (`_` is not one to read); `missing_only`
    where no key can be unexpected."""
    if any(n.startswith("_") for n in names) or len(names) > 2:
        names = []
    if missing_only:
        return f"check `{names[0]}.missing_keys`" if len(names) == 1 else \
            f"check `{names[0]}` (the missing keys)" if names else "keep the result and check `missing_keys`"
    if len(names) == 1:
        return f"check `{names[0]}.missing_keys` / `{names[0]}.unexpected_keys`"
    if len(names) == 2:
        return f"check `{names[0]}` / `{names[1]}` (missing / unexpected keys)"
    return "keep the result and check `missing_keys` / `unexpected_keys`"


def _unread(facts: Facts, names: list[str], stmt: cst.CSTNode | None, body: cst.CSTNode) -> str:
    """How the result went unread: discarded, never read, or bound again before any read."""
    if not names:
        return "is discarded"
    again = _again(facts, names, stmt, body)
    return f"is assigned to {_shown_names(names)}, {again}" if again else f"is assigned to `{', '.join(names)}` and never read"


def _goes_to(facts: Facts, names: list[str], stmt: cst.CSTNode | None, body: cst.CSTNode) -> str:
    """The same for a helper's or library loader's result, said after what the call returns."""
    if not names:
        return "this call drops them"
    again = _again(facts, names, stmt, body)
    return f"its result goes to {_shown_names(names)}, {again}" if again else \
        f"its result goes to `{', '.join(names)}`, never read"


def _shown_names(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _again(facts: Facts, names: list[str], stmt: cst.CSTNode | None, body: cst.CSTNode) -> str:
    """'which line N assigns again before anything reads it' where the names are read only after a
    statement binds them again; '' where they are never read at all."""
    again = rebound_before_read(names, stmt, body) if names_read(set(names), body) else None
    if again is None or again not in facts.positions:
        return ""
    return f"which line {facts.positions[again].start.line} assigns again before anything reads " \
        f"{'it' if len(names) == 1 else 'them'}"


def _loads(facts: Facts, module: cst.Module) -> Iterable[tuple[cst.Call, Ctx, list[str]]]:
    """`load_state_dict(..., strict=False)` calls whose result is dropped: a statement of its own
    (no names), or assigned to names the function (or module) never reads (those names). Names of
    a class body are its attributes: read from anywhere."""
    for es in facts.expr_statements:
        for call in results(es.stmt.value):
            if _partial_load(call):
                yield call, es.ctx, []  # type: ignore[misc]
    for mc in facts.method_calls:
        if mc.method != "load_state_dict" or mc.ctx.scope.kind not in ("function", "module") \
                or not _strict_false(mc.call):
            continue
        names = unread_result(mc.call, mc.ctx.stmt, _body_of(mc.ctx.scope, module))
        if names:
            yield mc.call, mc.ctx, names


def _partial_load(call: cst.BaseExpression) -> bool:
    return (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
            and call.func.attr.value == "load_state_dict" and _strict_false(call))


def _optimizer(facts: Facts, recv: cst.BaseExpression, scope: Scope) -> bool:
    """An optimizer or LR scheduler of torch's (every binding of the name builds one, or is None):
    its load_state_dict has no keys to report (and no `strict`)."""
    if not isinstance(recv, cst.Name):
        return False
    owner = scope.lookup(recv.value)
    bound = owner.bindings.get(recv.value, []) if owner is not None else []
    built = [b for b in bound if not (isinstance(b.node, cst.Name) and b.node.value == "None")]  # `x = None` first
    return bool(built) and all(
        b.how == "expr" and isinstance(b.node, cst.Call)
        and (facts.qualname(b.node.func, b.scope or owner) or "").startswith("torch.optim.") for b in built)


def _home(scope: Scope) -> Scope | None:
    """The function (or module) scope whose statements run before the load."""
    s: Scope | None = scope
    while s is not None and s.kind not in ("function", "module"):
        s = s.parent
    return s


def _body_of(scope: Scope, module: cst.Module) -> cst.CSTNode:
    s = _home(scope)
    return s.node if s is not None and s.node is not None else module


def _exempt(facts: Facts, load: cst.Call, body: cst.CSTNode, home: Scope | None, scope: Scope) -> bool:
    """What makes a dropped `strict=False` load's result no loss (the rule's notes say which)."""
    return _checked_first(load, body, home) or _counted_after(load, body, home) \
        or _optimizer(facts, load.func.value, scope) or _sibling_copy(facts, load, body, home) \
        or _sibling_stored(facts, load, body, home) or _class_copy(facts, load, body, home) \
        or _same_submodule(facts, load, body, home) or _own_keys(facts, load, body, home) \
        or _tensor_collection(facts, load, body, scope) or _lacking_reported(load, body) \
        or _overlap_asserted(facts, load, body, home) or _strict_tried_first(load, body) \
        or _guarded_own_filter(load, body)


def _guarded_own_filter(load: cst.Call, body: cst.CSTNode) -> bool:
    """The loaded dict keeps only keys of the receiver's own `state_dict()` (`{k: v for k, v in
    sd.items() if k in own}`, `own = receiver.state_dict()`; also built by a function of the function
    handed the receiver, funasr's `compatible_state(self.ctc, "ctc.")`), and the load runs only under
    `if kept:` (or `if len(kept)`): every entry is a key of the receiver, and at least one loads."""
    first = load.args[0].value if load.args and load.args[0].keyword is None else None
    if not isinstance(first, cst.Name):
        return False
    path = _path(body, load) or []
    if not any(isinstance(n, cst.If) and _non_empty(n.test, first.value) and n.body in path for n in path):
        return False
    values = _bound_values(body).get(first.value, [])
    if len(values) != 1:
        return False
    value, receiver = values[0], src(load.func.value)  # type: ignore[attr-defined]
    if isinstance(value, cst.DictComp):
        return _own_filter(value, receiver, _bound_values(body))
    if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Name)):
        return False
    helpers = [n for n in traverse.walk(body) if isinstance(n, cst.FunctionDef) and n.name.value == value.func.value]
    if len(helpers) != 1:
        return False
    given = {k: src(v) for k, v in _params_given(value, helpers[0]).items()}
    own = {k for k, v in given.items() if v == receiver}
    returns = [n.value for n in traverse.walk(helpers[0].body) if isinstance(n, cst.Return)]
    bound = _bound_values(helpers[0])
    return bool(own and returns) and all(
        isinstance(r, cst.DictComp) and any(_own_filter(r, o, bound) for o in own) for r in returns)


def _indexes_own(load: cst.Call, body: cst.CSTNode) -> str | None:
    """The loaded dict is a comprehension whose filter indexes the receiver's own state dict by the key
    (`{k: v for k, v in sd.items() if model.state_dict()[k].numel() == v.numel()}`, or `own[k]` with
    `own = model.state_dict()`): a key of no match raises there. That index, as the code writes it."""
    first = load.args[0].value if load.args and load.args[0].keyword is None else None
    values = _bound_values(body)
    comp = values.get(first.value, []) if isinstance(first, cst.Name) else []
    if len(comp) != 1 or not isinstance(comp[0], cst.DictComp) or not isinstance(comp[0].key, cst.Name):
        return None
    comp, receiver = comp[0], src(load.func.value)  # type: ignore[attr-defined]
    own = f"{receiver}.state_dict()"
    tests = [c.test for c in comp.for_in.ifs]
    if any(isinstance(n, cst.ComparisonTarget) and isinstance(n.operator, (cst.In, cst.NotIn))
           for t in tests for n in traverse.walk(t)):
        return None  # `k in own and own[k].shape == v.shape`: tested first, no key raises
    for test in tests:
        for n in traverse.walk(test):
            if not (isinstance(n, cst.Subscript) and len(n.slice) == 1 and isinstance(n.slice[0].slice, cst.Index)
                    and src(n.slice[0].slice.value) == comp.key.value):
                continue
            held = values.get(n.value.value, []) if isinstance(n.value, cst.Name) else [n.value]
            if held and all(src(h) == own for h in held):
                return src(n)
    return None


def _non_empty(test: cst.BaseExpression, name: str) -> bool:
    """`if kept:`, `if len(kept):`, `if len(kept) > 0:`."""
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 \
            and isinstance(test.comparisons[0].operator, cst.GreaterThan) and src(test.comparisons[0].comparator) == "0":
        test = test.left
    if isinstance(test, cst.Call) and isinstance(test.func, cst.Name) and test.func.value == "len" \
            and len(test.args) == 1:
        test = test.args[0].value
    return isinstance(test, cst.Name) and test.value == name


def _own_filter(comp: cst.DictComp, receiver: str, values: dict[str, list[cst.BaseExpression]]) -> bool:
    """`comp` keeps, under the key it tests, only keys of `receiver.state_dict()` (the dict itself, its
    `.keys()`, or a name bound only to one of those)."""
    test = key_filter(comp)
    if test is None or src(test.left) != src(comp.key):
        return False
    owns = {f"{receiver}.state_dict()", f"{receiver}.state_dict().keys()"}
    for c in test.comparisons:
        if not isinstance(c.operator, cst.In):
            continue
        held = [c.comparator]
        if isinstance(c.comparator, cst.Name):
            held = values.get(c.comparator.value, [])
        if held and all(src(h) in owns for h in held):
            return True
    return False


def _strict_tried_first(load: cst.Call, body: cst.CSTNode) -> bool:
    """The load is the fallback of a strict one: it sits in an `except` handler that reports (prints
    the error, which lists the missing and unexpected keys, or warns of a mismatch), and the `try`
    loads the same dict into the same receiver strictly (LAVIS's runner, modelscope's extractors):
    a prefix mismatch fails the strict load first, and the handler says so."""
    path = _path(body, load) or []
    receiver, first = src(load.func.value), src(load.args[0].value) if load.args else None  # type: ignore[attr-defined]
    for parent, handler in zip(path, path[1:]):
        if not (isinstance(parent, cst.Try) and isinstance(handler, cst.ExceptHandler)):
            continue
        strict = any(isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)
                     and n.func.attr.value == "load_state_dict" and src(n.func.value) == receiver
                     and n.args and src(n.args[0].value) == first and not _strict_false(n)
                     and all(a.keyword is None or a.keyword.value != "strict" or src(a.value) == "True" for a in n.args)
                     for n in traverse.walk(parent.body))
        reports = any(isinstance(n, cst.Call) and _report_name(n) in REPORTS for n in traverse.walk(handler.body))
        if strict and reports:
            return True
    return False


def _tensor_collection(facts: Facts, load: cst.Call, body: cst.CSTNode, scope: Scope) -> bool:
    """The receiver is a TensorDict, as an enclosing `if is_tensor_collection(r):` or
    `if isinstance(r, TensorDict...):` tests: its load_state_dict returns the TensorDict itself,
    no keys to check (torchrl's replay-buffer storages)."""
    receiver = src(load.func.value)
    for node in traverse.walk(body):
        if not isinstance(node, cst.If) or not isinstance(node.test, cst.Call) or not node.test.args:
            continue
        name = (facts.qualname(node.test.func, scope) or src(node.test.func)).rsplit(".", 1)[-1]
        args = node.test.args
        tested = src(args[0].value) == receiver and (
            name == "is_tensor_collection" or name == "isinstance" and len(args) == 2
            and "TensorDict" in src(args[1].value))
        if tested and any(n is load for n in traverse.walk(node.body)):
            return True
    return False


def _checked_first(load: cst.Call, body: cst.CSTNode, home: Scope | None) -> bool:
    """Before the load, the code checked the keys itself: a call that takes the model (or its
    `state_dict()`) and the loaded dict together (`check_keys(model, pretrained)`), or a comparison
    of keys (a membership test over a key, a set difference of keys) and a raise or report."""
    if _literal_keys(load.args[0].value if load.args else None, load, body, home):
        return True
    visitor = _BeforeLoad(load, body)
    traverse.visit(body, visitor)
    if visitor.loaded_value is not None and (_literal_keys(visitor.loaded_value, load, body, home)
                                             or _stored_literal(visitor.loaded, visitor.loaded_value, load, body)):
        return True
    if key_filter(visitor.loaded_value) and read_before(visitor.loaded, load, body, since=visitor.loaded_value):
        return True  # filtered on the model's keys, then a key of it read: an empty one raised
    return visitor.paired_call or (visitor.key_comparison and visitor.reports)


def _pairs(body: cst.CSTNode) -> dict[str, list[cst.BaseExpression]]:
    """Each name the function binds -> its values, a tuple assigned to a tuple of names taken element
    by element (`src, dst = sd, model.state_dict()`: `src` is `sd`, not the model's dict)."""
    values: dict[str, list[cst.BaseExpression]] = {}
    for node in traverse.walk(body):
        targets = node.targets if isinstance(node, cst.Assign) else ()
        for t in targets:
            pairs = [(t.target, node.value)]  # type: ignore[attr-defined]
            if isinstance(t.target, (cst.Tuple, cst.List)) and isinstance(node.value, (cst.Tuple, cst.List)) \
                    and len(t.target.elements) == len(node.value.elements):  # type: ignore[attr-defined]
                pairs = [(a.value, b.value) for a, b in zip(t.target.elements, node.value.elements)]  # type: ignore
            for target, value in pairs:
                if isinstance(target, cst.Name):
                    values.setdefault(target.value, []).append(value)
    return values


def _reaches(expr: cst.BaseExpression, paths: set[str], values: dict[str, list[cst.BaseExpression]]) -> bool:
    """`expr` names one of `paths` (`model`, `self.net`), directly or through the values of the names it reads."""
    seen: set[str] = set()
    todo = [expr]
    while todo:
        for node in _named_nodes(todo.pop()):
            if dotted(node) in paths:  # type: ignore[arg-type]
                return True
            if isinstance(node, cst.Name) and node.value not in seen:
                seen.add(node.value)
                todo.extend(values.get(node.value, ()))
    return False


def _lacking(expr: cst.BaseExpression, model: set[str], loaded: set[str],
             values: dict[str, list[cst.BaseExpression]]) -> bool:
    """The model's keys the loaded dict lacks: `set(own) - set(sd)`, `own.keys() - sd.keys()`,
    `own.difference(sd)`, `[k for k in own if k not in sd]`, `own` reaching the model and `sd` the
    loaded dict. Every key of the model when nothing matched."""
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Subtract):
        return _reaches(expr.left, model, values) and _reaches(expr.right, loaded, values)
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "difference" \
            and expr.args:
        return _reaches(expr.func.value, model, values) and any(_reaches(a.value, loaded, values) for a in expr.args)
    if isinstance(expr, (cst.ListComp, cst.SetComp, cst.GeneratorExp)) and expr.for_in.inner_for_in is None:
        key = loop_key(expr.for_in.target)
        return key is not None and _reaches(expr.for_in.iter, model, values) and any(
            isinstance(cond.test, cst.Comparison) and isinstance(cond.test.left, cst.Name)
            and cond.test.left.value == key and any(
                isinstance(c.operator, cst.NotIn) and _reaches(c.comparator, loaded, values)
                for c in cond.test.comparisons)
            for cond in expr.for_in.ifs)
    return False


def _lacking_reported(load: cst.Call, body: cst.CSTNode) -> bool:
    """In the function, before or after the load, the keys of the receiver that the loaded dict lacks
    are computed (see _lacking) and raised, asserted on or logged (funasr's `missing = set(expected) -
    set(sub)` then `if missing: raise`, modelscope's `missing = [k for k in dst if k not in src]` then
    `if missing: print(...)`): when no key matches, every key shows. A log of the loaded dict alone
    (`print(sd.keys())`) is not one: it shows the checkpoint's keys, not whether they match."""
    receiver = load.func.value  # type: ignore[attr-defined]
    first = load.args[0].value if load.args and load.args[0].keyword is None else None
    model, loaded = dotted(receiver), dotted(first) if first is not None else None
    if model is None or loaded is None:
        return False
    values = _pairs(body)
    lacking: set[str] = set()
    for node in traverse.walk(body):
        if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name) \
                and any(_lacking(n, {model}, {loaded}, values) for n in _outer(node.value)):  # type: ignore[arg-type]
            lacking.add(node.targets[0].target.value)

    def shown(expr: cst.CSTNode) -> bool:
        return any(isinstance(n, cst.Name) and n.value in lacking
                   or isinstance(n, cst.BaseExpression) and _lacking(n, {model}, {loaded}, values)
                   for n in traverse.walk(expr))
    for node in traverse.walk(body):
        if isinstance(node, cst.Call) and _report_name(node) in REPORTS and any(shown(a.value) for a in node.args) \
                or isinstance(node, cst.Raise) and node.exc is not None and shown(node.exc) \
                or isinstance(node, cst.Assert) and shown(node.test) \
                or isinstance(node, cst.If) and shown(node.test) and _reports_in(node.body):
            return True
    return False


def _outer(expr: cst.BaseExpression) -> list[cst.BaseExpression]:
    """`expr`, or what a `sorted(...)` / `list(...)` / `set(...)` around it holds."""
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) \
            and expr.func.value in ("sorted", "list", "set", "tuple") and len(expr.args) == 1:
        return [expr, expr.args[0].value]
    return [expr]


def _report_name(call: cst.Call) -> str:
    f = call.func
    return f.attr.value if isinstance(f, cst.Attribute) else f.value if isinstance(f, cst.Name) else ""


def _reports_in(node: cst.CSTNode) -> bool:
    return any(isinstance(n, (cst.Raise, cst.Assert)) or isinstance(n, cst.Call) and _report_name(n) in REPORTS
               for n in traverse.walk(node))


def _overlap_asserted(facts: Facts, load: cst.Call, body: cst.CSTNode, home: Scope | None) -> bool:
    """On every path to the load, a helper of the file or a `self.` method whose name says it checks
    was handed the loaded dict (modelscope retinaface's `self.check_keys(pretrained)`) and raises or
    asserts on the keys the dict shares with, or lacks from, the receiver's (`used =
    set(self.net.state_dict()) & set(pretrained)`, then `assert len(used) > 0`), the dict not bound
    again between: no key matching raised there."""
    first = load.args[0].value if load.args and load.args[0].keyword is None else None
    receiver = dotted(load.func.value)  # type: ignore[attr-defined]
    path = _path(body, load)
    if home is None or not isinstance(first, cst.Name) or receiver is None or path is None:
        return False
    before = _run_before(path)
    for i, stmt in enumerate(before):
        rebound = any(isinstance(n, cst.AssignTarget) and _binds(n.target, first.value)
                      for later in before[i + 1:] for n in traverse.walk(later))
        if rebound or not isinstance(stmt, (cst.SimpleStatementLine, cst.BaseExpression)):
            continue  # a compound statement may skip the check (`if flag: self.check_keys(sd)`)
        for call in (n for n in traverse.walk(stmt) if isinstance(n, cst.Call)):
            func = _helper_def(facts, call.func, home) if _CHECKS.search(_report_name(call)) else None
            params = _params_given(call, func) if func is not None else {}
            loaded = {p for p, arg in params.items() if src(arg) == first.value}
            model = {receiver.replace(src(arg), p, 1) for p, arg in params.items()
                     if receiver == src(arg) or receiver.startswith(src(arg) + ".")}
            if isinstance(call.func, cst.Attribute) and src(call.func.value) == "self" \
                    and receiver.startswith("self."):
                model.add(receiver)
            if func is not None and loaded and model and _asserts_overlap(func, model, loaded):
                return True
    return False


def _binds(target: cst.BaseExpression, name: str) -> bool:
    return any(isinstance(n, cst.Name) and n.value == name for n in traverse.walk(target))


def _params_given(call: cst.Call, func: cst.FunctionDef) -> dict[str, cst.BaseExpression]:
    """The parameters of `func` the call's plain arguments bind (a method's `self` skipped where called
    on an object), by position or keyword."""
    params = [p.name.value for p in func.params.params]
    if isinstance(call.func, cst.Attribute) and params and params[0] in ("self", "cls"):
        params = params[1:]
    given: dict[str, cst.BaseExpression] = {}
    for i, a in enumerate(call.args):
        if a.star:
            return {}
        if a.keyword is not None:
            given[a.keyword.value] = a.value
        elif i < len(params):
            given[params[i]] = a.value
    return given


def _asserts_overlap(func: cst.FunctionDef, model: set[str], loaded: set[str]) -> bool:
    """`func` asserts, or raises under a test, on the keys shared (`&`, `intersection`) by or lacking
    from (see _lacking) its `model` and `loaded` parameters' key sets."""
    values = _pairs(func.body)

    def overlap(expr: cst.BaseExpression) -> bool:
        todo, seen = [expr], set()
        while todo:
            for n in traverse.walk(todo.pop()):
                if isinstance(n, cst.BinaryOperation) and isinstance(n.operator, cst.BitAnd) and (
                        _reaches(n.left, model, values) and _reaches(n.right, loaded, values)
                        or _reaches(n.left, loaded, values) and _reaches(n.right, model, values)) \
                        or isinstance(n, cst.BaseExpression) and _lacking(n, model, loaded, values):
                    return True
                if isinstance(n, cst.Name) and n.value not in seen:
                    seen.add(n.value)
                    todo.extend(values.get(n.value, ()))
        return False
    for node in traverse.walk(func.body):
        if isinstance(node, cst.Assert) and overlap(node.test) or isinstance(node, cst.If) and overlap(node.test) \
                and any(isinstance(n, cst.Raise) for n in traverse.walk(node.body)):
            return True
    return False


def _counted_after(load: cst.Call, body: cst.CSTNode, home: Scope | None) -> bool:
    """After the load, a report of how many entries the loaded dict kept (YOLOv5's
    `LOGGER.info(f'Transferred {len(csd)}/{len(model.state_dict())} items')`), or of a name bound
    once to a value of that count (`n = len(csd) + remapped`, then perhaps `n += 1`, ultralytics'):
    an empty one says so."""
    first = load.args[0].value if load.args and load.args[0].keyword is None else None
    if not isinstance(first, cst.Name):
        return False
    counted = f"len({first.value})"
    counts = {counted}
    if home is not None:
        bumped: dict[str, int] = {}  # `n += 1`: a count added to
        for node in traverse.walk(body):
            if isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name):
                bumped[node.target.value] = bumped.get(node.target.value, 0) + 1
        for name, bound in home.bindings.items():
            made = [b for b in bound if b.how == "expr"]
            if home.lookup(name) is home and len(made) == 1 and not made[0].index \
                    and len(bound) - 1 == bumped.get(name, 0) and isinstance(made[0].node, cst.BaseExpression) \
                    and any(isinstance(n, cst.Call) and src(n).replace(" ", "") == counted
                            for n in traverse.walk(made[0].node)):
                counts.add(name)
    seen = False
    for node in traverse.walk(body):
        if node is load:
            seen = True
        elif seen and isinstance(node, cst.Call):
            f = node.func
            name = f.attr.value if isinstance(f, cst.Attribute) else f.value if isinstance(f, cst.Name) else ""
            if name in REPORTS and (counted in src(node).replace(" ", "") or any(
                    isinstance(n, cst.Name) and n.value in counts for n in traverse.walk(node))):
                return True
    return False


# Where a dict's keys are the module's own: `for name, p in model.named_parameters()` gives them at (0,)
_OWN_ITEMS = frozenset({"named_parameters", "named_buffers"})
# Copies: the same keys
_COPIES = frozenset({"deepcopy", "copy", "dict", "OrderedDict"})
# A call that hands a dict back (`states = all_reduce(states)`) keeps its keys unless its name says otherwise
_RENAMES = re.compile(r"(?i)renam|remap|convert|prefix|replace|strip|map|translate|upgrade|fix")
_MAX_OWN = 8
# A call handed a dict of own keys that may take some away or rename them in place (`del`, `pop` as
# words: not `model`, `populate`)
_TAKES_KEYS = re.compile(_RENAMES.pattern + r"|filter|drop|remove|delete|(?:^|_)del(?:_|$)|(?:^|_)pop(?:_|$)"
                         r"|prune|select|clean|clear|discard|exclude")


def _own_keys(facts: Facts, load: cst.Call, body: cst.CSTNode, home: Scope | None) -> bool:
    """The loaded dict's keys are the receiver's own: its `state_dict()` (or a copy of one, taken
    earlier from the same object, `self.snapshot` of a class that stored it from the same module), a
    dict filled only under keys of its `named_parameters()`, `named_buffers()`, `state_dict()`, or
    `named_modules()` joined with each child's `state_dict()` keys, directly or returned by a helper of
    the file handed the receiver. No key can miss a prefix: the load takes back what the module holds."""
    receiver = load.func.value  # type: ignore[attr-defined]
    first = load.args[0].value if load.args and load.args[0].keyword is None else None
    if first is None or home is None or home.kind != "function" or not _fixed(receiver, body, home):
        return False
    return _own(facts, first, src(receiver), body, home, 0)


def _fixed(receiver: cst.BaseExpression, body: cst.CSTNode, home: Scope) -> bool:
    """The receiver names one object all through the function: its root name bound once at most,
    no assignment to it or to any part of its path (`model = model.backbone`, `self.net = ...`)."""
    spelled = dotted(receiver)
    if spelled is None:
        return False
    root = spelled.split(".", 1)[0]
    if home.lookup(root) is home and len(home.bindings[root]) > 1:
        return False
    for node in traverse.walk(body):
        target = node.target if isinstance(node, (cst.AssignTarget, cst.AnnAssign, cst.AugAssign)) else None
        if target is not None and (spelled == src(target) or spelled.startswith(src(target) + ".")):
            if not isinstance(target, cst.Name):  # a bare root is the one binding counted above
                return False
    return True


def _state_dict_of(expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """`X` of `X.state_dict()` (no argument but `keep_vars`): keys as X names them."""
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "state_dict" \
            and all(a.keyword is not None and a.keyword.value == "keep_vars" for a in expr.args):
        return expr.func.value
    return None


def _uncopied(expr: cst.BaseExpression) -> cst.BaseExpression:
    """`copy.deepcopy(x)`, `dict(x)`, `OrderedDict(x)`, `x.copy()`: x."""
    while isinstance(expr, cst.Call):
        func = expr.func
        name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
        if isinstance(func, cst.Attribute) and name == "copy" and not expr.args:
            expr = func.value
        elif name in _COPIES and len(expr.args) == 1 and expr.args[0].keyword is None and not expr.args[0].star:
            expr = expr.args[0].value
        else:
            break
    return expr


def _own(facts: Facts, expr: cst.BaseExpression, recv: str, body: cst.CSTNode, home: Scope, depth: int) -> bool:
    """`expr` (in the function `home`, whose node is `body`) is a dict keyed only by `recv`'s own keys."""
    if depth > _MAX_OWN:
        return False
    expr = _uncopied(expr)
    state = _state_dict_of(expr)
    if state is not None:
        return src(state) == recv
    if isinstance(expr, cst.DictComp):
        return _comp_key(facts, expr, recv, body, home, depth)
    if isinstance(expr, cst.Name):
        return _own_name(facts, expr.value, recv, body, home, depth)
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self" \
            and recv != "self":
        return _own_snapshot(facts, expr.attr.value, recv, home, depth)
    if isinstance(expr, cst.Attribute) and src(expr.value) == recv and isinstance(expr.value, cst.Name):
        return _stored_on_itself(facts, expr.attr.value, depth)
    if isinstance(expr, cst.Call):
        if _helper_def(facts, expr.func, home) is not None:
            return _own_helper(facts, expr, recv, home, depth)
        passed = _passed_through(expr)
        return passed is not None and _own(facts, passed, recv, body, home, depth + 1)
    return False


def _key_side(facts: Facts, it: cst.BaseExpression, recv: str, body: cst.CSTNode, home: Scope,
              depth: int) -> tuple[int, ...] | None:
    """Where a loop over `it` gives keys of `recv`'s: (0,) for `recv.named_parameters()`,
    `recv.named_buffers()`, `own.items()`; () for `own`, `own.keys()`; None for anything else."""
    if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and not it.args:
        method, obj = it.func.attr.value, it.func.value
        if method in _OWN_ITEMS:
            return (0,) if src(obj) == recv else None
        if method in ("items", "keys"):
            return ((0,) if method == "items" else ()) if _own(facts, obj, recv, body, home, depth + 1) else None
    return () if _own(facts, it, recv, body, home, depth + 1) else None


def _comp_key(facts: Facts, comp: cst.DictComp, recv: str, body: cst.CSTNode, home: Scope, depth: int) -> bool:
    """`{k: f(v) for k, v in model.named_parameters() if ...}`: keyed by the loop's own keys."""
    key, loop = comp.key, comp.for_in
    if not isinstance(key, cst.Name) or loop.inner_for_in is not None:
        return False
    target = loop.target
    if isinstance(target, cst.Name):
        at: tuple[int, ...] | None = () if target.value == key.value else None
    elif isinstance(target, cst.Tuple) and target.elements and isinstance(target.elements[0].value, cst.Name) \
            and target.elements[0].value.value == key.value:
        at = (0,)
    else:
        at = None
    if at is not None and _key_side(facts, loop.iter, recv, body, home, depth) == at:
        return True
    return _reads_own(facts, comp.value, key, recv, body, home, depth)


def _reads_own(facts: Facts, value: cst.BaseExpression, key: cst.BaseExpression, recv: str, body: cst.CSTNode,
               home: Scope, depth: int) -> bool:
    """`own[key].clone()` (methods and attributes on it allowed): the value stored under `key` is read
    from a dict of `recv`'s own keys by that very key, which raises KeyError unless the key is own."""
    while True:
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
            value = value.func.value
        elif isinstance(value, cst.Attribute):
            value = value.value
        else:
            break
    return isinstance(value, cst.Subscript) and len(value.slice) == 1 \
        and isinstance(value.slice[0].slice, cst.Index) and src(value.slice[0].slice.value) == src(key) \
        and _own(facts, value.value, recv, body, home, depth + 1)


def _own_key(facts: Facts, key: cst.BaseExpression, recv: str, body: cst.CSTNode, home: Scope, depth: int) -> bool:
    """A key of `recv`'s: the name a loop over its own keys binds (and nothing else binds), or a
    module's name of `recv.named_modules()` joined with a key of that child's `state_dict()`
    (`".".join([name, k])`, `f"{name}.{k}"`, `name + "." + k`)."""
    if isinstance(key, cst.Name):
        return _loop_key(facts, key.value, recv, body, home, depth)
    parts = _joined(key)
    if parts is None:
        return False
    name, k = parts
    bound = home.bindings.get(name, []) if home.lookup(name) is home else []
    if len(bound) != 1 or bound[0].how != "iter" or bound[0].index != (0,):
        return False
    it = bound[0].node
    if not (isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value == "named_modules"
            and not it.args and src(it.func.value) == recv):
        return False
    # the child: the loop's second name, whose own keys `k` runs over
    children = [n for n, bs in home.bindings.items() if len(bs) == 1 and bs[0].how == "iter" and bs[0].node is it
                and bs[0].index == (1,)]
    return len(children) == 1 and _loop_key(facts, k, children[0], body, home, depth)


def _loop_key(facts: Facts, name: str, recv: str, body: cst.CSTNode, home: Scope, depth: int) -> bool:
    bound = home.bindings.get(name, []) if home.lookup(name) is home else []
    return len(bound) == 1 and bound[0].how == "iter" and isinstance(bound[0].node, cst.BaseExpression) \
        and _key_side(facts, bound[0].node, recv, body, home, depth) == bound[0].index


def _joined(key: cst.BaseExpression) -> tuple[str, str] | None:
    """The two names `".".join([a, b])`, `f"{a}.{b}"` or `a + "." + b` put together."""
    if isinstance(key, cst.Call) and isinstance(key.func, cst.Attribute) and key.func.attr.value == "join" \
            and isinstance(key.func.value, cst.SimpleString) and key.func.value.evaluated_value == "." \
            and len(key.args) == 1 and isinstance(key.args[0].value, (cst.List, cst.Tuple)):
        items = [e.value for e in key.args[0].value.elements]
        if len(items) == 2 and all(isinstance(i, cst.Name) for i in items):
            return items[0].value, items[1].value  # type: ignore[attr-defined]
    if isinstance(key, cst.FormattedString) and len(key.parts) == 3:
        a, dot, b = key.parts
        if isinstance(a, cst.FormattedStringExpression) and isinstance(b, cst.FormattedStringExpression) \
                and isinstance(dot, cst.FormattedStringText) and dot.value == "." \
                and isinstance(a.expression, cst.Name) and isinstance(b.expression, cst.Name) \
                and a.conversion is None and b.conversion is None and a.format_spec is None and b.format_spec is None:
            return a.expression.value, b.expression.value
    if isinstance(key, cst.BinaryOperation) and isinstance(key.operator, cst.Add) and isinstance(key.right, cst.Name) \
            and isinstance(key.left, cst.BinaryOperation) and isinstance(key.left.operator, cst.Add) \
            and isinstance(key.left.left, cst.Name) and isinstance(key.left.right, cst.SimpleString) \
            and key.left.right.evaluated_value == ".":
        return key.left.left.value, key.right.value
    return None


def _empty_dict(expr: cst.BaseExpression) -> bool:
    return (isinstance(expr, cst.Dict) and not expr.elements) or (
        isinstance(expr, cst.Call) and not expr.args and dotted(expr.func) in ("dict", "OrderedDict",
                                                                                 "collections.OrderedDict"))


def _own_name(facts: Facts, name: str, recv: str, body: cst.CSTNode, home: Scope, depth: int) -> bool:
    """A local dict every binding of which is own, empty (then filled under own keys, at least one
    store), or the same dict handed through a call (`states = all_reduce(states)`); nothing adds a key
    any other way. One never empty may be handed to calls that fill it in place (torchtitan's
    `ts.get_state_dict(..., user_state_dict=model_sd)`): every own key stays, so none can miss."""
    if home.lookup(name) is not home:
        return False
    bound = home.bindings[name]
    made = filled = False
    empty = False
    for b in bound:
        if b.how != "expr" or b.index or not isinstance(b.node, cst.BaseExpression):
            return False
        value = b.node
        if _own(facts, value, recv, body, home, depth + 1):
            made = filled = True
        elif _empty_dict(value):
            made = empty = True
        elif not _handed_back(value, name):
            return False
    if not made:
        return False
    walk = _Walk({name}, None)
    traverse.visit(body, walk)
    for node, above in walk.found:
        parent = above[-1] if above else None
        if isinstance(parent, (cst.AssignTarget, cst.AnnAssign)) and parent.target is node:
            continue  # a binding, judged above
        if isinstance(parent, cst.Subscript) and parent.value is node:
            up = above[-2] if len(above) > 1 else None
            if isinstance(up, cst.AssignTarget) and up.target is parent:
                assign = above[-3] if len(above) > 2 and isinstance(above[-3], cst.Assign) else None
                if len(parent.slice) != 1 or not isinstance(parent.slice[0].slice, cst.Index) or assign is None:
                    return False
                key = parent.slice[0].slice.value
                if not _own_key(facts, key, recv, body, home, depth + 1) and not _under_own_test(key, name, above) \
                        and not _reads_own(facts, assign.value, key, recv, body, home, depth):
                    return False  # a key from elsewhere
                filled = True
            continue  # read, `del`, `+=` of a value
        if isinstance(parent, cst.Attribute) and parent.value is node:
            if parent.attr.value in ("update", "setdefault", "__setitem__", "__ior__"):
                return False
            continue
        if isinstance(parent, cst.Arg) and len(above) > 1 and isinstance(above[-2], cst.Call):
            call = above[-2]
            f = call.func
            called = f.attr.value if isinstance(f, cst.Attribute) else f.value if isinstance(f, cst.Name) else ""
            if called in REPORTS or called in ("len", "load_state_dict") or any(
                    b.node is call for b in bound):
                continue
            if not empty and not _TAKES_KEYS.search(called):
                continue  # filled in place: its own keys stay
            return False  # handed to a call that may add keys
        if isinstance(parent, cst.AugAssign) and parent.target is node:
            return False  # `d |= other`
    return filled  # an empty dict never filled is no subset of anything chosen: reported


def _under_own_test(key: cst.BaseExpression, name: str, above: tuple[cst.CSTNode, ...]) -> bool:
    """`if k in own ...: own[k] = v`: the store is in the arm of a test that the key is already one
    of the dict's (stable-audio-tools' copy_state_dict; FZ402 asks to count what such a loop copied)."""
    if not isinstance(key, cst.Name):
        return False
    for i, node in enumerate(above[:-1]):
        if isinstance(node, cst.If) and above[i + 1] is node.body:
            test = key_test(node.test, key.value)
            if test is not None and isinstance(test.left, cst.Name) and test.left.value == key.value and any(
                    isinstance(c.operator, cst.In) and isinstance(c.comparator, cst.Name) and c.comparator.value == name
                    for c in test.comparisons):
                return True
    return False


def _handed_back(value: cst.BaseExpression, name: str) -> bool:
    """`name = f(name, op="mean")`: the dict handed back through a call (_passed_through)."""
    passed = _passed_through(value)
    return isinstance(passed, cst.Name) and passed.value == name


def _passed_through(call: cst.BaseExpression) -> cst.BaseExpression | None:
    """The one positional argument of a call (`all_reduce(states, op="mean")`) whose name does not say
    it renames keys, and that no other dict is handed with (a merge may add keys): the dict it hands
    back, its keys as they were."""
    if not isinstance(call, cst.Call) or isinstance(call.func, cst.Call):
        return None
    positional = [a for a in call.args if a.keyword is None]
    spelled = dotted(call.func)
    if len(positional) != 1 or positional[0].star or spelled is None or _RENAMES.search(spelled.rsplit(".", 1)[-1]):
        return None
    return positional[0].value


def _own_snapshot(facts: Facts, attr: str, recv: str, home: Scope, depth: int) -> bool:
    """`self.snapshot` loaded into `self.net` (a method's load), where every store of the snapshot in
    the class is own keys of `self.net`, or of the local module the same method then stores as
    `self.net` (`self.pretrained = copy.deepcopy(model.state_dict())` ... `self.net = model`, `model`
    not rebound between), and `self.net` is stored once at most."""
    info = home.cls if home.is_method else None
    if info is None or not recv.startswith("self.") or "." in recv[5:]:
        return False
    target = recv[5:]
    stores = info.attrs.get(attr, [])
    held = info.attrs.get(target, [])
    if not stores or len(held) > 1:
        return False
    for value, scope in stores:
        body = scope.node
        if scope.kind != "function" or body is None:
            return False
        if _own(facts, value, recv, body, scope, depth + 1):
            continue
        module = held[0][0] if held and held[0][1] is scope and isinstance(held[0][0], cst.Name) else None
        if module is None or not _own(facts, value, module.value, body, scope, depth + 1) \
                or _rebound_between(module.value, value, held[0][0], body, scope):
            return False
    return True


def _rebound_between(name: str, a: cst.CSTNode, b: cst.CSTNode, body: cst.CSTNode, scope: Scope) -> bool:
    """A binding of `name` between the nodes `a` and `b`, in source order (either first)."""
    bindings = {id(x.node) for x in scope.bindings.get(name, []) if x.node is not None}
    inside = False
    for node in traverse.walk(body):
        if node is a or node is b:
            if inside:
                return False
            inside = True
        elif inside and id(node) in bindings:
            return True
    return False


def _own_helper(facts: Facts, call: cst.Call, recv: str, home: Scope, depth: int) -> bool:
    """`get_norm_states(module)`: a function of the file handed the receiver, whose every return is a
    dict keyed by that parameter's own keys."""
    d = _helper_def(facts, call.func, home)
    scope = facts.func_scopes.get(id(d)) if d is not None else None
    if d is None or scope is None:
        return False
    params = [*d.params.posonly_params, *d.params.params]
    if isinstance(call.func, cst.Attribute):
        params = params[1:]  # `self.helper(...)`: bound to self (or cls)
    param = None
    for i, a in enumerate(call.args):
        if src(a.value) != recv or a.star:
            continue
        if a.keyword is not None:
            param = a.keyword.value
        elif i < len(params):
            param = params[i].name.value
    if param is None or param == "self" or len(scope.bindings.get(param, [])) != 1:
        return False
    given = facts.extracted.returns.get(id(d), [])
    return bool(given) and all(v is not None and _own(facts, v, param, d, scope, depth + 1) for v in given)


def _helper_def(facts: Facts, func: cst.BaseExpression, home: Scope) -> cst.FunctionDef | None:
    """The def a call runs: a function of the file, or `self.helper` / `cls.helper` in a method,
    defined once in that class's body (an override elsewhere is not seen)."""
    d = facts.resolve_def(func, home)
    if d is not None or not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
        return d
    method = _home(home)
    while method is not None and not method.is_method:
        method = method.parent
    node = method.node if method is not None else None
    info = method.cls if method is not None else None
    if info is None or not isinstance(node, cst.FunctionDef) or not node.params.params \
            or node.params.params[0].name.value != func.value.value:
        return None
    defs = [s for s in info.node.body.body if isinstance(s, cst.FunctionDef) and s.name.value == func.attr.value]
    return defs[0] if len(defs) == 1 else None


def _stored_on_itself(facts: Facts, attr: str, depth: int) -> bool:
    """`transformer.snapshot` loaded into `transformer`, where every store of `<obj>.snapshot` in the
    file (at least one) is None or, in its function, a dict of `<obj>`'s own keys (diffusers'
    `transformer._transformer_norm_layers = self._load_norm_into_transformer(sd, transformer=transformer)`,
    a copy of the entries it is about to overwrite): restoring a snapshot of its own entries."""
    stores = 0
    for func, scope in _functions(facts):
        for node in _own_statements(func):
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else \
                [node.target] if isinstance(node, cst.AnnAssign) and node.value is not None else []
            for target in targets:
                if not (isinstance(target, cst.Attribute) and target.attr.value == attr):
                    continue
                value = node.value
                if isinstance(value, cst.Name) and value.value == "None":
                    continue
                obj = target.value
                if len(targets) > 1 or not isinstance(obj, cst.Name) or not _fixed(obj, func, scope) \
                        or not _own(facts, value, obj.value, func, scope, depth + 1):  # type: ignore[arg-type]
                    return False
                stores += 1
    everywhere = sum(isinstance(t, cst.Attribute) and t.attr.value == attr
                     and not (isinstance(n.value, cst.Name) and n.value.value == "None")
                     for n in traverse.walk(facts.module) if isinstance(n, (cst.Assign, cst.AnnAssign))
                     for t in ([a.target for a in n.targets] if isinstance(n, cst.Assign) else [n.target]))
    return stores > 0 and stores == everywhere  # none at module or class level


def _functions(facts: Facts) -> Iterable[tuple[cst.FunctionDef, Scope]]:
    for node in traverse.walk(facts.module):
        if isinstance(node, cst.FunctionDef) and id(node) in facts.func_scopes:
            yield node, facts.func_scopes[id(node)]


def _own_statements(func: cst.FunctionDef) -> Iterable[cst.CSTNode]:
    """The assignments of a def, not those of the defs and classes nested in it."""
    stack: list[cst.CSTNode] = [func.body]
    while stack:
        node = stack.pop()
        for child in node.children:
            if isinstance(child, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                continue
            if isinstance(child, (cst.Assign, cst.AnnAssign)):
                yield child
            stack.append(child)


def _literal_keys(value: cst.BaseExpression | None, load: cst.Call, body: cst.CSTNode,
                  home: Scope | None) -> bool:
    """`{"embedding.weight": w}`: a dict whose every key is spelled out where it is loaded is a
    partial load by construction; no prefix can be silently wrong. A key may also be the name of the
    loop the load sits in, over strings spelled out in the same function (`for src, dst in
    mapping.items(): m.load_state_dict({dst: sd[src]}, strict=False)` with `mapping` a literal)."""
    return isinstance(value, cst.Dict) and bool(value.elements) and all(
        isinstance(e, cst.DictElement) and (isinstance(e.key, cst.SimpleString) or _loop_literal(e.key, load, body, home))
        for e in value.elements)


def _loop_literal(key: cst.BaseExpression, load: cst.Call, body: cst.CSTNode, home: Scope | None) -> bool:
    """`key` is the (only) target of a loop around the load whose every value is a string literal of
    the same function: `for k in ("a.weight", "a.bias")`, or a key / value of a dict literal bound once
    (`for src, dst in mapping.items()`, `for k in mapping`, `mapping.keys()`, `mapping.values()`)
    that nothing but loops reads."""
    if home is None or not isinstance(key, cst.Name) or home.lookup(key.value) is not home:
        return False
    bound = home.bindings[key.value]
    if len(bound) != 1 or bound[0].how != "iter":
        return False  # rebound somewhere: not only the loop's strings
    it, index = bound[0].node, bound[0].index
    walk = _Walk(set(), load)
    traverse.visit(body, walk)
    if not any(isinstance(a, cst.For) and a.iter is it for a in walk.at_load):
        return False
    if isinstance(it, (cst.List, cst.Tuple, cst.Set)):
        return not index and bool(it.elements) and all(
            isinstance(e, cst.Element) and isinstance(e.value, cst.SimpleString) for e in it.elements)
    side = "keys" if not index else None
    if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and not it.args:
        method = it.func.attr.value
        side = {("items", (0,)): "keys", ("items", (1,)): "values", ("keys", ()): "keys",
                ("values", ()): "values"}.get((method, index))
        it = it.func.value
    if side is None:
        return False
    mapping = it if isinstance(it, cst.Dict) else _literal_mapping(it, body, home, walk.seen)
    return mapping is not None and bool(mapping.elements) and all(
        isinstance(e, cst.DictElement) and isinstance(e.key if side == "keys" else e.value, cst.SimpleString)
        for e in mapping.elements)


def _literal_mapping(name: cst.BaseExpression, body: cst.CSTNode, home: Scope,
                     before: set[int]) -> cst.Dict | None:
    """The dict literal `name` is bound to, once, before the load, when every other mention of it
    is a loop over it (`for a, b in name.items()`): nothing adds a key at run time."""
    if not isinstance(name, cst.Name) or home.lookup(name.value) is not home:
        return None
    bound = home.bindings[name.value]
    if len(bound) != 1 or bound[0].how != "expr" or bound[0].index or not isinstance(bound[0].node, cst.Dict) \
            or id(bound[0].node) not in before:
        return None
    walk = _Walk({name.value}, None)
    traverse.visit(body, walk)
    for node, above in walk.found:
        parent = above[-1] if above else None
        if isinstance(parent, cst.AssignTarget) and parent.target is node:
            continue
        if isinstance(parent, cst.Attribute) and parent.attr.value in ("items", "keys", "values") \
                and len(above) > 2 and isinstance(above[-2], cst.Call) and above[-2].func is parent:
            parent = above[-3] if isinstance(above[-3], cst.For) else None
            node = above[-2]
        if not (isinstance(parent, cst.For) and parent.iter is node):
            return None
    return bound[0].node


def _stored_literal(loaded: str | None, value: cst.BaseExpression, load: cst.Call, body: cst.CSTNode) -> bool:
    """`d = {}` then only `d["linear_1.weight"] = w` stores before the load: a dict literal written in
    steps, every key spelled out (at least one)."""
    if loaded is None or not loaded.isidentifier() or not isinstance(value, cst.Dict) or not all(
            isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString) for e in value.elements):
        return False
    walk = _Walk({loaded}, load, start=value)
    traverse.visit(body, walk)
    stores = 0
    for node, above in walk.found:
        if len(above) < 3:
            return False
        sub, target = above[-1], above[-2]
        if not (isinstance(sub, cst.Subscript) and sub.value is node and len(sub.slice) == 1
                and isinstance(sub.slice[0].slice, cst.Index) and isinstance(sub.slice[0].slice.value, cst.SimpleString)
                and isinstance(target, cst.AssignTarget) and target.target is sub):
            return False
        stores += 1
    return bool(value.elements) or stores > 0


# Methods after which a module's keys are what they were (most return the module itself).
_KEEPS_KEYS = frozenset({"requires_grad_", "train", "eval", "to", "cuda", "cpu", "float", "half", "bfloat16",
                         "double", "state_dict", "load_state_dict", "parameters", "named_parameters", "buffers",
                         "named_buffers", "zero_grad"})
_RETURNS_SELF = frozenset({"requires_grad_", "train", "eval", "to", "cuda", "cpu", "float", "half", "bfloat16",
                           "double"})
# Attributes that are no submodule: reading them, or passing them on, changes no key.
_PLAIN_ATTRS = frozenset({"config", "dtype", "device", "training"})
# Calls that hand back a wrapper with prefixed keys (`module.`, `_orig_mod.`, `base_model.model.`),
# or rewrite the model's layers in place.
_WRAPPERS = frozenset({"DistributedDataParallel", "DDP", "DataParallel", "FullyShardedDataParallel", "FSDP",
                       "compile", "prepare", "prepare_model", "get_peft_model", "PeftModel", "inject_adapter_in_model",
                       "setup", "setup_module", "initialize", "wrap", "optimize"})


def _sibling_copy(facts: Facts, load: cst.Call, body: cst.CSTNode, home: Scope | None) -> bool:
    """`student.load_state_dict(teacher.state_dict(), strict=False)` where both are local names the
    function built with the same class or factory (`UNet.from_pretrained(...)` and
    `UNet.from_config(teacher.config, extra_dim=...)`; diffusers' LCM distillation), not wrapped: the keys
    match by construction, and the missing ones are the layers the student adds by design. Every
    binding of either name before the load builds one (or moves it: `t = t.to(device)`); every other
    mention before the load is a method that keeps the keys (`requires_grad_`, `eval`, `to`,
    `state_dict`, ...) or a read of `.config` / `.dtype` / `.device`. A model passed to any call (a
    wrapper, `get_peft_model`, an adapter injector), a parameter, or a load inside a loop is not judged."""
    source = load.args[0].value if load.args and load.args[0].keyword is None else None
    receiver = load.func.value  # type: ignore[attr-defined]
    if home is None or not (isinstance(source, cst.Call) and not source.args and isinstance(receiver, cst.Name)
                            and isinstance(source.func, cst.Attribute) and source.func.attr.value == "state_dict"
                            and isinstance(source.func.value, cst.Name)):
        return False
    names = {receiver.value, source.func.value.value}
    walk = _Walk(names, load)
    traverse.visit(body, walk)
    if not walk.reached or not _fresh_each_pass(home, names, walk):
        return False
    makers = _makers(facts, names, home, walk)
    return makers is not None and len(makers) == 1 and all(_keeps_keys(node, above) for node, above in walk.found)


def _class_copy(facts: Facts, load: cst.Call, body: cst.CSTNode, home: Scope | None) -> bool:
    """`copy.load_state_dict(model.state_dict(), strict=False)` where `copy` is a local bound once,
    before the load, to a new object of `model`'s own class (`model.__class__(**cfg)`,
    `type(model)(**cfg)`, `copy.deepcopy(model)`; mace's model extraction): the keys match by
    construction, the missing ones the layers another config adds. Not where either name is handed
    to a call (a wrapper) or bound again between the copy and the load."""
    source = _state_dict_of(load.args[0].value) if load.args and load.args[0].keyword is None else None
    receiver = load.func.value  # type: ignore[attr-defined]
    origin = dotted(source) if source is not None else None
    if home is None or origin is None or not isinstance(receiver, cst.Name) or home.lookup(receiver.value) is not home:
        return False
    bound = home.bindings[receiver.value]
    if len(bound) != 1 or bound[0].how != "expr" or bound[0].index or _copied_from(facts, bound[0].node, home) != origin:
        return False
    root = origin.split(".", 1)[0]
    walk = _Walk({receiver.value, root}, load, start=bound[0].node)
    traverse.visit(body, walk)
    return walk.reached and id(bound[0].node) in walk.seen \
        and all(_keeps_keys(node, above) and not _rebinds(node, above, root) for node, above in walk.found)


def _rebinds(node: cst.Name, above: tuple[cst.CSTNode, ...], root: str) -> bool:
    return node.value == root and bool(above) and isinstance(above[-1], (cst.AssignTarget, cst.AnnAssign))


def _copied_from(facts: Facts, value: cst.CSTNode | None, home: Scope) -> str | None:
    """X of `X.__class__(...)`, `type(X)(...)` or `copy.deepcopy(X)`, moved or not (`.to(device)`)."""
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) \
            and value.func.attr.value in _RETURNS_SELF:
        value = value.func.value
    if not isinstance(value, cst.Call):
        return None
    func = value.func
    if isinstance(func, cst.Attribute) and func.attr.value == "__class__":
        return dotted(func.value)
    if isinstance(func, cst.Call) and facts.qualname(func.func, home) == "type" and len(func.args) == 1:
        return dotted(func.args[0].value)
    if facts.qualname(func, home) == "copy.deepcopy" and len(value.args) == 1 and value.args[0].keyword is None:
        return dotted(value.args[0].value)
    return None


def _makers(facts: Facts, names: set[str], home: Scope, walk: "_Walk") -> set[tuple[str, str]] | None:
    """What builds each of the local `names` in every binding before the walk's stop (_maker; moves
    aside), or None where one is not a local built so."""
    makers: set[tuple[str, str]] = set()
    for name in names:
        if home.lookup(name) is not home:
            return None
        bound = home.bindings[name]
        if any(b.node is None for b in bound):
            return None  # global, import, `with ... as`: not known
        earlier = [b for b in bound if id(b.node) in walk.seen]
        if not earlier:
            return None
        for b in earlier:
            if b.how != "expr" or b.index:
                return None
            made = _maker(facts, b.node, name, home)  # type: ignore[arg-type]
            if made is None:
                return None
            if made[0]:
                makers.add(made)
    return makers


def _sibling_stored(facts: Facts, load: cst.Call, body: cst.CSTNode, home: Scope | None) -> bool:
    """_sibling_copy across two methods of a class: `env.load_state_dict(self._sd, strict=False)` where
    the class assigns `self._sd` once, in another method, `shadow.state_dict()`, and `shadow` there and
    `env` here are locals built by the same factory of the object or module (`self.create_env_fn()`;
    torchrl's EnvCreator), their other mentions before the dict is taken or loaded keeping the keys.
    Every other mention of `self._sd` in the class is a load of it or an `is None` test."""
    source = load.args[0].value if load.args and load.args[0].keyword is None else None
    receiver = load.func.value  # type: ignore[attr-defined]
    if home is None or not isinstance(receiver, cst.Name) or not _self_attr(source):
        return False
    cls = _class_scope(home)
    stores = [st for st in facts.attr_stores if st.attr == source.attr.value and isinstance(st.obj, cst.Name)
              and st.obj.value == "self" and _class_scope(st.ctx.scope) is cls] if cls is not None else []
    st = stores[0] if len(stores) == 1 else None
    value = st.value if st is not None and st.form == "assign" and not st.unpacked else None
    there = _home(st.ctx.scope) if st is not None else None
    if not (isinstance(value, cst.Call) and not value.args and isinstance(value.func, cst.Attribute)
            and value.func.attr.value == "state_dict" and isinstance(value.func.value, cst.Name)) \
            or there is None or there is home or there.node is None or cls is None or cls.node is None:
        return False
    here_walk, there_walk = _Walk({receiver.value}, load), _Walk({value.func.value.value}, st.node)
    traverse.visit(body, here_walk)
    traverse.visit(there.node, there_walk)
    if not (here_walk.reached and there_walk.reached and _fresh_each_pass(home, {receiver.value}, here_walk)
            and _fresh_each_pass(there, {value.func.value.value}, there_walk)):
        return False
    mine = _makers(facts, {receiver.value}, home, here_walk)
    theirs = _makers(facts, {value.func.value.value}, there, there_walk)
    return mine is not None and len(mine) == 1 and mine == theirs and _shared(next(iter(mine))[0], home, there) \
        and all(_keeps_keys(n, above) for n, above in (*here_walk.found, *there_walk.found)) \
        and _only_loaded(cls.node, source.attr.value, st.node)


def _self_attr(expr: cst.BaseExpression | None) -> bool:
    """`self.X`."""
    return isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self"


def _shared(maker: str, home: Scope, there: Scope) -> bool:
    """The factory is the same object in both methods: an attribute of `self`, or a name neither binds."""
    root = maker.split(".")[0]
    return root == "self" or home.lookup(root) is not home and there.lookup(root) is not there


def _only_loaded(cls: cst.CSTNode, attr: str, store: cst.CSTNode) -> bool:
    """Every mention of `self.<attr>` in the class is the store's target, the dict a `load_state_dict`
    call loads, or an `is None` / `is not None` test: nothing else adds or drops its keys."""
    allowed: set[int] = set()
    mentions: list[cst.Attribute] = []
    for node in traverse.walk(cls):
        if isinstance(node, cst.Attribute) and node.attr.value == attr and _self_attr(node):
            mentions.append(node)
        elif node is store and isinstance(node, cst.Assign):
            allowed.update(id(t.target) for t in node.targets)
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
                and node.func.attr.value == "load_state_dict" and node.args and node.args[0].keyword is None:
            allowed.add(id(node.args[0].value))
        elif isinstance(node, cst.Comparison) and len(node.comparisons) == 1 \
                and isinstance(node.comparisons[0].operator, (cst.Is, cst.IsNot)) \
                and isinstance(node.comparisons[0].comparator, cst.Name) \
                and node.comparisons[0].comparator.value == "None":
            allowed.add(id(node.left))
    return all(id(m) in allowed for m in mentions)


# Attributes of a wrapper that lead to the wrapped model: a path through one is no longer the same
_WRAPPED_ATTRS = frozenset({"module", "_orig_mod", "_fsdp_wrapped_module", "base_model", "_checkpoint_wrapped_module"})


def _same_submodule(facts: Facts, load: cst.Call, body: cst.CSTNode, home: Scope | None) -> bool:
    """`controlnet.blocks.load_state_dict(transformer.blocks.state_dict(), strict=False)`: the same
    attribute path of another model (diffusers' `ControlNet.from_transformer(transformer)`). Both
    dicts are rooted at a submodule of that one name, so no prefix can differ; strict=False lets the
    shorter copy take the first blocks. Not where the path runs through a wrapper (`.module`,
    `._orig_mod`), nor where either model was handed to a wrapper in the function before the load."""
    source = _state_dict_of(load.args[0].value) if load.args and load.args[0].keyword is None else None
    receiver = load.func.value  # type: ignore[attr-defined]
    mine, theirs = dotted(receiver), dotted(source) if source is not None else None
    if home is None or mine is None or theirs is None or "." not in mine or "." not in theirs:
        return False
    (root, path), (other, other_path) = mine.split(".", 1), theirs.split(".", 1)
    if root == other or path != other_path or _WRAPPED_ATTRS & set(path.split(".")):
        return False
    walk = _Walk({root, other}, load)
    traverse.visit(body, walk)
    return walk.reached and _built_from(root, other, home, walk) \
        and not any(_wrapped_here(facts, node, above, home) for node, above in walk.found)


def _built_from(name: str, source: str, home: Scope, walk: "_Walk") -> bool:
    """`name` is built in the function, before the load, by calls handed the source model's settings
    (`cls.from_config(dict(transformer.config))`, `cls(layers=unet.config.layers, ...)`), directly or
    through a local bound once (`config = dict(transformer.config)`): configured from the same model."""
    if home.lookup(name) is not home:
        return False
    bound = [b for b in home.bindings[name] if b.node is not None and id(b.node) in walk.seen]
    if not bound or len(bound) != len(home.bindings[name]):
        return False
    for b in bound:
        if b.how != "expr" or b.index or not isinstance(b.node, cst.Call):
            return False
        if not any(_mentions(a.value, source, home) for a in b.node.args):
            return False
    return True


def _mentions(expr: cst.BaseExpression, source: str, home: Scope, depth: int = 0) -> bool:
    """`expr` names `source`, or a local bound once to a value that does."""
    for node in traverse.walk(expr):
        if isinstance(node, cst.Name) and node.value == source:
            return True
        if isinstance(node, cst.Name) and depth < 2 and home.lookup(node.value) is home:
            bound = home.bindings[node.value]
            if len(bound) == 1 and bound[0].how == "expr" and isinstance(bound[0].node, cst.BaseExpression) \
                    and _mentions(bound[0].node, source, home, depth + 1):
                return True
    return False


def _wrapped_here(facts: Facts, node: cst.Name, above: tuple[cst.CSTNode, ...], home: Scope) -> bool:
    """A mention of a model handed to a wrapper (`DDP(model)`, `accelerator.prepare(model)`) or bound
    to one's result (`model = torch.compile(model)`): its keys may now carry a prefix."""
    for up in reversed(above):
        if isinstance(up, cst.Call):
            spelled = dotted(up.func)
            qual = facts.qualname(up.func, home) or spelled or ""
            if qual.rsplit(".", 1)[-1] in _WRAPPERS or (spelled or "").rsplit(".", 1)[-1] in _WRAPPERS:
                return True
        if isinstance(up, (cst.Assign, cst.AnnAssign)) and up.value is not None \
                and any(isinstance(n, cst.Call) and (dotted(n.func) or "").rsplit(".", 1)[-1] in _WRAPPERS
                        for n in traverse.walk(up.value)):
            return True
        if isinstance(up, cst.BaseSmallStatement) or isinstance(up, cst.BaseCompoundStatement):
            return False
    return False


def _fresh_each_pass(home: Scope, names: set[str], walk: "_Walk") -> bool:
    """Outside any loop; or, in one, every binding of the names is inside the innermost loop and
    each is rebound before the load by a statement of that loop's own body (audiocraft's `for norm_first in ...:
    m = T(...); m_cross = T(..., cross_attention=True)`): each pass loads between new models, never
    between a model and one a previous pass changed."""
    loops = [a for a in walk.at_load if isinstance(a, (cst.For, cst.While))]
    if not loops:
        return True
    loop = loops[-1]
    inside = {id(n) for n in traverse.walk(loop.body)}
    direct = {id(n) for stmt in loop.body.body if isinstance(stmt, cst.SimpleStatementLine)  # type: ignore[union-attr]
              for small in stmt.body if isinstance(small, cst.Assign) for n in (small.value,)}
    for name in names:
        bound = home.bindings.get(name, [])
        if not bound or not all(b.node is not None and id(b.node) in inside for b in bound) \
                or not any(id(b.node) in direct and id(b.node) in walk.seen for b in bound):
            return False
    return True


def _maker(facts: Facts, value: cst.BaseExpression, name: str, home: Scope) -> tuple[str, str] | None:
    """What builds the model: the class or factory (`Cls` of `Cls.from_pretrained(...)`), with the
    first argument of a plain call where it names the architecture or file (`create_model("vit")`,
    `load_model(args.teacher)`). `("", "")` for `name = name.to(device)`; None for anything else."""
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) \
            and value.func.attr.value in _RETURNS_SELF:
        inner = value.func.value
        if isinstance(inner, cst.Name) and inner.value == name:
            return ("", "")
        value = inner
    if not isinstance(value, cst.Call):
        return None
    func = value.func
    classmethod_ = isinstance(func, cst.Attribute) and func.attr.value.startswith("from_")
    if classmethod_:
        func = func.value  # type: ignore[attr-defined]
    spelled = dotted(func)
    if spelled is None:
        return None
    qual = facts.qualname(func, home) or spelled
    if qual.rsplit(".", 1)[-1] in _WRAPPERS or spelled.rsplit(".", 1)[-1] in _WRAPPERS:
        return None
    first = next((a.value for a in value.args if a.keyword is None and not a.star), None)
    arg = src(first) if not classmethod_ and (isinstance(first, cst.SimpleString) or dotted(first) is not None) \
        else ""
    return (qual, arg)


def _keeps_keys(node: cst.Name, above: tuple[cst.CSTNode, ...]) -> bool:
    """A mention of the model that leaves its keys as they were."""
    parent = above[-1] if above else None
    if isinstance(parent, (cst.AssignTarget, cst.AnnAssign)) and parent.target is node:
        return True  # a binding: judged by _maker
    if not (isinstance(parent, cst.Attribute) and parent.value is node):
        return False
    if parent.attr.value in _PLAIN_ATTRS:
        return True
    return parent.attr.value in _KEEPS_KEYS and len(above) > 1 and isinstance(above[-2], cst.Call) \
        and above[-2].func is parent


class _Walk(cst.CSTVisitor):
    """One pass up to the load (the whole body without one): the ids of the nodes passed (`seen`), the
    mentions of `names` after `start` with the nodes above each (`found`), and the nodes above the load."""

    def __init__(self, names: set[str], load: cst.Call | None, start: cst.CSTNode | None = None) -> None:
        self.names = names
        self.load = load
        self.start = start
        self.started = start is None
        self.reached = False
        self.stack: list[cst.CSTNode] = []
        self.seen: set[int] = set()
        self.found: list[tuple[cst.Name, tuple[cst.CSTNode, ...]]] = []
        self.at_load: tuple[cst.CSTNode, ...] = ()

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.stack.append(node)
        if self.reached:
            return False
        if node is self.load:
            self.reached = True
            self.at_load = tuple(self.stack[:-1])
            return False
        self.seen.add(id(node))
        if self.started and isinstance(node, cst.Name) and node.value in self.names and len(self.stack) > 1:
            parent = self.stack[-2]
            # attribute names, keywords and parameters are other things
            if not ((isinstance(parent, cst.Attribute) and parent.attr is node)
                    or (isinstance(parent, cst.Arg) and parent.keyword is node)
                    or isinstance(parent, (cst.Param, cst.FunctionDef, cst.ClassDef))):
                self.found.append((node, tuple(self.stack[:-1])))
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.stack.pop()
        if original_node is self.start:
            self.started = True


# a call handed the model and the loaded dict checks keys where its name says so
_CHECKS = re.compile(r"(?i)key|check|match|missing|compare|verify|valid")


class _BeforeLoad(cst.CSTVisitor):
    def __init__(self, load: cst.Call, body: cst.CSTNode) -> None:
        self.load = load
        receiver = load.func.value  # type: ignore[attr-defined]
        self.model = src(receiver)
        self.model_state = f"{self.model}.state_dict()"
        first = load.args[0].value if load.args and load.args[0].keyword is None else None
        self.loaded = src(first) if first is not None else None
        self._values = _bound_values(body)
        self._related = _load_names(receiver, first, self._values)
        self.done = False
        self.paired_call = False
        self.key_comparison = False
        self.reports = False
        self.loops = 0
        # the value last assigned to the loaded name, in the block the load sits in
        self.loaded_value: cst.BaseExpression | None = None
        self._blocks: list[int] = [0]
        self._assigned: tuple[int, cst.BaseExpression] | None = None
        self._filters: set[int] = set()  # calls whose result becomes the loaded dict
        self._matched_only = 0  # inside `if k in own ...:`: runs only for keys that do match
        self._matched_bodies: set[int] = set()

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._blocks.append(id(node))

    def leave_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._blocks.pop()

    def visit_Assign(self, node: cst.Assign) -> None:
        if any(src(t.target) == self.loaded for t in node.targets):
            self._assigned = (self._blocks[-1], node.value)
            if isinstance(node.value, cst.Call):
                # `csd = intersect_dicts(csd, model.state_dict())`: a filter that hands the dict
                # back (YOLOv5's), not a check; it may keep nothing
                self._filters.add(id(node.value))

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.done:
            return False
        if node is self.load:
            self.done = True
            if self._assigned is not None and self._assigned[0] == self._blocks[-1]:
                self.loaded_value = self._assigned[1]
            return False
        if id(node) in self._matched_bodies:
            self._matched_only += 1
        return super().on_visit(node)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
        if name == "load_state_dict" or self.loaded is None:
            return
        args = {src(a.value) for a in node.args}
        if self.loaded in args and (self.model in args or self.model_state in args) and id(node) not in self._filters \
                and _CHECKS.search(name):  # `_find_mismatched_keys(model, sd)`, not `interpolate_pos_embed(model, sd)`
            self.paired_call = True

    # A report of what a comparison of keys found: at or after it (left after its own arguments,
    # `logger.warning(f"missing {set(a) - set(b)}")`), not an unrelated log line before it
    def leave_Call(self, node: cst.Call) -> None:
        func = node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
        if name in REPORTS and self._counts():
            self.reports = True

    def leave_Raise(self, node: cst.Raise) -> None:
        self.reports = self.reports or self._counts()

    def leave_Assert(self, node: cst.Assert) -> None:
        self.reports = self.reports or self._counts()

    def _counts(self) -> bool:
        """A report that follows a comparison of keys, not one only a matching key reaches (mmaction2's
        `if k in own and sd[k].shape != own[k].shape: logger.info(...)`: a prefix mismatch logs nothing)."""
        return self.key_comparison and not self.done and not self._matched_only

    def visit_If(self, node: cst.If) -> None:
        if _matched(node.test):
            self._matched_bodies.add(id(node.body))

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if id(original_node) in self._matched_bodies:
            self._matched_only -= 1
        super().on_leave(original_node)

    # Loops and comprehensions: where keys are taken one by one.
    def visit_For(self, node: cst.For) -> None:
        self.loops += 1

    def leave_For(self, node: cst.For) -> None:
        self.loops -= 1

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self.loops += 1

    def leave_CompFor(self, node: cst.CompFor) -> None:
        self.loops -= 1

    def visit_Comparison(self, node: cst.Comparison) -> None:
        # `k not in state_dict` with `k` a loop's key, not `"state_dict" in ckpt` nor
        # `config.mode in [...]`, nor `k in new_kwargs.keys()` over hyper-parameters (scvi-tools)
        if not self.loops or not isinstance(node.left, cst.Name):
            return
        if any(isinstance(t.operator, (cst.In, cst.NotIn))
               and not isinstance(t.comparator, (cst.List, cst.Tuple, cst.Set, cst.SimpleString))
               for t in node.comparisons) and self._concerns_load(node):
            self.key_comparison = True

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        # `set(state_dict.keys()) - set(model.state_dict().keys())`, or `expected - found` of names
        # bound to such sets (fair-esm)
        if isinstance(node.operator, cst.Subtract) and (self._key_set(node.left) or self._key_set(node.right)) \
                and self._concerns_load(node):
            self.key_comparison = True

    def _key_set(self, expr: cst.BaseExpression) -> bool:
        return _keys(expr) or isinstance(expr, cst.Name) and any(_keys(v) for v in self._values.get(expr.value, ()))

    def _concerns_load(self, expr: cst.BaseExpression) -> bool:
        """`expr` names the loaded dict or the receiver, directly or through names bound (in the
        function) to values that do: a loop's key is bound to what it runs over."""
        seen: set[str] = set()
        todo = [expr]
        spelled = {r for r in self._related if "(" in r or "[" in r}  # a call or subscript: its source
        while todo:
            for node in _named_nodes(todo.pop()):
                path = dotted(node)  # type: ignore[arg-type]
                if path in self._related if path is not None else \
                        spelled and isinstance(node, (cst.Call, cst.Subscript)) and src(node) in spelled:
                    return True
                if isinstance(node, cst.Name) and node.value not in seen:
                    seen.add(node.value)
                    todo.extend(self._values.get(node.value, ()))
        return False


def _bound_values(body: cst.CSTNode) -> dict[str, list[cst.BaseExpression]]:
    """Each name the function binds -> the values it is bound to: the value assigned (to the name, or
    to a tuple of names it is one of), or what a loop binding it runs over."""
    values: dict[str, list[cst.BaseExpression]] = {}
    for node in traverse.walk(body):
        if isinstance(node, cst.Assign):
            pairs = [(t.target, node.value) for t in node.targets]
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            pairs = [(node.target, node.value)]
        elif isinstance(node, (cst.For, cst.CompFor)):
            pairs = [(node.target, node.iter)]
        else:
            continue
        for target, value in pairs:
            for name in traverse.walk(target):
                if isinstance(name, cst.Name):
                    values.setdefault(name.value, []).append(value)
    return values


def _load_names(receiver: cst.BaseExpression, loaded: cst.BaseExpression | None,
                values: dict[str, list[cst.BaseExpression]]) -> set[str]:
    """What names the load's keys: the receiver (`self.model`, `model`, a path's leading parts but a
    bare `self` / `cls`), the loaded dict as spelled, and the values the loaded name is bound to."""
    spelled = dotted(receiver)
    if spelled is None:
        names = {src(receiver)}
    else:
        parts = spelled.split(".")
        names = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        if len(parts) > 1:
            names -= {"self", "cls"}
    if loaded is not None:
        names.add(dotted(loaded) or src(loaded))
        if isinstance(loaded, cst.Name):
            names.update(dotted(v) or src(v) for v in values.get(loaded.value, ()))
    return names


def _named_nodes(expr: cst.BaseExpression) -> Iterable[cst.CSTNode]:
    """The names, attribute paths, calls and subscripts in `expr`, not an attribute's own name nor a
    keyword's (`x.model`, `f(model=...)` do not name `model`)."""
    stack: list[cst.CSTNode] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
            yield node
        if isinstance(node, cst.Attribute):
            stack.append(node.value)
        elif isinstance(node, cst.Arg):
            stack.append(node.value)
        elif not isinstance(node, (cst.Lambda, cst.Param)):
            stack.extend(traverse.children(node))


def _matched(test: cst.BaseExpression) -> bool:
    """`k in own`, alone or joined by `and`: the branch runs only for a name found in a container."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _matched(test.left) or _matched(test.right)
    return isinstance(test, cst.Comparison) and isinstance(test.left, cst.Name) \
        and any(isinstance(c.operator, cst.In) for c in test.comparisons)


def _keys(expr: cst.BaseExpression) -> bool:
    if not isinstance(expr, cst.Call):
        return False
    func = expr.func
    if isinstance(func, cst.Attribute) and func.attr.value == "keys":
        return True
    return isinstance(func, cst.Name) and func.value in ("set", "frozenset")
