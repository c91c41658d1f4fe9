"""FZ503 with several optimizers says which one to add the left-out parameters to: the one that
holds their layer's other parameters, or the rest of the module above them; where several hold
those, it names them to choose from. audit() and watch() alike."""

from __future__ import annotations

import torch
from torch import nn

import freezelint


class GAN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.G = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 8))
        self.D = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.D(self.G(z))


def _gan() -> tuple[GAN, dict[str, torch.optim.Optimizer]]:
    """G's second layer (a layer added after its optimizer was built) is in neither optimizer."""
    torch.manual_seed(0)
    m = GAN()
    return m, {"opt_g": torch.optim.Adam(m.G[0].parameters(), lr=1e-3),
               "opt_d": torch.optim.Adam(m.D.parameters(), lr=1e-3)}


def _fz503(findings) -> list:
    return [f for f in findings if f.code == "FZ503"]


def test_audit_names_the_optimizer_of_the_layers_neighbours():
    m, opts = _gan()
    [f] = _fz503(freezelint.audit(m, opts, batch=torch.randn(3, 4), loss_fn=lambda o, b: o.mean()).findings)
    assert f.target == "G.1"
    assert "add them to opt_g, the optimizer that holds the rest of G (`opt_g.add_param_group(...)`)" in f.advice
    assert "to the optimizer" not in f.advice


def test_watch_names_the_optimizer_of_the_layers_own_other_parameter():
    torch.manual_seed(0)
    m = GAN()
    opt_g = torch.optim.Adam([*m.G[0].parameters(), m.G[1].bias], lr=1e-3)
    opt_d = torch.optim.SGD(m.D.parameters(), lr=1e-2)
    with freezelint.watch(2) as w:
        for _ in range(2):
            m(torch.randn(3, 4)).mean().backward()
            opt_g.step()
            opt_d.step()
            opt_g.zero_grad()
            opt_d.zero_grad()
    [f] = _fz503(w.report.findings)
    assert f.target == "G.1.weight"
    assert "add it to opt_g, the optimizer that holds G.1's other parameters (`opt_g.add_param_group(...)`)" \
        in f.advice


def test_where_several_hold_the_neighbours_it_names_them_to_choose_from():
    """A layer on the model's top level, with G and D each in its own optimizer: either could be meant."""
    m, opts = _gan()
    m.G[1].requires_grad_(False)
    m.head = nn.Linear(1, 1)
    m.forward = lambda z: m.head(m.D(m.G(z)))  # type: ignore[method-assign]
    [f] = _fz503(freezelint.audit(m, opts, batch=torch.randn(3, 4), loss_fn=lambda o, b: o.mean()).findings)
    assert f.target == "head"
    assert ("add them to whichever of opt_g or opt_d (which hold the rest of the model) should train them "
            "(`.add_param_group(...)`)") in f.advice


def test_one_optimizer_keeps_the_plain_advice():
    m, _ = _gan()
    opt = torch.optim.Adam([*m.G[0].parameters(), *m.D.parameters()], lr=1e-3)
    [f] = _fz503(freezelint.audit(m, opt, batch=torch.randn(3, 4), loss_fn=lambda o, b: o.mean()).findings)
    assert "add them to the optimizer (`optimizer.add_param_group(...)`)" in f.advice
