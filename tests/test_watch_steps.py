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
    assert later[0].notes[0] == "a later window, from step 5: before it, 2 parameters were newly trainable"
    assert [(f.code, f.target) for f in later[0].findings] == [("FZ503", "2")], later[0].render_text()


def _lbfgs_run(zero_grad_kwargs: dict | None, outside: bool = False):
    """LBFGS with a closure; `zero_grad_kwargs`: how the closure (or, with `outside`, the loop before
    step()) zeroes grads; None: it does not."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))
    model[0].requires_grad_(False)
    opt = torch.optim.LBFGS([p for p in model.parameters() if p.requires_grad], lr=0.5, max_iter=5)
    x, y = torch.randn(64, 6), torch.randn(64, 1)
    grads = []  # the grad tensor each closure call leaves on the last weight

    def closure():
        if zero_grad_kwargs is not None and not outside:
            opt.zero_grad(**zero_grad_kwargs)
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        grads.append(model[2].weight.grad)
        return loss

    with freezelint.watch(steps=2) as w:
        for _ in range(4):
            if outside:
                opt.zero_grad(**zero_grad_kwargs)
            opt.step(closure)
    return w.report, grads


@pytest.mark.parametrize("kwargs, outside, header", [
    ({}, False, "zero_grad(set_to_none=True)"),  # torch's default, inside the closure
    ({"set_to_none": False}, False, "zero_grad(set_to_none=False)"),
    ({}, True, "zero_grad(set_to_none=True)"),  # zeroed by the loop before step(closure)
    ({"set_to_none": False}, True, "zero_grad(set_to_none=False)"),
])
def test_lbfgs_header_says_how_the_closure_zeroes_grads(kwargs, outside, header):
    report, grads = _lbfgs_run(kwargs, outside)
    # what torch does: zero_grad() hands every backward a new grad tensor; set_to_none=False keeps one
    renewed = kwargs.get("set_to_none", True)
    if not outside:
        assert len(grads) > 8 and (len({id(g) for g in grads}) > 1) is renewed
    assert report.render_text().splitlines()[0].endswith(header), report.render_text()
    assert report.set_to_none is renewed and report.ok


def test_lightning_header_says_set_to_none_true_as_its_closure_zeroes():
    """Lightning steps with a closure that runs training_step, zero_grad() (set_to_none=True) and
    the backward: the grad tensor at a step's start is still the previous closure's."""
    L = pytest.importorskip("lightning")
    import warnings

    class Probe(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
            self.net[0].requires_grad_(False)

        def training_step(self, batch, i):
            return self.net(batch[0]).pow(2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD([p for p in self.parameters() if p.requires_grad], lr=0.1)

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(32, 4)), batch_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with freezelint.watch() as w:
            L.Trainer(max_steps=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, accelerator="cpu").fit(Probe(), data)
    assert w.report.ok and w.report.set_to_none is True, w.report.render_text()
