"""FZ505 and the shapes of a staged schedule: a param group whose lr is 0 until its stage is a
note, not a finding; a part no gradient reached is FZ505, and the watch says when its module never
ran a forward."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402
from freezelint import audit  # noqa: E402


def _loop(model, opt, iters: int = 3, sched=None, **kw):
    with freezelint.watch(**kw) as w:
        for _ in range(iters):
            model(torch.randn(4, 8)).sum().backward()
            opt.step()
            opt.zero_grad()
            if sched is not None:
                sched.step()
    return w.report


def _backbone_and_head():
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8))
    return nn.Sequential(backbone, nn.Linear(8, 2)), backbone


def test_a_stage_held_at_lr_zero_by_its_schedule_is_a_note_not_fz505():
    model, backbone = _backbone_and_head()
    opt = torch.optim.SGD([{"params": backbone.parameters()}, {"params": model[1].parameters()}], lr=0.1)
    # gradual unfreezing by learning rate: the backbone's factor is 0 until step 10
    sched = torch.optim.lr_scheduler.LambdaLR(opt, [lambda s: 0.0 if s < 10 else 1.0, lambda s: 1.0])
    report = _loop(model, opt, sched=sched)
    assert report.ok and not report.findings, report.render_text()
    (note,) = report.notes
    assert note.startswith("0.0.weight, 0.0.bias, 0.2.weight and 1 more (requires_grad=True, param group 0 of SGD) "
                           "did not change over 2 steps: the group's lr is 0, so no FZ505"), note
    assert "note: 0.0.weight" in report.render_text()


def test_a_warmup_from_zero_watched_for_one_step_is_no_fz505():
    model, _ = _backbone_and_head()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: s / 10)  # lr 0 at the first step
    report = _loop(model, opt, sched=sched, steps=1)
    assert report.ok, report.render_text()
    assert not any(p.changed for p in report.params) and "the group's lr is 0" in report.notes[0]


def test_near_miss_the_same_stage_with_a_learning_rate_trains_and_says_nothing():
    model, backbone = _backbone_and_head()
    opt = torch.optim.SGD([{"params": backbone.parameters()}, {"params": model[1].parameters()}], lr=0.1)
    report = _loop(model, opt)
    assert report.ok and not report.notes and all(p.changed for p in report.params), report.render_text()


def test_stages_in_the_optimizer_that_no_forward_ran_yet_are_fz505_that_says_so():
    torch.manual_seed(0)
    stage1, stage2, head = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 2)
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    opt.add_param_group({"params": stage1.parameters()})  # each stage joins the forward at a later epoch
    opt.add_param_group({"params": stage2.parameters()})
    with freezelint.watch() as w:
        for _ in range(3):
            head(torch.randn(4, 8)).sum().backward()
            opt.step()
            opt.zero_grad()
    report = w.report
    (f,) = report.findings
    assert f.code == "FZ505" and f.names == ["stage1.weight", "stage1.bias", "stage2.weight", "stage2.bias"], str(report)
    assert f.message.endswith("they received no gradient (.grad stayed None at every step): not used in the "
                              "forward, stage1, stage2 never ran their forward while watched"), f.message
    assert "a later stage brings into the forward" in f.advice and "checkpoint" not in f.message


class Growing(nn.Module):
    """Progressive growing: blocks join the forward as `depth` grows; all optimized from the start."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
        self.head = nn.Linear(8, 2)
        self.depth = 1

    def forward(self, x):
        for b in self.blocks[:self.depth]:
            x = b(x)
        return self.head(x)


def test_blocks_of_a_forwarded_model_that_no_gradient_reached_are_fz505_with_every_cause():
    torch.manual_seed(0)
    model = Growing()
    report = _loop(model, torch.optim.Adam(model.parameters(), lr=1e-3))
    (f,) = report.findings
    assert (f.code, f.target) == ("FZ505", "blocks"), str(report)
    assert f.names == ["blocks.1.weight", "blocks.1.bias", "blocks.2.weight", "blocks.2.bias"]
    # the model ran, and blocks.0 beside them: one picked per step, or a later stage's (both named)
    assert "blocks.1, blocks.2 did not run their forward over 2 steps, while blocks.0 beside them did" in f.message
    assert "or a block a later stage brings into the forward (progressive growing)" in f.message
    assert "if a later stage brings them in, freeze them until then" in f.advice
    # the same in audit()
    report = audit(model, torch.optim.Adam(model.parameters(), lr=1e-3), batch=torch.randn(4, 8))
    assert [(f.code, f.target) for f in report.findings] == [("FZ505", "blocks")], str(report)


def test_lr_zero_comes_before_no_gradient_and_a_group_with_a_learning_rate_keeps_fz505():
    torch.manual_seed(0)
    model = Growing()
    # blocks 1-2 wait for their stage at lr=0 (and are not in the forward yet either): a note
    opt = torch.optim.SGD([{"params": [*model.blocks[0].parameters(), *model.head.parameters()]},
                           {"params": [*model.blocks[1].parameters(), *model.blocks[2].parameters()], "lr": 0.0}],
                          lr=0.1)
    report = _loop(model, opt)
    assert report.ok, report.render_text()
    assert report.notes[0].startswith("blocks.1.weight, blocks.1.bias, blocks.2.weight and 1 more "
                                      "(requires_grad=True, param group 1 of SGD)")
    # the forward under no_grad for a part with a learning rate: FZ505 stays
    torch.manual_seed(0)
    model, backbone = _backbone_and_head()
    model.forward = lambda x: model[1](_frozen_pass(backbone, x))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    report = _loop(model, opt)
    assert [(f.code, f.target) for f in report.findings] == [("FZ505", "0")], report.render_text()
    assert not report.notes


def _frozen_pass(m, x):
    with torch.no_grad():
        return m(x)
