"""Mistakes in diffusers' training scripts: each static finding, and torch showing that
what the message says happens."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

# diffusers' advanced DreamBooth-LoRA scripts (pivotal tuning), reduced
_PIVOT = textwrap.dedent("""
    import torch
    import torch.nn as nn

    text_encoder = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 4))
    text_encoder.requires_grad_(False)
    text_encoder.to(dtype=torch.float16)
    params = []
    for name, param in text_encoder.named_parameters():
        if name.startswith("0."):
            param = param.to(dtype=torch.float32)
            param.requires_grad = True
            params.append(param)
    optimizer = torch.optim.AdamW(params, lr=1e-3)
""")


def test_fz105_a_parameter_rebound_to_its_cast_is_a_copy_and_torch_agrees():
    [d] = check_source(_PIVOT, "train.py", select=["FZ105"])
    assert d.row == 12 and "a new tensor whenever the dtype" in d.message and "param.data = param.to" in d.message
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(compile(_PIVOT, "train.py", "exec"), ns)
    emb = ns["text_encoder"][0].weight
    held = ns["optimizer"].param_groups[0]["params"]
    assert not emb.requires_grad and emb.dtype == torch.float16  # the model's embedding stays frozen
    assert len(held) == 1 and held[0] is not emb and held[0].requires_grad  # the optimizer trains a copy
    fixed = _PIVOT.replace("param = param.to(dtype=torch.float32)", "param.data = param.to(dtype=torch.float32)")
    assert not check_source(fixed, "train.py", select=["FZ105"])
    ns = {}
    exec(compile(fixed, "train.py", "exec"), ns)
    emb = ns["text_encoder"][0].weight
    assert emb.requires_grad and ns["optimizer"].param_groups[0]["params"][0] is emb


@pytest.mark.parametrize("rebind", [
    "param = param.float()",
    "param = param.to(torch.device('cpu'), torch.float32)",
    "param = param.type(torch.float32)",
])
def test_fz105_other_casts(rebind):
    src = _PIVOT.replace("param = param.to(dtype=torch.float32)", rebind)
    assert [d.code for d in check_source(src, "train.py", select=["FZ105"])] == ["FZ105"]


def test_fz105_near_misses_a_cast_under_another_name_or_of_a_batch():
    src = _PIVOT.replace("param = param.to(dtype=torch.float32)\n        param.requires_grad = True\n"
                         "        params.append(param)",
                         "master = param.to(dtype=torch.float32)\n        master.requires_grad = True\n"
                         "        params.append(master)")
    assert "master = param.to" in src and not check_source(src, "train.py", select=["FZ105"])
    batch = "import torch\nfor x, y in loader:\n    x = x.to('cuda')\n    x.requires_grad = True\n"
    assert not check_source(batch, "train.py", select=["FZ105"])


_FLUX = textwrap.dedent("""
    import torch.nn as nn

    transformer = nn.Module()
    transformer.x_embedder = nn.Linear(8, 4)
    transformer.transformer_blocks = nn.ModuleList([nn.Linear(4, 4)])
    for name, module in transformer.named_modules():
        if "transformer_blocks" in name:
            module.requires_grad_(True)
        else:
            module.requirs_grad_(False)
""")


def test_fz103_a_misspelled_requires_grad_call_raises_as_said():
    [d] = check_source(_FLUX, "train_control_flux.py", select=["FZ103"])
    assert "raises AttributeError" in d.message and d.fix["applicability"] == "safe"
    pytest.importorskip("torch")
    with pytest.raises(AttributeError, match="requirs_grad_"):
        exec(compile(_FLUX, "train_control_flux.py", "exec"), {})


# diffusers' advanced scripts: the "pivot" that stops training the text encoder
_PIVOT_LR = textwrap.dedent("""
    import torch
    import torch.nn as nn
    from torch.optim.lr_scheduler import LambdaLR

    unet_lora, text_lora = nn.Linear(2, 2), nn.Linear(2, 2)
    optimizer = torch.optim.AdamW([{"params": unet_lora.parameters()}, {"params": text_lora.parameters()}], lr=1e-3)
    lr_scheduler = LambdaLR(optimizer, lambda step: 1.0)
    seen = []
    for epoch in range(2):
        if epoch == 1:
            optimizer.param_groups[1]["lr"] = 0.0
        for step in range(2):
            (unet_lora(torch.ones(1, 2)).sum() + text_lora(torch.ones(1, 2)).sum()).backward()
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()
            seen.append(optimizer.param_groups[1]["lr"])
""")


def test_fz304_an_lr_set_to_zero_later_is_undone_by_the_scheduler_as_said():
    [d] = check_source(_PIVOT_LR, "train.py", select=["FZ304"])
    assert "the LambdaLR here computes each group's lr from its initial one" in d.message
    pytest.importorskip("torch")
    ns: dict = {}
    exec(compile(_PIVOT_LR, "train.py", "exec"), ns)
    assert ns["seen"][2:] == [1e-3, 1e-3]  # after the pivot, the first scheduler step puts the lr back
    other = _PIVOT_LR.replace('optimizer.param_groups[1]["lr"] = 0.0', 'optimizer.param_groups[1]["lr"] *= 0.5')
    assert not check_source(other, "train.py", select=["FZ304"])


# an optimizer built before the adapters
_PEFT_LATE = textwrap.dedent("""
    import torch
    import torch.nn as nn
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model = get_peft_model(model, LoraConfig(r=2, target_modules=["0"]))
    for step in range(2):
        loss = model(torch.randn(6, 4)).pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
""")


def test_fz302_adapters_added_after_the_optimizer_train_nothing_as_said():
    [d] = check_source(_PEFT_LATE, "train.py", select=["FZ302"])
    assert d.row == 10 and "`get_peft_model(...)` comes after `optimizer`" in d.message and "train nothing" in d.message
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    ns: dict = {}
    exec(compile(_PEFT_LATE, "train.py", "exec"), ns)
    model = ns["model"]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)  # the adapters train, the rest is frozen
    held = {id(p) for g in ns["optimizer"].param_groups for p in g["params"]}
    assert not any(id(p) in held for n, p in model.named_parameters() if p.requires_grad)  # no adapter held
    base = [p for n, p in model.named_parameters() if "lora_" not in n]
    assert len(base) == len(ns["before"]) == 4
    assert all(torch.equal(a, b) for a, b in zip(base, ns["before"]))  # and nothing the optimizer holds moved
    fixed = _PEFT_LATE.replace(
        "optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)\n"
        "model = get_peft_model(model, LoraConfig(r=2, target_modules=[\"0\"]))",
        "model = get_peft_model(model, LoraConfig(r=2, target_modules=[\"0\"]))\n"
        "optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)")
    assert fixed != _PEFT_LATE and not check_source(fixed, "train.py", select=["FZ302"])
