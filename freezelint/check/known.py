"""What the checker knows about library names: which classes and factories give nn.Modules.

Pure tables over qualified names; nothing here imports torch.
"""

from __future__ import annotations

# Methods of nn.Module that return the module itself (the name keeps its kind).
SELF_RETURNING = frozenset(
    {"to", "cuda", "cpu", "train", "eval", "requires_grad_", "float", "half", "double",
     "bfloat16", "type", "to_empty", "share_memory", "xpu", "ipu", "mtia"}
)
_NON_MODULE_NN = frozenset({"Parameter", "UninitializedParameter", "UninitializedBuffer", "Buffer"})
_NN_NON_MODULE_PACKAGES = frozenset(
    {"utils", "functional", "init", "parameter", "grad", "common_types", "attention", "modules.utils"}
)
_TV_NON_FACTORIES = frozenset({"get_weight", "list_models", "get_model_weights", "get_model_builder"})
_MODULE_BASES = frozenset(
    {"lightning.pytorch.LightningModule", "pytorch_lightning.LightningModule",
     "lightning.LightningModule", "transformers.PreTrainedModel",
     "transformers.modeling_utils.PreTrainedModel",
     # the base of nearly every OpenMMLab backbone, neck and head (an nn.Module with init_cfg)
     "mmengine.model.BaseModule", "mmengine.model.base_module.BaseModule", "mmengine.model.BaseModel",
     "mmcv.runner.BaseModule", "mmcv.runner.base_module.BaseModule"}
)
TIMM_FACTORIES = frozenset({"timm.create_model", "timm.models.create_model"})
_MODULE_FACTORIES = TIMM_FACTORIES | frozenset(
    {"torch.compile", "copy.deepcopy",
     "torchvision.models.get_model",
     "torchvision.models.feature_extraction.create_feature_extractor"}
)


def is_module_class(qualname: str | None) -> bool:
    """True when `qualname` names a class whose instances are nn.Modules."""
    if not qualname:
        return False
    if qualname in _MODULE_BASES:
        return True
    parts = qualname.split(".")
    last = parts[-1]
    if not last[:1].isupper():
        return False
    if qualname.startswith("torch.nn.") or qualname.startswith("torch.ao.nn."):
        inner = parts[2:-1]
        return last not in _NON_MODULE_NN and not any(p in _NN_NON_MODULE_PACKAGES for p in inner)
    if qualname.startswith(("torchvision.models.", "torchvision.ops.", "timm.models.", "timm.layers.")):
        return not last.endswith("Weights") and "utils" not in parts
    if qualname.startswith("transformers.") and len(parts) == 2:
        return last.endswith("Model") or "For" in last
    return False


# transformers classes that are no nn.Module although scripts call them like a layer
# (`self.processor(x, return_tensors="pt")`): tokenizers, processors, feature extractors, configs
_TRANSFORMERS_NON_MODULE = ("Tokenizer", "TokenizerFast", "Processor", "ProcessorFast", "FeatureExtractor",
                            "Config", "Pipeline", "Collator")


def is_non_module_class(qualname: str | None) -> bool:
    """True when `qualname` names a library class (or factory) known to give no nn.Module: use as a
    callable proves nothing then."""
    if not qualname:
        return False
    parts = qualname.split(".")
    if parts[0] in ("tokenizers", "sentencepiece"):
        return True
    if parts[0] != "transformers":
        return False
    last = parts[-1]
    return last == "pipeline" or last.endswith(_TRANSFORMERS_NON_MODULE) or last.startswith("DataCollator")


# torch.nn classes whose instances hold submodules; every other torch.nn class is a leaf.
_NN_CONTAINERS = frozenset({
    "Module", "Sequential", "ModuleList", "ModuleDict", "Transformer", "TransformerEncoder",
    "TransformerDecoder", "TransformerEncoderLayer", "TransformerDecoderLayer",
    "MultiheadAttention", "DataParallel", "DistributedDataParallel",
})


def is_leaf_module_class(qualname: str | None) -> bool:
    """A torch.nn layer without child modules (Linear, BatchNorm2d, ReLU, ...)."""
    if not qualname or not qualname.startswith("torch.nn.") or not is_module_class(qualname):
        return False
    return qualname.rsplit(".", 1)[1] not in _NN_CONTAINERS and ".parallel." not in qualname


_NN_ITEMS = {"Sequential": "seq", "ModuleList": "seq", "ModuleDict": "dict"}


def module_items(qualname: str | None) -> str | None:
    """What indexing a torch.nn container gives: "seq" for nn.Sequential and nn.ModuleList (every
    item, slice and element is a Module), "dict" for nn.ModuleDict (every item and value is one;
    iterating it gives the keys); None for any other class (nn.ParameterList items are Parameters)."""
    if not qualname or not qualname.startswith("torch.nn.") or not is_module_class(qualname):
        return None
    return _NN_ITEMS.get(qualname.rsplit(".", 1)[1])


# Packages whose functions are never a project's own: an argument handed to them is not followed.
_LIBRARIES = frozenset({"torch", "torchvision", "timm", "transformers", "lightning", "pytorch_lightning", "peft",
                        "accelerate", "numpy", "os", "sys", "math", "copy", "functools", "itertools", "typing",
                        "collections", "json", "logging", "random", "time", "tqdm", "re", "pathlib"})


def is_library(qualname: str) -> bool:
    """A name imported from a well-known library (never relative: `.helpers.f` is the project's)."""
    return qualname.split(".", 1)[0] in _LIBRARIES


# torch.nn layers without parameters: one assigned after the optimizer was built leaves nothing out of it.
_PARAMETER_FREE = frozenset({
    "Identity", "Flatten", "Unflatten", "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU",
    "Mish", "Sigmoid", "Tanh", "Hardtanh", "Hardswish", "Hardsigmoid", "Softplus", "Softmax", "LogSoftmax",
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "MaxPool1d", "MaxPool2d", "MaxPool3d",
    "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "Upsample", "PixelShuffle", "ZeroPad2d",
})


def is_parameter_free(qualname: str | None) -> bool:
    """A torch.nn layer or loss that holds no parameters (ReLU, Dropout, pooling, CrossEntropyLoss)."""
    if not qualname or not qualname.startswith("torch.nn."):
        return False
    last = qualname.rsplit(".", 1)[1]
    return last in _PARAMETER_FREE or last.endswith("Loss")


_BATCHNORM = frozenset({"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm1d",
                        "LazyBatchNorm2d", "LazyBatchNorm3d", "_BatchNorm"})


def is_batchnorm_class(qualname: str | None) -> bool:
    """A class of the BatchNorm family (running statistics, `affine`), reached through torch.nn."""
    return bool(qualname) and qualname.startswith("torch.nn.") and qualname.rsplit(".", 1)[1] in _BATCHNORM


_FAMILY = "torch.nn.modules.batchnorm._BatchNorm"


def batchnorm_name_tests(test, bound, covering: bool = False) -> list[tuple[str, str]]:
    """(name, class) for each name an `if` test proves to be a BatchNorm layer by its class's name,
    alone or joined by `and`: `"BatchNorm2d" in classname`, `classname.find("BatchNorm") != -1`,
    `type(m).__name__ == "BatchNorm2d"`, `m.__class__.__name__.startswith("BatchNorm")`,
    `classname in ("BatchNorm2d", "SyncBatchNorm")`, where the
    class name is `m.__class__.__name__`, `type(m).__name__` or a name `bound(name)` gives one of those
    for (`classname = m.__class__.__name__`). The class: torch.nn's of that name, `_BatchNorm` for
    the family. `covering`: also a test every BatchNorm class's name passes though others do too
    (`"Norm" in classname`, `classname.find("Batch") != -1`): what it does to the layer (`m.eval()`)
    reaches every BatchNorm, though it proves no layer one."""
    import libcst as cst  # only a parsed file asks

    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return batchnorm_name_tests(test.left, bound, covering) + batchnorm_name_tests(test.right, bound, covering)
    return [(layer, classes[0] if len(classes) == 1 else _FAMILY)
            for layer, classes in batchnorm_name_kinds(test, bound, covering)]


def batchnorm_name_kinds(test, bound, covering: bool = False, prefixes: bool = False) -> list[tuple[str, list[str]]]:
    """(name, classes) of one class-name test (no `and`), as `batchnorm_name_tests` reads it, with
    every class it names (`classname in ("BatchNorm2d", "SyncBatchNorm")`: both, in order), for a
    rule that asks which kinds a test leaves out; with `prefixes`, also a shorter prefix of
    `BatchNorm` (`classname.startswith("Batch")`), read as the kinds whose names pass it."""
    import libcst as cst

    found = _name_test(test)
    if found is None:
        return []
    expr, texts, how = found
    if isinstance(expr, cst.Name):
        expr = bound(expr.value)
    layer = _class_name_of(expr) if expr is not None else None
    if covering and how != "equal" and len(texts) == 1 and isinstance(texts[0], str) and len(texts[0]) >= 4 and \
            (texts[0] in "BatchNorm" if how == "in" else "BatchNorm".startswith(texts[0])):
        texts = ["BatchNorm"]  # every BatchNorm's name passes it: the family, as far as a freeze goes
    if prefixes and how == "start" and len(texts) == 1 and isinstance(texts[0], str) and len(texts[0]) >= 4 \
            and "BatchNorm".startswith(texts[0]):
        texts = ["BatchNorm"]
    if how == "start" and texts == ["BatchNorm"]:  # `.startswith("BatchNorm")`: not SyncBatchNorm, nor the Lazy ones
        texts = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]
    classes = [f"torch.nn.{t}" if t in _BATCHNORM else _FAMILY if t == "BatchNorm" else None for t in texts]
    if layer is None or None in classes:
        return []
    return [(layer, list(dict.fromkeys(classes)))]


def class_name_test(test):
    """(tested expression, texts, how it tests them: "in" a substring, "start" a prefix, "equal")
    of `"t" in e`, `e == "t"`, `e in ("t", "u")`, `e.startswith("t")`, `e.find("t") != -1` (or `>= 0`,
    `> -1`; `== 0` a prefix), else None."""
    return _name_test(test)


def _name_test(test):
    """As class_name_test."""
    import libcst as cst

    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        op, right = test.comparisons[0].operator, test.comparisons[0].comparator
        if isinstance(op, cst.In) and isinstance(test.left, cst.SimpleString):
            return right, [test.left.evaluated_value], "in"
        if isinstance(op, cst.Equal) and isinstance(right, cst.SimpleString):
            return test.left, [right.evaluated_value], "equal"
        if isinstance(op, cst.In) and isinstance(right, (cst.Tuple, cst.List, cst.Set)) and right.elements \
                and all(isinstance(e, cst.Element) and isinstance(e.value, cst.SimpleString) for e in right.elements):
            return test.left, [e.value.evaluated_value for e in right.elements], "equal"
        call = test.left
        if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "find" \
                and len(call.args) == 1 and isinstance(call.args[0].value, cst.SimpleString):
            if _not_minus_one(op, right):
                return call.func.value, [call.args[0].value.evaluated_value], "in"
            if isinstance(op, cst.Equal) and isinstance(right, cst.Integer) and right.value == "0":
                return call.func.value, [call.args[0].value.evaluated_value], "start"
    if isinstance(test, cst.Call) and isinstance(test.func, cst.Attribute) and test.func.attr.value == "startswith" \
            and len(test.args) == 1 and isinstance(test.args[0].value, cst.SimpleString):
        return test.func.value, [test.args[0].value.evaluated_value], "start"
    return None


def _not_minus_one(op, right) -> bool:
    """`!= -1`, `> -1`, `>= 0`: what `str.find` gives for a match."""
    import libcst as cst

    code = cst.Module(body=[]).code_for_node(right).replace(" ", "")
    return (isinstance(op, (cst.NotEqual, cst.GreaterThan)) and code == "-1") \
        or (isinstance(op, cst.GreaterThanEqual) and code == "0")


def _class_name_of(expr) -> str | None:
    """`m` of `m.__class__.__name__` or `type(m).__name__`."""
    import libcst as cst

    if not (isinstance(expr, cst.Attribute) and expr.attr.value == "__name__"):
        return None
    owner = expr.value
    if isinstance(owner, cst.Attribute) and owner.attr.value == "__class__" and isinstance(owner.value, cst.Name):
        return owner.value.value
    if isinstance(owner, cst.Call) and isinstance(owner.func, cst.Name) and owner.func.value == "type" \
            and len(owner.args) == 1 and isinstance(owner.args[0].value, cst.Name):
        return owner.args[0].value.value
    return None


def is_tensor_class(qualname: str | None) -> bool:
    """A tensor class (`torch.Tensor`, `nn.Parameter`, `nn.Buffer`): no instance is a Module."""
    if not qualname:
        return False
    if qualname == "torch.Tensor":
        return True
    head, _, last = qualname.rpartition(".")
    return head in ("torch.nn", "torch.nn.parameter") and last in _NON_MODULE_NN


def tensor_guards(test, qualname) -> list[str]:
    """Names an `if` test proves to be tensors: `isinstance(x, nn.Parameter)`, alone or joined
    by `and`, every class of it a tensor class. `qualname` resolves an expression in its scope."""
    import libcst as cst  # only a parsed file asks

    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return tensor_guards(test.left, qualname) + tensor_guards(test.right, qualname)
    if not (isinstance(test, cst.Call) and qualname(test.func) == "isinstance" and len(test.args) == 2
            and isinstance(test.args[0].value, cst.Name) and not any(a.star or a.keyword for a in test.args)):
        return []
    classes = test.args[1].value
    exprs = [e.value for e in classes.elements] if isinstance(classes, cst.Tuple) else [classes]
    return [test.args[0].value.value] if exprs and all(is_tensor_class(qualname(e)) for e in exprs) else []


def is_module_factory(qualname: str | None) -> bool:
    """True when calling `qualname` returns a Module (functions, not classes)."""
    if not qualname:
        return False
    if qualname in _MODULE_FACTORIES:
        return True
    parts = qualname.split(".")
    last = parts[-1]
    if qualname.startswith("torchvision.models.") and last[:1].islower():
        return last not in _TV_NON_FACTORIES and "utils" not in parts and not last.startswith("_")
    return False



# Optimizer classes besides torch.optim's that training scripts build: bitsandbytes' (diffusers'
# `--use_8bit_adam`), transformers' own AdamW and Adafactor, Prodigy (diffusers' `--optimizer prodigy`).
_OPTIMIZER_PACKAGES = ("torch.optim.", "bitsandbytes.optim.", "bnb.optim.")
_OPTIMIZER_CLASSES = frozenset({"transformers.AdamW", "transformers.optimization.AdamW", "transformers.Adafactor",
                                "transformers.optimization.Adafactor", "prodigyopt.Prodigy"})
# torch.optim's modules of other things than optimizers (schedulers, SWA's AveragedModel)
_NOT_OPTIMIZERS = ("torch.optim.lr_scheduler.", "torch.optim.swa_utils.")


def is_optimizer_class(qualname: str | None) -> bool:
    """A class whose instances are optimizers over the parameters given first (torch.optim.AdamW,
    bitsandbytes.optim.AdamW8bit, ...); not the Optimizer base classes, schedulers, or SWA's model."""
    if not qualname:
        return False
    if qualname in _OPTIMIZER_CLASSES:
        return True
    if not qualname.startswith(_OPTIMIZER_PACKAGES) or qualname.startswith(_NOT_OPTIMIZERS):
        return False
    last = qualname.rsplit(".", 1)[1]
    return last[:1].isupper() and not last.startswith("Optimizer") and not last.endswith("Manager")


# nn.Module's own methods: a call of one is never a project method to look up.
MODULE_METHODS = SELF_RETURNING | frozenset({
    "parameters", "named_parameters", "buffers", "named_buffers", "modules", "named_modules", "children",
    "named_children", "state_dict", "load_state_dict", "forward", "zero_grad", "register_buffer",
    "register_parameter", "add_module", "register_module", "get_submodule", "get_parameter",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook", "extra_repr",
})


_BASE_FINETUNING = frozenset({"lightning.pytorch.callbacks.BaseFinetuning", "pytorch_lightning.callbacks.BaseFinetuning",
                              "lightning.pytorch.callbacks.finetuning.BaseFinetuning",
                              "pytorch_lightning.callbacks.finetuning.BaseFinetuning"})


def is_base_finetuning(qualname: str | None) -> bool:
    """Lightning's BaseFinetuning callback class."""
    return qualname in _BASE_FINETUNING
