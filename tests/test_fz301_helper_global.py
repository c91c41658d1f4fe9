"""FZ301 and FZ202 follow a helper of the file that freezes a module-level model it only reads
(trial 34, CLIP-IQA's `def freeze_model(): for p in model.layer1.parameters(): ...`, called after
the optimizer was built): its events on `model` happen at the call, as the inline loop's do. Not
where the name the call sees is another binding (the caller's own `model`), where the helper binds
the name itself (a local, or `global model` and a new model), nor for a helper of another file
(whose `model` is its own module's)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import torch
import torchvision

from freezelint.check.engine import check_text

from conftest import write

HELPER = """
import torch
import torchvision


def freeze_model():
    for p in model.layer1.parameters():
        p.requires_grad = False


model = torchvision.models.resnet18(weights=None)
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-6, weight_decay=0.001)
freeze_model()
for x, y in loader:
    optimizer.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    optimizer.step()
"""


def _found(source: str) -> list[tuple[str, int]]:
    out = check_text(textwrap.dedent(source).lstrip(), "x.py", frozenset({"FZ202", "FZ301"}))
    return [(d.code, d.row) for d in out.diagnostics]


def test_the_helper_freezes_the_global_model_on_real_torch():
    """What the file does: the module-level model is the one frozen, and its frozen BatchNorm layers
    keep moving in train mode."""
    scope = {"torch": torch, "torchvision": torchvision}
    exec(compile(HELPER.split("for x, y")[0], "helper.py", "exec"), scope)
    model = scope["model"]
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert all(p.requires_grad for p in model.layer2.parameters())
    before = model.layer1[0].bn1.running_mean.clone()
    model(torch.randn(2, 3, 64, 64))
    assert not torch.equal(before, model.layer1[0].bn1.running_mean)


def test_a_helper_freezing_the_global_model_at_module_level():
    assert _found(HELPER) == [("FZ301", 11), ("FZ202", 12)]


def test_the_inline_loop_gets_the_same_findings():
    inline = HELPER.replace("freeze_model()\n", "for p in model.layer1.parameters():\n    p.requires_grad = False\n")
    assert [code for code, _ in _found(inline)] == ["FZ301", "FZ202"]


def test_a_call_in_a_function_that_reads_the_same_global():
    source = """
    import torch
    import torchvision


    def freeze_model():
        for p in model.layer1.parameters():
            p.requires_grad = False


    model = torchvision.models.resnet18(weights=None)


    def main():
        optimizer = torch.optim.AdamW(model.parameters(), lr=5e-6, weight_decay=0.001)
        freeze_model()
        for x, y in loader:
            optimizer.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            optimizer.step()
    """
    assert _found(source) == [("FZ301", 14), ("FZ202", 15)]


def test_silent_where_the_caller_has_a_model_of_its_own():
    source = """
    import torch
    import torchvision


    def freeze_model():
        for p in model.layer1.parameters():
            p.requires_grad = False


    model = torchvision.models.resnet18(weights=None)


    def main():
        model = torchvision.models.resnet18(weights=None)  # not the one freeze_model() freezes
        optimizer = torch.optim.AdamW(model.parameters(), lr=5e-6, weight_decay=0.001)
        freeze_model()
        for x, y in loader:
            optimizer.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            optimizer.step()
    """
    assert _found(source) == []


def test_silent_where_the_helper_binds_the_name_itself():
    rebinds = HELPER.replace("def freeze_model():\n", "def freeze_model():\n    global model\n"
                             "    model = torchvision.models.resnet18(weights=None)\n")
    local = HELPER.replace("def freeze_model():\n", "def freeze_model():\n"
                           "    model = torchvision.models.resnet18(weights=None)\n")
    assert _found(rebinds) == [] and _found(local) == []


def test_a_parameters_flag_set_by_the_helper_is_a_freeze():
    """`model.fc.weight` is a Parameter: the helper's store freezes it, and FZ301 says so (no BatchNorm)."""
    source = HELPER.replace("    for p in model.layer1.parameters():\n        p.requires_grad = False\n",
                            "    model.fc.weight.requires_grad = False\n")
    assert _found(source) == [("FZ301", 10)]


def test_silent_for_a_helper_of_another_file(cli, tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    write(tmp_path / "helpers_fzg.py", """
        import torchvision

        model = torchvision.models.resnet18(weights=None)


        def freeze_model():
            for p in model.layer1.parameters():  # this module's own model
                p.requires_grad = False
    """)
    write(tmp_path / "train.py", HELPER.replace("\n\ndef freeze_model():\n    for p in model.layer1.parameters():\n"
                                                "        p.requires_grad = False\n",
                                                "from helpers_fzg import freeze_model\n"))
    r = cli(tmp_path, "check", "--no-cache", "--select", "FZ202,FZ301", "--format", "json", ".")
    assert r.code == 0, r.out + r.err
    assert json.loads(r.out) == []
