"""Trial 41's runtime wording: FZ503 on a part run in eval() that an unfreeze after the optimizer
left out, TorchScript layers named by their own classes, audit(exact=True)'s FZ501 advice, and
`names` in FZ502's and FZ302's JSON."""

from __future__ import annotations

import warnings

import torch
from torch import nn

import freezelint


def _loop(model: nn.Module, opt: torch.optim.Optimizer, steps: int = 3, **kw):
    with freezelint.watch(**kw) as w:
        for _ in range(steps):
            loss = model(torch.randn(8, model[0].in_features)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w


def test_fz503_on_a_part_in_eval_unfrozen_after_the_optimizer_does_not_say_it_never_was_frozen():
    torch.manual_seed(0)
    enc, head = nn.Linear(4, 8), nn.Linear(8, 2)
    model = nn.Sequential(enc, head)
    enc.requires_grad_(False)
    enc.eval()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    enc.requires_grad_(True)  # the unfreeze, after the optimizer was built
    w = _loop(model, opt)
    [f] = w.report.findings
    assert f.code == "FZ503", w.report.render_text()
    assert "never were" not in f.message, f.message
    assert "never frozen, or unfrozen after the optimizer was built" in f.message, f.message


def _scripted():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16)), nn.Linear(16, 2))
    net[0].requires_grad_(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = torch.jit.script(net)
    return model, torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)


def test_torchscript_layers_are_named_by_their_own_class():
    model, opt = _scripted()
    with freezelint.watch() as w:
        for _ in range(3):
            loss = model(torch.randn(8, 8)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    text = w.report.render_text()
    [f] = w.report.findings
    assert f.code == "FZ502" and "0.1 (BatchNorm1d)" in f.message, text
    assert "RecursiveScriptModule" not in text, text
    assert {m.name: m.type for m in w.report.modules}["0.0"] == "Linear"

    model, opt = _scripted()
    report = freezelint.audit(model, opt, batch=torch.randn(8, 8))
    assert "RecursiveScriptModule" not in report.render_text(), report.render_text()


class _Writes(nn.Module):
    """A frozen parameter its forward writes in train mode."""

    def __init__(self) -> None:
        super().__init__()
        self.code = nn.Parameter(torch.randn(4, 4), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                self.code.mul_(0.9)
        return x @ self.code


def test_audit_exact_fz501_asks_for_exact_only_without_it():
    torch.manual_seed(0)
    model = nn.Sequential(_Writes(), nn.Linear(4, 1))
    opt = torch.optim.Adam(model[1].parameters())
    advice = {}
    for exact in (False, True):
        with warnings.catch_warnings():  # without exact=True, audit() warns that it could not restore it
            warnings.simplefilter("ignore", RuntimeWarning)
            report = freezelint.audit(model, opt, steps=2, batch=torch.randn(8, 4), exact=exact)
        [f] = [f for f in report.findings if f.code == "FZ501"]
        advice[exact] = f.advice
    assert "exact=True" in advice[False] and "exact=True" not in advice[True], advice


def test_json_names_of_fz502_and_fz302():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    model[1].requires_grad_(False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model[2] = nn.Linear(8, 2)  # replaced after the optimizer was built
    w = _loop(model, opt)
    found = {f["code"]: f for f in w.report.to_dict()["findings"]}
    assert found["FZ502"]["names"] == ["1"], found
    assert found["FZ302"]["names"] == ["2.weight", "2.bias"], found
