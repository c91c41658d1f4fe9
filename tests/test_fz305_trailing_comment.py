"""FZ305 where the line that builds the iterator ends in a comment, and on `iter(m.parameters())`:
the text gate read `m.parameters()` only at the very end of a line, so any comment after it
skipped the rule for the whole file."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source, check_text

_SRC = textwrap.dedent("""
    import torch
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    params = model.parameters(){comment}
    optimizer = torch.optim.SGD(params, lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
""")


@pytest.mark.parametrize("comment", ["", "  # all of them", "  # noqa: E501", "# x"])
def test_a_comment_after_the_call_changes_nothing(comment):
    [d] = check_source(_SRC.format(comment=comment), "train.py", select=["FZ305"])
    assert d.row == 9 and "`params` is a one-shot iterator and was already consumed" in d.message


def test_torch_clips_nothing_on_the_second_use():
    pytest.importorskip("torch")
    ns: dict = {}
    exec(compile(_SRC.format(comment="  # all of them"), "train.py", "exec"), ns)
    assert float(ns["norm"]) == 0.0  # the gradients are not zero: the iterator was empty
    assert sum(float(p.grad.norm()) for p in ns["model"].parameters()) > 0


_ITER = textwrap.dedent("""
    import torch
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    params = iter(model.parameters())
    optimizer = torch.optim.SGD(params, lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
""")


def test_iter_over_parameters_used_twice_is_reported_and_made_a_list():
    [d] = check_source(_ITER, "train.py", select=["FZ305"])
    assert d.row == 9 and d.fix["applicability"] == "unsafe"
    fixed = check_text(_ITER, "train.py", frozenset({"FZ305"}), fix="unsafe").new_text
    assert "params = list(model.parameters())\n" in fixed
    pytest.importorskip("torch")
    ns: dict = {}
    exec(compile(_ITER, "train.py", "exec"), ns)
    assert float(ns["norm"]) == 0.0
    exec(compile(fixed, "train.py", "exec"), ns)
    assert float(ns["norm"]) > 0.0


def test_iter_read_with_next_or_used_once_is_silent():
    src = textwrap.dedent("""
        import torch

        def first_and_rest(model):
            it = iter(model.parameters())
            head = next(it)
            return head, list(it)

        def once(model):
            params = iter(model.parameters())  # one use
            return torch.optim.SGD(params, lr=0.1)
    """)
    assert check_source(src, "train.py", select=["FZ305"]) == []
