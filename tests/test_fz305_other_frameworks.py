"""FZ305 where the file's models are not torch's: MLX's `model.parameters()` is a dict, JAX's
params a pytree, both read twice safely, and the fix `list(model.parameters())` would turn MLX's
dict into a list of its keys. The rule keeps silent where the imports the code sees (its file's
and its function's) name such a framework and nothing of PyTorch's, and speaks where they name
torch too."""

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
    "import jax\nimport jax.numpy as mx\nfrom jax.tree_util import tree_flatten, tree_map\n",
    "import tinygrad as mx\n",
])
def test_silent_where_the_file_imports_another_framework_and_no_torch(head):
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
])
def test_reported_where_the_file_imports_torch_or_no_framework(head):
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
