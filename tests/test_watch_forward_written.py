"""A frozen parameter written by its own module's forward in train mode (a VQ tokenizer's codebook,
kept as a frozen Parameter and updated by EMA in forward) is statistics in a parameter: the watch
tells that write from an optimizer step and from the script's own write between steps (a Polyak
target update), and judges it as FZ502 judges moved buffers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import freezelint
from freezelint.runtime.watch import Watch


class VQ(nn.Module):
    def __init__(self, encoder: bool = True, k: int = 16, d: int = 8) -> None:
        super().__init__()
        self.enc = nn.Linear(4, d) if encoder else nn.Identity()
        self.codebook = nn.Parameter(torch.randn(k, d if encoder else 4), requires_grad=False)
        self.register_buffer("ema_sum", self.codebook.detach().clone())
        self.register_buffer("ema_count", torch.ones(k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.enc(x)
        idx = torch.cdist(z, self.codebook).argmin(1)
        if self.training:
            with torch.no_grad():
                oh = F.one_hot(idx, self.codebook.shape[0]).float()
                self.ema_count.mul_(0.9).add_(oh.sum(0), alpha=0.1)
                self.ema_sum.mul_(0.9).add_(oh.t() @ z, alpha=0.1)
                self.codebook.data.copy_(self.ema_sum / self.ema_count.unsqueeze(1))
        return self.codebook[idx]


class Gen(nn.Module):
    def __init__(self, encoder: bool = True) -> None:
        super().__init__()
        self.tokenizer = VQ(encoder)
        self.head = nn.Linear(8 if encoder else 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.tokenizer(x))


def _train(model: nn.Module, opt: torch.optim.Optimizer, steps: int = 3, **kw) -> Watch:
    with freezelint.watch(**kw) as w:
        for _ in range(steps):
            loss = model(torch.randn(16, 4)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w


def _frozen_tokenizer(eval_: bool) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = Gen()
    model.tokenizer.requires_grad_(False)
    model.train()
    if eval_:
        model.tokenizer.eval()
    return model, torch.optim.Adam(model.head.parameters(), lr=1e-2)


def test_frozen_codebook_written_by_forward_in_train_mode_is_fz502():
    w = _train(*_frozen_tokenizer(eval_=False))
    [f] = w.report.findings
    assert (f.code, f.target) == ("FZ502", "tokenizer"), w.report.render_text()
    assert "its forward rewrote the frozen parameter tokenizer.codebook" in f.message, f.message
    assert "running statistics moved" in f.message
    assert f.advice.startswith("put it in eval()")
    [rec] = [p for p in w.report.params if p.name == "tokenizer.codebook"]
    assert rec.in_forward and rec.changed


def test_frozen_codebook_in_eval_is_clean():
    w = _train(*_frozen_tokenizer(eval_=True))
    assert w.report.ok, w.report.render_text()


def test_codebook_alone_in_its_module_is_its_design_not_a_freeze():
    # an EMA codebook in a quantizer that holds nothing else (a VQ-VAE trained so): as with a buffer
    # codebook, the quantizer has no parameters of its own to freeze, and the part above it trains
    torch.manual_seed(0)
    model = Gen(encoder=False)
    w = _train(model, torch.optim.Adam(model.head.parameters(), lr=1e-2))
    assert w.report.ok, w.report.render_text()
    [rec] = [p for p in w.report.params if p.name == "tokenizer.codebook"]
    assert rec.in_forward  # seen, and judged as the buffer case is


class Scale(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


def test_polyak_target_written_between_steps_is_not_in_forward():
    w = _train_polyak()
    assert w.report.ok, w.report.render_text()
    assert not any(p.in_forward for p in w.report.params)


def _train_polyak() -> Watch:
    """Actor and target in one module, the target's Scale a module of the script's own in train mode,
    updated after each step: no write in forward."""
    torch.manual_seed(0)

    class AC(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q = nn.Sequential(nn.Linear(6, 8), Scale(8), nn.Linear(8, 1))
            self.targ = nn.Sequential(nn.Linear(6, 8), Scale(8), nn.Linear(8, 1))
            self.targ.requires_grad_(False)

        def forward(self, s: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                tgt = self.targ(s)
            return (self.q(s) - tgt).pow(2).mean()

    ac = AC()
    opt = torch.optim.Adam(ac.q.parameters(), lr=1e-2)
    with freezelint.watch() as w:
        for _ in range(3):
            loss = ac(torch.randn(16, 6))
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for a, b in zip(ac.targ.parameters(), ac.q.parameters()):
                    a.data.mul_(0.9).add_(0.1 * b.data)
    return w


def test_expect_frozen_on_a_codebook_its_forward_wrote_advises_eval_not_the_optimizer():
    torch.manual_seed(0)
    model = Gen(encoder=False)
    w = _train(model, torch.optim.Adam(model.head.parameters(), lr=1e-2), expect_frozen="tokenizer")
    [f] = w.report.findings
    assert f.code == "FZ506", w.report.render_text()
    assert "written by the forward of its module, run in train mode" in f.message, f.message
    assert "FZ501" not in f.message and "optimizer" not in f.advice, f.advice
    assert f.advice.startswith("put its module in eval()")
