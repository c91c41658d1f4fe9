"""FZ305 where the file's models are MLX's: MLX's `model.parameters()` is a dict, read twice
safely, and the fix `list(model.parameters())` would turn it into a list of its keys. The rule
keeps silent where the imports the code sees (its file's and its function's) name MLX and nothing
of PyTorch's, and speaks where they name torch too. JAX/Flax, tinygrad and Keras models have no
`.parameters()` method (Keras 3's on the torch backend are torch Modules): a call of it beside
their imports is torch's, and reported."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

_BODY = """
def keep_fp32(model):
    parameters = model.parameters()
    needs_cast = False
    for k, v in tree_flatten(parameters):
        if v.dtype != mx.float32:
            needs_cast = True
            break
    if not needs_cast:
        return
    casted = tree_map(lambda v: v.astype(mx.float32), parameters)
    model.update(casted)
"""


def found(head: str) -> list:
    return check_source(textwrap.dedent(head) + _BODY, "loader.py", select=["FZ305"])


@pytest.mark.parametrize("head", [
    "import mlx.core as mx\nfrom mlx.utils import tree_flatten, tree_map\n",
    "from transformers import AutoTokenizer\nimport mlx.core as mx\nfrom mlx.utils import tree_flatten, tree_map\n",
])
def test_silent_where_the_file_imports_mlx_and_no_torch(head):
    assert found(head) == []


def test_an_import_inside_a_function_counts_as_mlx_code_does():
    src = textwrap.dedent("""
        def keep_fp32(model):
            import mlx.core as mx
            from mlx.utils import tree_flatten, tree_map
            parameters = model.parameters()
            if all(v.dtype == mx.float32 for _, v in tree_flatten(parameters)):
                return
            model.update(tree_map(lambda v: v.astype(mx.float32), parameters))
    """)
    assert check_source(src, "loader.py", select=["FZ305"]) == []


@pytest.mark.parametrize("head", [
    "import torch\nimport mlx.core as mx\nfrom mlx.utils import tree_flatten, tree_map\n",
    "from torch.utils._pytree import tree_flatten, tree_map\nimport torch as mx\n",
    "",
    # frameworks whose models have no .parameters(): the call is torch's
    "import jax\nimport jax.numpy as mx\nfrom jax.tree_util import tree_flatten, tree_map\n",
    "import tinygrad as mx\n",
    "import flax.linen as nn\nimport haiku as hk\nimport equinox as eqx\n",
    "import os\nos.environ['KERAS_BACKEND'] = 'torch'\nimport keras\n",  # its layers are torch Modules
    "import tensorflow as tf\n",  # for tf.io.gfile, say
])
def test_reported_where_the_file_imports_torch_no_framework_or_one_without_parameters(head):
    [d] = found(head)
    assert "`parameters` is a one-shot iterator and was already consumed" in d.message


def test_torch_shows_what_the_rule_says_of_torch():
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(2, 2)
    parameters = model.parameters()
    assert len(list(parameters)) == 2 and list(parameters) == []  # a dict would read the same twice


def test_a_torch_import_in_another_function_of_the_file_does_not_make_mlx_code_torch():
    src = textwrap.dedent("""
        import mlx.core as mx
        from mlx.utils import tree_flatten, tree_map

        def to_torch(sequences):
            import torch
            return torch.tensor(sequences)

        def torch_clip(model):
            import torch
            params = model.parameters()
            torch.optim.SGD(params, lr=0.1)
            return torch.nn.utils.clip_grad_norm_(params, 1.0)
    """) + _BODY
    [d] = check_source(src, "loader.py", select=["FZ305"])
    assert d.row == 13  # in the function that imports torch itself; keep_fp32 sees mlx only


def test_torch_imported_inside_functions_of_a_file_that_imports_jax_is_torch():
    """jax at the top for a conversion, torch imported in the functions: `model.parameters()` in a
    function that imports nothing itself is still torch's."""
    src = textwrap.dedent("""
        import jax.numpy as jnp

        def to_jax(t):
            return jnp.asarray(t.detach().numpy())

        def build(model, make_opt):
            params = model.parameters()
            optimizer = make_opt(params)
            for p in params:
                p.requires_grad = False
            return optimizer

        def main():
            import torch
            build(torch.nn.Linear(2, 2), lambda ps: torch.optim.SGD(ps, lr=0.1))
    """)
    [d] = check_source(src, "train.py", select=["FZ305"])
    assert d.row == 10  # `for p in params:`, after make_opt(params) took every parameter
