"""How the watch counts optimizer steps: a wrapper optimizer's step that calls the optimizer it
wraps is one step in every window (ZeroRedundancyOptimizer), and how a loop zeroes grads is read
where a closure step does it (LBFGS)."""

from __future__ import annotations

import pytest

from conftest import needs_gloo

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


@pytest.fixture
def one_rank(tmp_path):
    """A 1-process gloo group, through a file store (no port to collide with another worker)."""
    dist = torch.distributed
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def _zero_training(unfreeze_at: int | None = None, steps: int = 8):
    from torch.distributed.optim import ZeroRedundancyOptimizer

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    if unfreeze_at is not None:
        model[2].requires_grad_(False)
    opt = ZeroRedundancyOptimizer([p for p in model.parameters() if p.requires_grad],
                                  optimizer_class=torch.optim.SGD, lr=0.1)
    gen = torch.Generator().manual_seed(1)

    def train():
        for i in range(steps):
            if i == unfreeze_at:
                model[2].requires_grad_(True)  # never given to the optimizer: FZ503
            loss = model(torch.randn(4, 8, generator=gen)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    return model, opt, train


@needs_gloo()
def test_zero_redundancy_optimizer_steps_open_no_later_window(one_rank):
    """ZeroRedundancyOptimizer.step() steps the optimizer it wraps (`.optim`, over the same
    parameters): one step, in the window and after it, so nothing changing opens no window."""
    model, opt, train = _zero_training()
    inner = []
    from torch.optim.optimizer import register_optimizer_step_post_hook

    handle = register_optimizer_step_post_hook(lambda o, a, k: inner.append(o is opt.optim))
    try:
        with freezelint.watch(steps=2) as w:
            train()
    finally:
        handle.remove()
    assert inner.count(True) == 8 and inner.count(False) == 8  # torch steps the wrapped optimizer inside
    assert len(w.reports) == 1, [r.notes for r in w.reports]
    assert w.reports[0].ok and w.steps_after == 6


@needs_gloo()
def test_zero_redundancy_optimizer_unfreeze_is_one_later_window_with_its_cause(one_rank):
    model, opt, train = _zero_training(unfreeze_at=4)
    with freezelint.watch(steps=2) as w:
        train()
    first, *later = w.reports
    assert first.ok and len(later) == 1, [r.render_text() for r in w.reports]
    assert later[0].notes[0] == "a later window, from step 6: by step 5, 2 parameters were newly trainable"
    assert [(f.code, f.target) for f in later[0].findings] == [("FZ503", "2")], later[0].render_text()

