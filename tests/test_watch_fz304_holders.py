"""FZ304 at run time where the scheduler that keeps an lr=0 group at 0 is held by a module
(`self.sched`) or by Lightning's own scheduler configs (configure_optimizers' "lr_scheduler")."""
import warnings

import pytest
import torch
from torch import nn

import freezelint

L = pytest.importorskip("lightning.pytorch")
sched = torch.optim.lr_scheduler


def codes(report):
    return [f.code for f in report.findings]


def _module(make_sched, hold: str):
    """A LightningModule whose head group has lr=0 under the scheduler `make_sched(opt)` builds,
    handed to Lightning (`hold="lightning"`) or kept as `self.sched` and stepped by the module."""

    class Finetune(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Linear(6, 8)
            self.head = nn.Linear(8, 3)

        def training_step(self, batch, _):
            x, y = batch
            return nn.functional.cross_entropy(self.head(torch.relu(self.backbone(x))), y)

        def configure_optimizers(self):
            opt = torch.optim.AdamW([{"params": self.backbone.parameters(), "lr": 1e-2},
                                     {"params": self.head.parameters(), "lr": 0.0}])
            if hold == "lightning":
                return {"optimizer": opt, "lr_scheduler": {"scheduler": make_sched(opt), "interval": "step"}}
            self.sched = make_sched(opt)
            return opt

        def on_train_batch_end(self, *_):
            if hold == "self":
                self.sched.step()

    return Finetune()


def _fit(module, steps: int = 3):
    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(24, 6), torch.randint(0, 3, (24,)))
    trainer = L.Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    with warnings.catch_warnings(), freezelint.watch(steps=2) as w:
        warnings.simplefilter("ignore")
        trainer.fit(module, torch.utils.data.DataLoader(data, batch_size=4))
    return w.report


@pytest.mark.parametrize("hold", ["lightning", "self"])
def test_an_lr_zero_group_under_a_step_lr_from_configure_optimizers_is_fz304(hold):
    report = _fit(_module(lambda o: sched.StepLR(o, 5), hold))
    assert codes(report) == ["FZ304"], report.render_text()
    f = report.findings[0]
    assert f.target == "head in param_groups[1]", f.target
    assert "StepLR" in f.message and "head.weight, head.bias" in f.message, f.message


@pytest.mark.parametrize("hold", ["lightning", "self"])
def test_an_lr_zero_group_under_a_scheduler_that_may_raise_it_stays_a_note(hold):
    class Custom(sched.LambdaLR):  # a subclass may compute any lr
        pass

    for make in (lambda o: sched.OneCycleLR(o, max_lr=[1e-2, 0.0], total_steps=10),
                 lambda o: Custom(o, lambda s: 1.0)):
        report = _fit(_module(make, hold))
        assert report.ok, report.render_text()
        assert any("the group's lr is 0, so no FZ505" in n for n in report.notes), report.render_text()
