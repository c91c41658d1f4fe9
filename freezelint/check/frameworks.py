"""Which framework a file's (or a function's) models belong to, read from its imports: a rule
whose claim is PyTorch's behaviour (`model.parameters()` a one-shot iterator, `model.train()` a
method) keeps silent where the code imports a framework whose models break that claim and nothing
of PyTorch's."""

from __future__ import annotations

import libcst as cst

from freezelint.check import traverse

# Packages whose import says the file's models are PyTorch modules (transformers is not one: a
# file may import it for a tokenizer only, beside MLX or Keras)
TORCH_ROOTS = frozenset({"torch", "torchvision", "torchaudio", "timm", "lightning", "pytorch_lightning", "peft",
                         "accelerate"})
KERAS_ROOTS = frozenset({"tensorflow", "keras", "tf_keras"})
# The models FZ106 takes for Keras ones unless the file imports one of these (the set it had before
# this module: torchdata, torchmetrics, torchaudio or torch_xla beside TensorFlow loads data or
# scores a Keras model, and `.eval()` would raise on it)
KERAS_MODEL_TORCH_ROOTS = frozenset({"torch", "torchvision", "timm", "lightning", "pytorch_lightning", "peft",
                                     "accelerate"})
# MLX's `model.parameters()` is a nested dict. JAX/Flax/Haiku/Equinox, tinygrad and Keras models
# have no `.parameters()` method (Keras 3's on the torch backend are torch Modules): a call of it
# there is torch's, so they are not listed
MLX_ROOTS = frozenset({"mlx", "mlx_lm", "mlx_vlm"})


def import_roots(module: cst.Module) -> frozenset[str]:
    """The top-level package of every absolute import of the file, at any depth (an import inside
    a function counts: MLX code often imports there)."""
    roots = set()
    for node in traverse.walk(module):
        if isinstance(node, cst.Import):
            roots.update(cst.Module([]).code_for_node(a.name).split(".")[0] for a in node.names)
        elif isinstance(node, cst.ImportFrom) and node.module is not None and not node.relative:
            roots.add(cst.Module([]).code_for_node(node.module).split(".")[0])
    return frozenset(roots)


def scope_roots(scope) -> frozenset[str]:
    """The top-level package of every import a scope sees: its own and its enclosing scopes'
    (an `import torch` in another function of the file is not one)."""
    roots = set()
    while scope is not None:
        roots.update(b.qualname.split(".")[0] for bs in scope.bindings.values() for b in bs
                     if b.how == "import" and b.qualname and not b.qualname.startswith("."))
        scope = scope.parent
    return frozenset(roots)


def foreign_scope(scope, frameworks: frozenset[str]) -> bool:
    """`foreign_file` for the imports one scope sees: MLX code that imports mlx inside its
    functions, in a file where other functions import torch for a conversion."""
    return _foreign(scope_roots(scope), frameworks)


def foreign_file(module: cst.Module, frameworks: frozenset[str], torch_roots: frozenset[str] | None = None) -> bool:
    """The file imports one of `frameworks` and nothing of PyTorch's (of `torch_roots` where given):
    its models are not torch's. A walk of the whole file: call it only for a finding about to be
    reported."""
    return _foreign(import_roots(module), frameworks, torch_roots)


def _foreign(roots: frozenset[str], frameworks: frozenset[str], torch_roots: frozenset[str] | None = None) -> bool:
    if torch_roots is not None:
        return bool(roots & frameworks) and not roots & torch_roots
    return bool(roots & frameworks) and not any(r in TORCH_ROOTS or r.startswith("torch") for r in roots)
