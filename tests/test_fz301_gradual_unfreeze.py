"""FZ301 and gradual unfreezing after the optimizer: everything frozen, the optimizer built over every
parameter, then one layer per pass unfrozen (inline, or by a method of the class). The optimizer must
hold every parameter, so FZ301 is silent; and its fix is never offered where filtering on
requires_grad would leave the optimizer an empty list."""

from __future__ import annotations

import textwrap

import pytest
import torch

from freezelint.check.engine import check_source, check_text

GRADUAL = """
import torch

class Explainer(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.gates = torch.nn.ModuleList([torch.nn.Linear(4, 4) for _ in range(n)])

    def _freeze_all(self):
        for parameter in self.parameters():
            parameter.requires_grad = False

    def _enable_layer(self, layer):
        for parameter in self.gates[layer].parameters():
            parameter.requires_grad = True

    def fit_by_method(self, x, params=None):
        self._freeze_all()
        optimizer = torch.optim.Adam(params if params is not None else self.parameters(), lr=0.01)
        for layer in reversed(range(len(self.gates))):
            self._enable_layer(layer)
            optimizer.zero_grad()
            self.gates[layer](x).sum().backward()
            optimizer.step()

    def fit_inline(self, x):
        for parameter in self.parameters():
            parameter.requires_grad = False
        optimizer = torch.optim.Adam(self.parameters(), lr=0.01)
        for layer in reversed(range(len(self.gates))):
            for parameter in self.gates[layer].parameters():
                parameter.requires_grad = True
            optimizer.zero_grad()
            self.gates[layer](x).sum().backward()
            optimizer.step()
"""


def _found(code: str) -> list[int]:
    source = textwrap.dedent(code).lstrip()
    compile(source, "x.py", "exec")
    return [d.row for d in check_source(source, select=["FZ301"])]


def test_gradual_unfreezing_after_the_optimizer_is_silent():
    assert _found(GRADUAL) == []


def test_gradual_unfreezing_needs_every_parameter_in_the_optimizer():
    """What the silence rests on, on real modules: built over every parameter, Adam trains each
    layer as it is unfrozen; the filter FZ301 would offer leaves it nothing and Adam raises."""
    namespace: dict = {}
    exec(compile(textwrap.dedent(GRADUAL), "gradual.py", "exec"), namespace)
    torch.manual_seed(0)
    model = namespace["Explainer"](2)
    before = [p.detach().clone() for p in model.parameters()]
    model.fit_inline(torch.randn(3, 4))
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    model = namespace["Explainer"](2)
    model._freeze_all()
    with pytest.raises(ValueError, match="empty parameter list"):
        model.fit_by_method(torch.randn(3, 4), params=[p for p in model.parameters() if p.requires_grad])


@pytest.mark.parametrize("after", [
    "",  # frozen for good
    "for p in other.layer.parameters():\n    p.requires_grad = True",  # another model unfrozen
])
def test_still_reported_without_an_unfreeze_of_what_it_holds(after):
    source = "import torch\n\nmodel.backbone.requires_grad_(False)\n" \
             "optimizer = torch.optim.Adam(model.parameters())\n" + after + "\n"
    assert _found(source) == [4]


def test_a_toggle_in_the_freezes_own_loop_is_still_reported():
    assert _found("""
    import torch

    opt = torch.optim.Adam(gan.parameters())
    for x in loader:
        gan.critic.requires_grad_(False)
        gan.generator_loss(x).backward()
        gan.critic[0].requires_grad_(True)  # only a part of what was frozen
        opt.step()
    """) == [3]


def test_no_fix_that_filters_to_an_empty_list():
    source = textwrap.dedent("""
    import torch
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    model.requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    """).lstrip()
    out = check_text(source, "x.py", frozenset({"FZ301"}), fix="unsafe")
    assert [d.row for d in out.diagnostics] == [6] and out.diagnostics[0].fix is None and out.new_text is None
    # a part replaced after the freeze holds trainable parameters: the filter keeps those
    replaced = source.replace("model.requires_grad_(False)\n", "model.requires_grad_(False)\nmodel[1] = nn.Linear(4, 2)\n")
    fixed = check_text(replaced, "x.py", frozenset({"FZ301"}), fix="unsafe").new_text
    assert "[p for p in model.parameters() if p.requires_grad]" in fixed


REBUILT = """
import torch

class Explainer(torch.nn.Module):
    def _set_masks(self, n):
        REBUILD
        for parameter in self.parameters():
            parameter.requires_grad = False

    def _enable_layer(self, layer):
        for parameter in self.gates[layer].parameters():
            parameter.requires_grad = True

    def fit(self, x, n):
        self.gates = torch.nn.ModuleList([torch.nn.Linear(4, 4) for _ in range(n)])
        self._set_masks(n)
        optimizer = torch.optim.Adam(self.parameters(), lr=0.01)
        for layer in reversed(range(n)):
            self._enable_layer(layer)
            for _ in range(10):
                try:
                    out = self.gates[layer](x)
                except RuntimeError:
                    self._set_masks(n)  # a fallback that builds new masks: new parameters, frozen
                    out = self.gates[layer](x)
                optimizer.zero_grad()
                out.sum().backward()
                optimizer.step()
"""


def test_a_method_that_builds_new_layers_before_freezing_freezes_none_the_optimizer_holds():
    rebuilt = REBUILT.replace("REBUILD", "self.gates = torch.nn.ModuleList([torch.nn.Linear(4, 4) for _ in range(n)])")
    assert _found(rebuilt) == []
    # the same method without the new layers freezes again what the loop unfroze: the toggle is reported
    assert _found(REBUILT.replace("REBUILD", "pass")) == [16]
