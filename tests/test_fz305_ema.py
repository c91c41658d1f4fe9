"""FZ305 where the consumed iterator is handed to an EMA's step(): the message and fix name what
the EMA was built over, since a list of only the trainable parameters would pair its shadows
with the wrong tensors."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source, check_text

_SRC = textwrap.dedent("""
    import torch
    import torch.nn as nn

    class EMAModel:
        # diffusers.training_utils.EMAModel's pairing: one shadow per parameter it was built
        # over, zipped with what step() is given
        def __init__(self, parameters, decay=0.5):
            self.shadow_params = [p.clone().detach() for p in parameters]
            self.decay = decay

        @torch.no_grad()
        def step(self, parameters):
            for s_param, param in zip(self.shadow_params, list(parameters)):
                s_param.sub_((1 - self.decay) * (s_param - param))

    unet = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    unet[0].requires_grad_(False)
    ema_unet = EMAModel(unet.parameters())
    trainable_params = filter(lambda p: p.requires_grad, unet.parameters())
    optimizer = torch.optim.SGD(trainable_params, lr=0.5)
    for _ in range(2):
        unet(torch.ones(1, 3)).sum().backward()
        optimizer.step()
        ema_unet.step(trainable_params)
""")


def test_the_message_and_fix_name_what_the_ema_was_built_over():
    [d] = check_source(_SRC, "train.py", select=["FZ305"])
    assert d.row == 25
    assert "`ema_unet.step` sees no parameters, so the EMA never moves" in d.message
    assert "(`unet.parameters()`)" in d.message
    assert d.fix["applicability"] == "unsafe"
    fixed = check_text(_SRC, "train.py", frozenset({"FZ305"}), fix="unsafe").new_text
    assert "ema_unet.step(unet.parameters())" in fixed
    assert "trainable_params = filter(" in fixed  # no list(): it would pair the wrong tensors


def test_torch_shows_the_shadows_frozen_then_misaligned_then_moving():
    torch = pytest.importorskip("torch")
    ns: dict = {}
    torch.manual_seed(0)
    exec(compile(_SRC, "train.py", "exec"), ns)
    start: dict = {}
    torch.manual_seed(0)
    exec(compile(_SRC.split("for _ in range")[0], "train.py", "exec"), start)
    initial = start["unet"][1].weight
    # two steps trained the head; its shadow is where it was built
    assert not torch.equal(ns["unet"][1].weight, initial)
    assert torch.equal(ns["ema_unet"].shadow_params[2], initial)
    before = [s.clone() for s in ns["ema_unet"].shadow_params]
    ns["ema_unet"].step(ns["trainable_params"])  # consumed: nothing moves
    assert all(torch.equal(a, b) for a, b in zip(before, ns["ema_unet"].shadow_params))
    with pytest.raises(RuntimeError):  # a list of the trainable ones: shadow 0 (4x3) meets the head (2x4)
        ns["ema_unet"].step([p for p in ns["unet"].parameters() if p.requires_grad])
    ns["ema_unet"].step(ns["unet"].parameters())
    assert not torch.equal(ns["ema_unet"].shadow_params[2], before[2])


def test_an_ema_held_on_an_attribute_is_named_without_a_fix():
    src = textwrap.dedent("""
        import torch

        def train(self, model):
            params = filter(lambda p: p.requires_grad, model.parameters())
            opt = torch.optim.AdamW(params)
            opt.step()
            self.model_ema.step(params)
    """)
    [d] = check_source(src, "train.py", select=["FZ305"])
    assert "`self.model_ema.step` sees no parameters" in d.message and d.fix is None


def test_another_step_taker_keeps_the_list_fix():
    src = textwrap.dedent("""
        import torch

        params = filter(lambda p: p.requires_grad, model.parameters())
        opt = torch.optim.AdamW(params)
        tracker.step(params)
    """)
    [d] = check_source(src, "train.py", select=["FZ305"])
    assert "EMA" not in d.message and "make it a list" in d.message
    fixed = check_text(src, "train.py", frozenset({"FZ305"}), fix="unsafe").new_text
    assert "params = list(filter(" in fixed
