"""FZ505 on a part the loss does not reach (features taken under torch.no_grad()) whose running
statistics moved in train mode: freezing its parameters, as the advice says, would leave those
moving (FZ502 on the next run), so the advice says to put it in eval() too."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


def _probe(norm: bool):
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8) if norm else nn.LayerNorm(8), nn.ReLU())
    model = nn.ModuleDict({"body": body, "head": nn.Linear(8, 2)})
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()
    with freezelint.watch(steps=2) as w:
        for _ in range(2):
            with torch.no_grad():
                feats = model["body"](torch.randn(5, 6))
            opt.zero_grad()
            model["head"](feats).pow(2).mean().backward()
            opt.step()
    (f,) = w.report.findings
    assert f.code == "FZ505" and f.target == "body", w.report.render_text()
    return f


def test_a_part_cut_from_the_loss_whose_statistics_moved_is_told_to_go_in_eval_as_well():
    f = _probe(norm=True)
    assert f.advice.endswith("; if frozen, put body in eval() too: running statistics (body.1) moved in train mode "
                             "over these steps"), f.advice


def test_one_without_running_statistics_keeps_the_advice_as_it_was():
    f = _probe(norm=False)
    assert "eval()" not in f.advice, f.advice
