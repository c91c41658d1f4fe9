"""audit() on optimizers that frameworks wrap: opacus's DPOptimizer and accelerate's
AcceleratedOptimizer never run Optimizer.__init__ (no step hooks of their own), Lightning's
LightningOptimizer copies its optimizer's; fastai's and mmengine's OptimWrapper are no torch
optimizer at all. Each test needs its framework and skips without it."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from freezelint import audit  # noqa: E402
from freezelint.runtime.runner import AuditUsageError  # noqa: E402


def _frozen_first(adam: bool = False):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3))
    model[0].requires_grad_(False)
    kind = torch.optim.Adam if adam else torch.optim.SGD
    return model, kind([p for p in model.parameters() if p.requires_grad], lr=0.1)


def _values(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _same(before: list[torch.Tensor], model: nn.Module) -> bool:
    return all(torch.equal(a, p) for a, p in zip(before, model.parameters()))


def test_opacus_dp_optimizer_is_audited_under_its_own_names():
    pytest.importorskip("opacus")
    from opacus import PrivacyEngine

    model, opt = _frozen_first(adam=True)
    x = torch.randn(64, 16)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.randint(0, 3, (64,))),
                                         batch_size=16)
    model, opt, _ = PrivacyEngine().make_private(module=model, optimizer=opt, data_loader=loader,
                                                 noise_multiplier=1.0, max_grad_norm=1.0, poisson_sampling=False)
    before = _values(model)
    # the step hooks are on the SGD/Adam the DPOptimizer steps; names lose GradSampleModule's `_module.`
    report = audit(model, opt, batch=x[:16], expect_frozen="0", expect_trainable=["2", "_module.2.bias"])
    assert report.ok, report
    changed = {r.name: r.changed for r in report.params}
    assert changed == {"0.weight": False, "0.bias": False, "2.weight": True, "2.bias": True}
    assert report.optimizer == "DPOptimizer"
    assert _same(before, model) and not opt.state  # Adam's state made by the steps is gone again


def test_accelerate_optimizer_is_audited_and_restored():
    pytest.importorskip("accelerate")
    from accelerate import Accelerator

    model, opt = _frozen_first(adam=True)
    model, opt = Accelerator(cpu=True).prepare(model, opt)
    assert type(opt).__name__ == "AcceleratedOptimizer"
    before = _values(model)
    report = audit(model, opt, batch=torch.randn(8, 16), expect_frozen="0", expect_trainable="2")
    assert report.ok, report
    assert [r.changed for r in report.params] == [False, False, True, True]
    assert _same(before, model) and not opt.state


def test_lightning_optimizer_inside_fit_is_audited_and_restored():
    L = pytest.importorskip("lightning.pytorch")
    seen = {}

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net, self.opt = _frozen_first()

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, i):
            return self(batch[0]).pow(2).mean()

        def configure_optimizers(self):
            return self.opt

        def on_train_start(self):
            before = _values(self)
            opt = self.optimizers()  # a LightningOptimizer: its hooks are its SGD's
            seen["kind"] = type(opt).__name__
            seen["report"] = audit(self, opt, batch=torch.randn(8, 16), expect_frozen="net.0",
                                   expect_trainable="net.2")
            seen["restored"] = _same(before, self)

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(16, 16)), batch_size=8)
    L.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False).fit(Module(), data)
    assert seen["kind"] == "LightningSGD"
    assert seen["report"].ok, seen["report"]
    assert seen["restored"]


def test_wrapper_that_copies_param_groups_is_refused_in_one_line():
    class Copying(torch.optim.Optimizer):  # a wrapper that never ran Optimizer.__init__ and copies the groups
        def __init__(self, opt):
            self.opt, self.param_groups, self.state, self.defaults = opt, list(opt.param_groups), {}, {}

        def step(self, closure=None):
            return self.opt.step()

    model, opt = _frozen_first()
    before = _values(model)
    with pytest.raises(AuditUsageError) as e:
        audit(model, Copying(opt), batch=torch.randn(8, 16))
    message = str(e.value)
    assert "the optimizer Copying never ran torch.optim.Optimizer.__init__" in message
    assert "training step" not in message and "\n" not in message
    assert _same(before, model)


def test_optimizer_wrapper_that_is_no_torch_optimizer_names_the_one_inside():
    fastai = pytest.importorskip("fastai.optimizer")
    model, _ = _frozen_first()
    wrapped = fastai.OptimWrapper([p for p in model.parameters() if p.requires_grad], torch.optim.SGD, lr=0.1)
    with pytest.raises(AuditUsageError, match=r"got OptimWrapper; it wraps a torch optimizer, SGD, as \.opt: "
                                              r"pass that one instead"):
        audit(model, wrapped, batch=torch.randn(8, 16))
    assert audit(model, wrapped.opt, batch=torch.randn(8, 16), expect_frozen="0").ok


def test_timm_lookahead_state_kept_in_the_optimizer_it_wraps_is_restored():
    pytest.importorskip("timm")
    from timm.optim import Lookahead

    model, base = _frozen_first(adam=True)
    lookahead = Lookahead(base, k=1)  # its step() is not torch's hooked one; Adam's is, and holds the state
    before = _values(model)
    report = audit(model, lookahead, batch=torch.randn(8, 16), expect_frozen="0", expect_trainable="2")
    assert report.ok, report
    assert _same(before, model)
    assert not base.state  # Adam's moments and Lookahead's slow weights, made by the steps, are gone
    assert base.param_groups[0]["lookahead_step"] == 0


def test_opacus_names_in_the_watch_lose_grad_sample_modules_prefix():
    """The watch's tree and findings name the parts as the author wrote them, as audit() does."""
    pytest.importorskip("opacus")
    from opacus import PrivacyEngine

    import freezelint

    model, opt = _frozen_first()
    x, y = torch.randn(64, 16), torch.randint(0, 3, (64,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    model, opt, loader = PrivacyEngine().make_private(module=model, optimizer=opt, data_loader=loader,
                                                      noise_multiplier=1.0, max_grad_norm=1.0, poisson_sampling=False)
    with freezelint.watch(steps=2, expect_frozen="0", expect_trainable="2") as w:
        for xb, yb in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    assert w.report.ok, w.report
    changed = {r.name: r.changed for r in w.report.params}
    assert changed == {"0.weight": False, "0.bias": False, "2.weight": True, "2.bias": True}
    assert "_module" not in str(w.report)
