"""FZ503 trainable-not-optimized: a model that runs in the training forward, neither frozen nor in
any optimizer (the static side of the runtime code)."""

from __future__ import annotations

import builtins
import re
from typing import Iterable, Iterator

import libcst as cst

from freezelint.check.events import optimizer_classes, requires_grad_sets
from freezelint.check.facts import MODULE, Facts, Scope, is_module_class, is_module_factory
from freezelint.check.known import is_library, is_parameter_free
from freezelint.check.rules.base import FREEZES, OPTIMIZER_CALL, OPTIMIZER_CLASS, Example, Finding, Rule
from freezelint.check.syntax import call_arg, code_of, dotted, string_value
from freezelint.check.traverse import own_nodes

# Methods of the model that touch nothing of its trainability (called as a statement, or `m = m.to(...)`)
_METHODS = frozenset({
    "to", "cuda", "cpu", "half", "float", "double", "bfloat16", "train", "eval",
    "enable_gradient_checkpointing", "gradient_checkpointing_enable", "disable_gradient_checkpointing",
    "enable_xformers_memory_efficient_attention", "set_use_memory_efficient_attention_xformers",
    "enable_slicing", "enable_tiling", "fuse_qkv_projections", "save_pretrained", "register_to_config",
})
_REBINDING = frozenset({"to", "cuda", "cpu", "half", "float", "double", "bfloat16", "train", "eval"})
# Attributes read from the model that hand out none of its parameters
_ATTRS = frozenset({"config", "dtype", "device", "training"})
# Calls the model may be handed to: they leave its parameters alone
_BUILTINS = frozenset({"print", "len", "isinstance", "hasattr", "id", "type", "repr", "str"})
_LOGGERS = frozenset({"logger", "logging", "log", "LOGGER", "LOG"})
# from_pretrained arguments that load a quantized model (its weights cannot take grads)
_QUANTIZED = frozenset({"load_in_8bit", "load_in_4bit", "quantization_config"})
# torch containers and wrappers: a model built from other models holds their parameters too
_CONTAINERS = ("torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict", "torch.nn.DataParallel",
               "torch.nn.parallel")
# A diffusers model class (nn.Module), not a pipeline, scheduler or EMA helper
_DIFFUSERS_MODEL = re.compile(r"(?:UNet\w*|Autoencoder\w*|VQModel|ControlNet\w*|\w*Adapter|\w*Transformer\w*)$"
                              r"|\w*Model$")
_NOT_DIFFUSERS_MODEL = re.compile(r"\w*(?:Pipeline|Scheduler|Output|Config|Mixin|EMAModel)$")
# What a value computed from the model's output may pass through and still carry its graph
_STOP_METHODS = frozenset({"detach", "detach_", "item", "argmax", "argmin", "tolist", "numpy", "size", "dim",
                           "numel", "nelement", "nonzero"})
_STOP_ATTRS = frozenset({"shape", "dtype", "device", "data", "ndim", "is_cuda", "requires_grad", "grad_fn"})
_STOP_CALLS = frozenset({"float", "int", "bool", "len", "str", "isinstance", "torch.argmax", "torch.argmin"})
_MAX_DEPTH = 2


def _parents(module: cst.Module) -> dict[int, cst.CSTNode]:
    out: dict[int, cst.CSTNode] = {}
    stack: list[cst.CSTNode] = [module]
    while stack:
        n = stack.pop()
        for c in n.children:
            out[id(c)] = n
            stack.append(c)
    return out


def _names(expr: cst.CSTNode) -> Iterator[cst.Name]:
    """Names read as values in `expr` (not attribute names, keywords or parameters)."""
    if isinstance(expr, cst.Name):
        yield expr
        return
    if isinstance(expr, cst.Attribute):
        yield from _names(expr.value)
        return
    for c in expr.children:
        if isinstance(c, cst.Arg):
            yield from _names(c.value)
        elif isinstance(c, (cst.Param, cst.Parameters)) or (isinstance(expr, cst.Arg) and c is expr.keyword):
            continue
        else:
            yield from _names(c)


class TrainableNotOptimized(Rule):
    code = "FZ503"
    words = ("backward",)
    triggers = (r"backward\s*\(",)
    requires = (FREEZES, "|".join((OPTIMIZER_CALL, *OPTIMIZER_CLASS)))
    what = (
        "Finds a model built in a function (or the module body) that runs in the training forward, its "
        "output reaching the loss that is backpropagated, while it is neither frozen nor in any optimizer: "
        "another model of the same body is frozen with `requires_grad_(False)`, every optimizer is built "
        "over parameters that leave it out, and nothing else touches its trainability."
    )
    why = (
        "`backward()` computes a grad for every parameter with requires_grad True that the loss depends "
        "on, so each step adds one to the model's `.grad`. An optimizer's `zero_grad()` clears only the "
        "parameters in its own param groups: the model's grads pile up step after step (as much memory "
        "again as its weights, and the backward time through them), and since no optimizer steps them its "
        "weights never change. diffusers' `train_t2i_adapter_sdxl.py` freezes the VAE and text encoders, "
        "optimizes only the adapter, and leaves the UNet out of both."
    )
    notes = (
        "Silent where the model is touched in any other way: `requires_grad` on it or its parts, "
        "`parameters()` / `named_parameters()`, PEFT calls, an attribute or method other than `to()`, "
        "`train()`, `eval()`, `config`, gradient checkpointing and the like, a call it is passed to "
        "(`accelerator.prepare(unet, ...)`, a freezing helper, a wrapper) other than `print`, "
        "`accelerator.unwrap_model`, logging, a diffusers pipeline built for validation and the file's own "
        "functions that do no more; where an optimizer's parameters cannot be read (a function parameter, "
        "`self`, a call of unknown result), under `torch.no_grad()` / `torch.inference_mode()`, and where "
        "the output is detached (`.detach()`, `.item()`, `.argmax()`, a comparison) on its way to the loss. "
        "No fix: whether the model was meant to be frozen or trained is not known."
    )
    bad = [
        Example(
            """
            import torch
            from diffusers import AutoencoderKL, T2IAdapter, UNet2DConditionModel
            from transformers import CLIPTextModel

            def main(args, accelerator, loader, noise_scheduler):
                text_encoder = CLIPTextModel.from_pretrained(args.model, subfolder="text_encoder")
                vae = AutoencoderKL.from_pretrained(args.model, subfolder="vae")
                unet = UNet2DConditionModel.from_pretrained(args.model, subfolder="unet")
                adapter = T2IAdapter(in_channels=3, channels=(320, 640, 1280, 1280))

                vae.requires_grad_(False)
                text_encoder.requires_grad_(False)
                adapter.train()
                unet.train()
                unet.enable_gradient_checkpointing()

                params_to_optimize = adapter.parameters()
                optimizer = torch.optim.AdamW(params_to_optimize, lr=args.learning_rate)
                unet.to(accelerator.device, dtype=torch.float16)
                adapter, optimizer = accelerator.prepare(adapter, optimizer)

                for step, batch in enumerate(loader):
                    latents = vae.encode(batch["pixel_values"]).latent_dist.sample()
                    noise = torch.randn_like(latents)
                    residuals = adapter(batch["conditioning_pixel_values"])
                    model_pred = unet(latents, batch["t"], batch["emb"],  # expect: FZ503
                                      down_block_additional_residuals=residuals).sample
                    loss = torch.nn.functional.mse_loss(model_pred.float(), noise.float())
                    accelerator.backward(loss)
                    optimizer.step()
                    optimizer.zero_grad()
            """,
            instead="""
            import torch
            from diffusers import AutoencoderKL, T2IAdapter, UNet2DConditionModel
            from transformers import CLIPTextModel

            def main(args, accelerator, loader, noise_scheduler):
                text_encoder = CLIPTextModel.from_pretrained(args.model, subfolder="text_encoder")
                vae = AutoencoderKL.from_pretrained(args.model, subfolder="vae")
                unet = UNet2DConditionModel.from_pretrained(args.model, subfolder="unet")
                adapter = T2IAdapter(in_channels=3, channels=(320, 640, 1280, 1280))

                vae.requires_grad_(False)
                text_encoder.requires_grad_(False)
                unet.requires_grad_(False)  # only the adapter trains
                adapter.train()
                unet.train()
                unet.enable_gradient_checkpointing()

                params_to_optimize = adapter.parameters()
                optimizer = torch.optim.AdamW(params_to_optimize, lr=args.learning_rate)
                unet.to(accelerator.device, dtype=torch.float16)
                adapter, optimizer = accelerator.prepare(adapter, optimizer)

                for step, batch in enumerate(loader):
                    latents = vae.encode(batch["pixel_values"]).latent_dist.sample()
                    noise = torch.randn_like(latents)
                    residuals = adapter(batch["conditioning_pixel_values"])
                    model_pred = unet(latents, batch["t"], batch["emb"],
                                      down_block_additional_residuals=residuals).sample
                    loss = torch.nn.functional.mse_loss(model_pred.float(), noise.float())
                    accelerator.backward(loss)
                    optimizer.step()
                    optimizer.zero_grad()
            """,
        ),
        Example(
            """
            import torch
            import torch.nn.functional as F
            import torchvision

            teacher = torchvision.models.resnet50(weights="DEFAULT")
            teacher.eval()  # eval() changes modes, not requires_grad
            backbone = torchvision.models.resnet18(weights="DEFAULT")
            backbone.requires_grad_(False)
            backbone.eval()
            head = torch.nn.Linear(1000, 1000)
            optimizer = torch.optim.SGD([{"params": head.parameters(), "lr": 0.1}], momentum=0.9)
            for x, y in loader:
                logits = head(backbone(x))
                soft = teacher(x).softmax(-1)  # expect: FZ503
                loss = F.cross_entropy(logits, y) + F.kl_div(logits.log_softmax(-1), soft, reduction="batchmean")
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            """,
            instead="""
            import torch
            import torch.nn.functional as F
            import torchvision

            teacher = torchvision.models.resnet50(weights="DEFAULT")
            teacher.eval()
            teacher.requires_grad_(False)
            backbone = torchvision.models.resnet18(weights="DEFAULT")
            backbone.requires_grad_(False)
            backbone.eval()
            head = torch.nn.Linear(1000, 1000)
            optimizer = torch.optim.SGD([{"params": head.parameters(), "lr": 0.1}], momentum=0.9)
            for x, y in loader:
                logits = head(backbone(x))
                with torch.no_grad():
                    soft = teacher(x).softmax(-1)
                loss = F.cross_entropy(logits, y) + F.kl_div(logits.log_softmax(-1), soft, reduction="batchmean")
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            """,
        ),
    ]
    good = [
        """
        import torch
        import torch.nn as nn
        from torchvision.models import resnet18

        # a loss module in the forward holds no parameters: nothing to leave out
        encoder = resnet18(weights=None)
        encoder.requires_grad_(False)
        encoder.eval()
        decoder = nn.Linear(1000, 10)
        loss_fn = torch.nn.MSELoss()
        optimizer = torch.optim.Adam(decoder.parameters(), lr=1e-3)
        for x, y in loader:
            with torch.no_grad():
                feats = encoder(x)
            loss = loss_fn(decoder(feats), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        """,
        # the model in the optimizer through a chain of its parameters
        """
        import itertools
        import torch
        from diffusers import AutoencoderKL, UNet2DConditionModel
        from transformers import CLIPTextModel

        def main(args, loader):
            vae = AutoencoderKL.from_pretrained(args.model)
            text_encoder = CLIPTextModel.from_pretrained(args.model)
            unet = UNet2DConditionModel.from_pretrained(args.model)
            vae.requires_grad_(False)
            params = itertools.chain(unet.parameters(), text_encoder.parameters())
            optimizer = torch.optim.AdamW(params, lr=1e-4)
            for batch in loader:
                loss = unet(vae.encode(batch["x"]).latent_dist.sample(), batch["t"], batch["emb"]).sample.mean()
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
        """,
        # in a param group of its own
        """
        import torch
        import torchvision

        backbone = torchvision.models.resnet18()
        backbone.requires_grad_(False)
        backbone.eval()
        head = torch.nn.Linear(512, 10)
        neck = torch.nn.Linear(1000, 512)
        groups = [{"params": head.parameters(), "lr": 1e-3}, {"params": neck.parameters(), "lr": 1e-4}]
        optimizer = torch.optim.AdamW(groups)
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(head(neck(backbone(x))), y)
            loss.backward()
            optimizer.step()
        """,
        # frozen by a helper, under no_grad, detached
        """
        import torch
        import torchvision

        def main(loader, freeze):
            teacher = torchvision.models.resnet50()
            critic = torchvision.models.resnet18()
            scorer = torchvision.models.resnet18()
            backbone = torchvision.models.resnet18()
            backbone.requires_grad_(False)
            backbone.eval()
            head = torch.nn.Linear(1000, 1000)
            freeze(critic)
            optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
            for x, y in loader:
                with torch.no_grad():
                    soft = teacher(x).softmax(-1)
                target = scorer(x).detach()
                hits = (scorer(x).argmax(-1) == y).float().mean()
                loss = (head(backbone(x)) - soft - target).pow(2).mean() + critic(x).mean()
                loss.backward()
                optimizer.step()
        """,
        # handed to accelerator.prepare with an optimizer whose parameters are not known here
        """
        import torch
        from diffusers import AutoencoderKL, UNet2DConditionModel

        def main(args, accelerator, loader, params):
            vae = AutoencoderKL.from_pretrained(args.model)
            unet = UNet2DConditionModel.from_pretrained(args.model)
            vae.requires_grad_(False)
            optimizer = torch.optim.AdamW(params)
            unet, optimizer = accelerator.prepare(unet, optimizer)
            for batch in loader:
                loss = unet(vae.encode(batch["x"]).latent_dist.sample(), batch["t"], batch["emb"]).sample.mean()
                accelerator.backward(loss)
                optimizer.step()
        """,
        # PEFT adapters on the model: PEFT decides what trains
        """
        import torch
        from peft import LoraConfig
        from diffusers import AutoencoderKL, UNet2DConditionModel

        def main(args, loader):
            vae = AutoencoderKL.from_pretrained(args.model)
            unet = UNet2DConditionModel.from_pretrained(args.model)
            vae.requires_grad_(False)
            unet.add_adapter(LoraConfig(r=4, target_modules=["to_q", "to_v"]))
            head = torch.nn.Linear(4, 4)  # trained beside the adapters (an optimizer of frozen parameters is FZ301's)
            optimizer = torch.optim.AdamW(head.parameters())
            for batch in loader:
                loss = head(unet(vae.encode(batch["x"]).latent_dist.sample(), batch["t"], batch["emb"]).sample).mean()
                loss.backward()
                optimizer.step()
        """,
        # a Lightning module: the optimizer comes from configure_optimizers, the loop is Lightning's
        """
        import lightning as L
        import torch
        import torchvision

        class Distill(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.teacher = torchvision.models.resnet50()
                self.teacher.requires_grad_(False)
                self.student = torchvision.models.resnet18()

            def training_step(self, batch, idx):
                x, y = batch
                return torch.nn.functional.mse_loss(self.student(x), self.teacher(x))

            def configure_optimizers(self):
                return torch.optim.AdamW(self.student.parameters())
        """,
    ]

    def check(self, facts: Facts, module: cst.Module) -> Iterable[Finding]:
        self._facts = facts
        self._module = module
        self._parent = _parents(module)
        optimizers = self._optimizers(facts)
        if not optimizers:
            return
        bodies: list[tuple[Scope, cst.CSTNode]] = [(facts.module_scope, module)]
        bodies += [(s, s.node) for s in facts.func_scopes.values() if isinstance(s.node, cst.FunctionDef)]
        resolved: dict[int, set[str] | None] = {}
        for scope, node in bodies:
            own_ids = {id(n) for n in own_nodes(node)}
            built = self._built_models(scope)
            if not built or not any(id(call) in own_ids for call, _ in optimizers):
                continue
            frozen = self._frozen_whole(scope, node, built)
            if not frozen:
                continue
            for name, value in built.items():
                if any(f == name for f in frozen):
                    continue
                forwards: list[cst.Call] = []
                if not self._uses_ok(name, scope, node, forwards, 0):
                    continue
                if not self._left_out(name, optimizers, resolved):
                    continue
                for f in forwards:
                    if id(f) in own_ids and self._reaches_backward(f, node):
                        other = next(x for x in frozen if x != name)
                        yield self.finding(
                            f,
                            f"`{name}` runs in the training forward but is neither frozen nor in any optimizer: "
                            f"backward computes a grad for each of its parameters at every step, nothing zeroes "
                            f"them, and `{name}` never trains; freeze it (`{name}.requires_grad_(False)`, as done "
                            f"for `{other}`) or add its parameters to the optimizer",
                            stmt=self._stmt_of(f))
                        break

    # ------------------------------------------------------------------ the model
    def _built_models(self, scope: Scope) -> dict[str, cst.Call]:
        """Names bound once in the body to a new model (and otherwise only to `name.to(...)`-style calls)."""
        out = {}
        for name, bs in scope.bindings.items():
            if not bs or any(b.how != "expr" or b.index or b.node is None for b in bs):
                continue
            builds = [b.node for b in bs if not self._self_returning(b.node, name)]
            if len(builds) == 1 and isinstance(builds[0], cst.Call) and self._builds_model(builds[0], scope):
                out[name] = builds[0]
        return out

    @staticmethod
    def _self_returning(value: cst.CSTNode, name: str) -> bool:
        return isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) \
            and value.func.attr.value in _REBINDING and isinstance(value.func.value, cst.Name) \
            and value.func.value.value == name

    def _builds_model(self, call: cst.Call, scope: Scope) -> bool:
        """A call of a library model class or factory, a from_pretrained of a transformers or diffusers
        model class, or a class of this file that touches no trainability; none handed another model."""
        facts = self._facts
        if any(a.keyword is not None and a.keyword.value in _QUANTIZED for a in call.args):
            return False
        for n in (n for a in call.args for n in _names(a.value)):
            if self._is_model_name(n, scope):
                return False  # built over another model: it holds that model's parameters
        func = call.func
        q = facts.qualname(func, scope) or ""
        if q.startswith(_CONTAINERS) or is_parameter_free(q):
            return False  # a loss or activation module holds no parameters to leave out
        if q and is_library(q) and (is_module_class(q) or is_module_factory(q)):
            return True
        if q.startswith("diffusers.") and self._diffusers_model(q):
            return True
        if isinstance(func, cst.Attribute) and func.attr.value in ("from_pretrained", "from_config"):
            owner = facts.qualname(func.value, scope) or ""
            if owner.startswith("diffusers."):
                return self._diffusers_model(owner)
            if owner.startswith("transformers."):
                kind = facts.kind(call, scope)
                return kind is not None and kind.tag == MODULE
            return False
        kind = facts.kind(call, scope)
        if kind is not None and kind.tag == MODULE and kind.cls is not None and isinstance(func, cst.Name):
            return self._clean_class(kind.cls.node, 0)
        return False

    @staticmethod
    def _diffusers_model(q: str) -> bool:
        last = q.rsplit(".", 1)[-1]
        return "training_utils" not in q and bool(_DIFFUSERS_MODEL.fullmatch(last)) \
            and not _NOT_DIFFUSERS_MODEL.fullmatch(last)

    def _clean_class(self, node: cst.ClassDef, depth: int) -> bool:
        """A Module class of this file whose code touches no trainability or grad mode, its bases
        nn.Module or such classes of this file."""
        if depth > 3 or re.search(r"requires_grad|freeze|no_grad|inference_mode|detach|\.eval\(|parameters\(",
                                  code_of(node)):
            return False
        for b in node.bases:
            q = self._facts.qualname(b.value, self._facts.module_scope) or ""
            if q in ("torch.nn.Module", "torch.nn.modules.module.Module"):
                continue
            info = self._facts.classes.get(q)
            if info is None or not self._clean_class(info.node, depth + 1):
                return False
        return True

    def _is_model_name(self, n: cst.Name, scope: Scope) -> bool:
        kind = self._facts.kind(n, scope)
        return kind is not None and kind.tag == MODULE

    # ------------------------------------------------------------------ frozen elsewhere
    def _frozen_whole(self, scope: Scope, node: cst.CSTNode, built: dict[str, cst.Call]) -> list[str]:
        """Models of the body frozen whole: `x.requires_grad_(False)`, a loop over `x.parameters()`
        setting requires_grad False, or `requires_grad_(False)` in a loop over a list of models."""
        out: list[str] = []
        for n in own_nodes(node):
            for x, v, _method in requires_grad_sets(n, scope) if isinstance(n, (cst.Call, cst.Assign,
                                                                                cst.AnnAssign)) else ():
                if not (isinstance(v, cst.Name) and v.value == "False") or not isinstance(x, cst.Name):
                    continue
                for name in self._frozen_names(x, scope, built):
                    if name not in out:
                        out.append(name)
        return out

    def _frozen_names(self, x: cst.Name, scope: Scope, built: dict[str, cst.Call]) -> list[str]:
        owner = scope.lookup(x.value)
        bs = owner.bindings.get(x.value, []) if owner is not None else []
        if len(bs) == 1 and bs[0].how == "iter" and bs[0].node is not None:
            it = bs[0].node
            if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) \
                    and it.func.attr.value in ("parameters", "named_parameters") and isinstance(it.func.value, cst.Name):
                return [it.func.value.value]
            if isinstance(it, (cst.List, cst.Tuple)):
                return [e.value.value for e in it.elements if isinstance(e.value, cst.Name)
                        and (e.value.value in built or self._is_model_name(e.value, scope))]
            return []
        return [x.value] if x.value in built or self._is_model_name(x, scope) else []

    # ------------------------------------------------------------------ every use of the model
    def _uses_ok(self, name: str, scope: Scope, root: cst.CSTNode, forwards: list[cst.Call], depth: int) -> bool:
        """Every read of `name` in `root` (nested definitions included, where they do not bind a
        name of their own) is one that leaves its trainability alone; its forward calls go to `forwards`."""
        for n in self._reads(name, root):
            if not self._use_ok(n, scope, forwards, depth):
                return False
        return True

    def _reads(self, name: str, root: cst.CSTNode) -> Iterator[cst.Name]:
        stack: list[cst.CSTNode] = [root]
        while stack:
            n = stack.pop()
            if n is not root and isinstance(n, (cst.FunctionDef, cst.Lambda)):
                inner = self._facts.func_scopes.get(id(n)) if isinstance(n, cst.FunctionDef) else None
                params = n.params if isinstance(n, (cst.FunctionDef, cst.Lambda)) else None
                if (inner is not None and name in inner.bindings) or (
                        params is not None and any(p.name.value == name for p in (*params.params, *params.posonly_params,
                                                                                  *params.kwonly_params))):
                    continue  # a name of its own
            if isinstance(n, cst.Name) and n.value == name:
                p = self._parent.get(id(n))
                if isinstance(p, cst.Attribute) and p.attr is n or isinstance(p, cst.Arg) and p.keyword is n \
                        or isinstance(p, (cst.Param, cst.FunctionDef, cst.ClassDef, cst.ImportAlias)):
                    continue
                yield n
            stack.extend(n.children)

    def _use_ok(self, expr: cst.BaseExpression, scope: Scope, forwards: list[cst.Call], depth: int) -> bool:
        facts = self._facts
        p = self._parent.get(id(expr))
        if isinstance(p, cst.AssignTarget) and p.target is expr and isinstance(expr, cst.Name):
            return True  # one of its bindings (checked: the build and `m = m.to(...)`)
        if isinstance(p, (cst.Del, cst.FormattedStringExpression)):
            return True
        if isinstance(p, cst.Call) and p.func is expr:
            forwards.append(p)
            return True
        if isinstance(p, cst.Attribute) and p.value is expr:
            attr = p.attr.value
            if attr in _ATTRS:
                return True
            gp = self._parent.get(id(p))
            if attr in _METHODS and isinstance(gp, cst.Call) and gp.func is p:
                use = self._parent.get(id(gp))
                if isinstance(use, cst.Expr):
                    return True
                return attr in _REBINDING and isinstance(use, cst.Assign) and len(use.targets) == 1 \
                    and isinstance(use.targets[0].target, cst.Name) and isinstance(expr, cst.Name) \
                    and use.targets[0].target.value == expr.value
            return False
        if isinstance(p, cst.Comparison) or isinstance(p, cst.ComparisonTarget) \
                and isinstance(p.operator, (cst.Is, cst.IsNot)):
            return True
        if not (isinstance(p, cst.Arg) and p.value is expr and not p.star):
            return False
        call = self._parent.get(id(p))
        if not isinstance(call, cst.Call):
            return False
        func = call.func
        q = facts.qualname(func, scope) or ""
        path = dotted(func) or ""
        last = path.rsplit(".", 1)[-1]
        if q in _BUILTINS:
            return True
        if q == "getattr":
            return string_value(call_arg(call, 1) or cst.Name("x")) in _ATTRS
        if path.split(".")[0] in _LOGGERS and "." in path or last == "print":
            return True
        if last == "unwrap_model":
            return self._use_ok(call, scope, forwards, depth)
        if p.keyword is not None:
            owner = func.value if isinstance(func, cst.Attribute) and func.attr.value == "from_pretrained" else func
            oq = facts.qualname(owner, scope) or ""
            if oq.startswith("diffusers.") and oq.endswith("Pipeline"):
                return True  # a pipeline built to sample with it
        if isinstance(func, cst.Name) and depth < _MAX_DEPTH:
            fdef = facts.resolve_def(func, scope)
            inner = facts.func_scopes.get(id(fdef)) if fdef is not None else None
            param = self._param_for(fdef, call, p) if fdef is not None else None
            if inner is not None and param is not None:
                bs = inner.bindings.get(param, [])
                return all(b.how == "param" for b in bs) and self._uses_ok(param, inner, fdef, [], depth + 1)
        return False

    @staticmethod
    def _param_for(fdef: cst.FunctionDef, call: cst.Call, arg: cst.Arg) -> str | None:
        if any(a.star for a in call.args) or fdef.params.star_kwarg is not None and arg.keyword is not None:
            return None
        params = [*fdef.params.posonly_params, *fdef.params.params]
        if arg.keyword is not None:
            names = [q.name.value for q in (*params, *fdef.params.kwonly_params)]
            return arg.keyword.value if arg.keyword.value in names else None
        i = [a for a in call.args if a.keyword is None].index(arg)
        return params[i].name.value if i < len(params) else None

    # ------------------------------------------------------------------ optimizers
    def _optimizers(self, facts: Facts) -> list[tuple[cst.Call, Scope]]:
        """Every optimizer build of the file, as the flow layer recognises them (events.optimizer_classes)."""
        return [(mc.call, mc.ctx.scope) for mc in (*facts.name_calls, *facts.method_calls)
                if optimizer_classes(mc.call.func, mc.ctx.scope)]

    def _left_out(self, name: str, optimizers, resolved: dict[int, set[str] | None]) -> bool:
        """Every optimizer of the file is built over parameters that can be read, none of `name`'s."""
        for call, scope in optimizers:
            if id(call) not in resolved:
                arg = call_arg(call, 0, "params")
                got: set[str] = set()
                resolved[id(call)] = got if arg is not None and self._resolve(arg, scope, got, set(), 0) else None
            names = resolved[id(call)]
            if names is None or name in names:
                return False
        return True

    def _resolve(self, expr: cst.CSTNode, scope: Scope, got: set[str], bound: set[str], depth: int) -> bool:
        """Collect the names `expr` reads, following local names to what they are assigned (and what
        is appended to them); False where something cannot be read."""
        if depth > 8:
            return False
        if isinstance(expr, cst.Name):
            return self._resolve_name(expr, scope, got, bound, depth)
        if isinstance(expr, cst.Attribute):
            return self._receiver(expr.value, scope, got, bound, depth)
        if isinstance(expr, cst.Dict):
            for el in expr.elements:
                if not isinstance(el, cst.DictElement):
                    return False
                if string_value(el.key) == "params" and not self._resolve(el.value, scope, got, bound, depth):
                    return False
            return True
        if isinstance(expr, cst.Call):
            if not (self._resolve(expr.func, scope, got, bound, depth) if isinstance(expr.func, cst.Name)
                    else self._receiver(expr.func, scope, got, bound, depth)):
                return False
            for a in expr.args:
                if (a.keyword is None or a.keyword.value == "params") \
                        and not self._resolve(a.value, scope, got, bound, depth):
                    return False
            return True
        if isinstance(expr, cst.Lambda):
            inner = bound | {p.name.value for p in expr.params.params}
            return self._resolve(expr.body, scope, got, inner, depth)
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp, cst.DictComp)):
            inner = set(bound)
            f = expr.for_in
            while f is not None:
                inner |= {n.value for n in _names(f.target)}
                f = f.inner_for_in
            return all(self._resolve(c, scope, got, inner, depth) for c in expr.children)
        return all(self._resolve(c, scope, got, bound, depth) for c in expr.children
                   if not isinstance(c, cst.Param))

    def _receiver(self, expr: cst.CSTNode, scope: Scope, got: set[str], bound: set[str], depth: int) -> bool:
        """The object a method is called on or an attribute read from (`adapter` of
        `adapter.parameters()`): its root name is collected, not followed (what it was assigned says
        nothing of which parameters it hands out); a parameter of the function is not known."""
        while isinstance(expr, (cst.Attribute, cst.Subscript)) or isinstance(expr, cst.Call) \
                and isinstance(expr.func, cst.Attribute):
            if isinstance(expr, cst.Call):
                if not all(self._resolve(a.value, scope, got, bound, depth) for a in expr.args if a.keyword is None):
                    return False
                expr = expr.func
            expr = expr.value
        if not isinstance(expr, cst.Name):
            return self._resolve(expr, scope, got, bound, depth)
        if expr.value in bound:
            return True
        owner = scope.lookup(expr.value)
        if owner is None:
            return hasattr(builtins, expr.value)
        bs = owner.bindings.get(expr.value, [])
        if not bs or any(b.how in ("param", "opaque") for b in bs):
            return False
        got.add(expr.value)
        return True

    def _resolve_name(self, n: cst.Name, scope: Scope, got: set[str], bound: set[str], depth: int) -> bool:
        name = n.value
        if name in bound or name in ("True", "False", "None"):
            return True
        owner = scope.lookup(name)
        if owner is None:
            return hasattr(builtins, name)
        if name in got:
            return True
        got.add(name)
        if self._is_model_name(n, scope) or any(b.how == "expr" and isinstance(b.node, cst.Call)
                                                and self._builds_model(b.node, b.scope or owner)
                                                for b in owner.bindings.get(name, [])):
            return True  # a model: its name is what counts
        for b in owner.bindings.get(name, []):
            if b.how == "import":
                continue
            if b.how not in ("expr", "iter") or b.node is None:
                return False  # a parameter, or bound by something that cannot be read
            if not self._resolve(b.node, b.scope or owner, got, bound, depth + 1):
                return False
        # what is appended or added to it in the body that binds it
        root = owner.node if owner.node is not None else self._module
        for c in own_nodes(root):
            if isinstance(c, cst.Call) and isinstance(c.func, cst.Attribute) and isinstance(c.func.value, cst.Name) \
                    and c.func.value.value == name and c.func.attr.value in ("append", "extend", "insert", "add",
                                                                            "update", "__iadd__"):
                if not all(self._resolve(a.value, owner, got, bound, depth + 1) for a in c.args):
                    return False
            elif isinstance(c, cst.AugAssign) and isinstance(c.target, cst.Name) and c.target.value == name:
                if not self._resolve(c.value, owner, got, bound, depth + 1):
                    return False
        return True

    # ------------------------------------------------------------------ the output reaches backward
    def _reaches_backward(self, forward: cst.Call, body: cst.CSTNode) -> bool:
        loop = None
        n: cst.CSTNode | None = forward
        while n is not None and n is not body:
            if isinstance(n, cst.With) and any(self._no_grad(item.item) for item in n.items):
                return False
            if isinstance(n, (cst.For, cst.While)):
                loop = n
            n = self._parent.get(id(n))
        if loop is None:
            return False
        if isinstance(body, cst.FunctionDef) and any(self._no_grad(d.decorator) for d in body.decorators):
            return False
        tainted: set[str] = set()
        nodes = list(own_nodes(loop))
        changed = True
        while changed:
            changed = False
            for s in nodes:
                hit: list[cst.BaseExpression] = []
                if isinstance(s, cst.Assign) and self._tainted(s.value, forward, tainted):
                    hit = [t.target for t in s.targets]
                elif isinstance(s, (cst.AnnAssign, cst.AugAssign)) and s.value is not None \
                        and self._tainted(s.value, forward, tainted):
                    hit = [s.target]
                elif isinstance(s, cst.For) and self._tainted(s.iter, forward, tainted):
                    hit = [s.target]
                elif isinstance(s, cst.Call) and isinstance(s.func, cst.Attribute) \
                        and s.func.attr.value in ("append", "extend", "insert") \
                        and any(self._tainted(a.value, forward, tainted) for a in s.args):
                    hit = [s.func.value]
                for t in hit:
                    for name in _names(t):
                        if name.value not in tainted:
                            tainted.add(name.value)
                            changed = True
        for s in nodes:
            if isinstance(s, cst.Call) and isinstance(s.func, cst.Attribute) \
                    and s.func.attr.value in ("backward", "manual_backward"):
                if self._tainted(s.func.value, forward, tainted) or any(
                        self._tainted(a.value, forward, tainted) for a in s.args if a.keyword is None):
                    return True
        return False

    def _no_grad(self, expr: cst.BaseExpression) -> bool:
        call = expr if isinstance(expr, cst.Call) else None
        func = call.func if call is not None else expr
        q = self._facts.qualname(func, self._facts.module_scope) or dotted(func) or ""
        last = q.rsplit(".", 1)[-1]
        if last in ("no_grad", "inference_mode"):
            return True
        if last == "set_grad_enabled":  # False, or a flag: not known to be on
            arg = call_arg(call, 0, "mode") if call is not None else None
            return not (isinstance(arg, cst.Name) and arg.value == "True")
        return False

    def _tainted(self, expr: cst.CSTNode, forward: cst.Call, tainted: set[str]) -> bool:
        if expr is forward:
            return True
        if isinstance(expr, cst.Name):
            return expr.value in tainted
        if isinstance(expr, (cst.Comparison, cst.Lambda)):
            return False
        if isinstance(expr, cst.Attribute):
            return expr.attr.value not in _STOP_ATTRS and self._tainted(expr.value, forward, tainted)
        if isinstance(expr, cst.Call):
            func = expr.func
            if isinstance(func, cst.Attribute) and func.attr.value in _STOP_METHODS or dotted(func) in _STOP_CALLS:
                return False
        return any(self._tainted(c, forward, tainted) for c in expr.children)

    def _stmt_of(self, node: cst.CSTNode) -> cst.CSTNode | None:
        n: cst.CSTNode | None = node
        while n is not None and not isinstance(n, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            n = self._parent.get(id(n))
        return n
