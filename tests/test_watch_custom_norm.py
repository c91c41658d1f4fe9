"""watch(): frozen models whose statistics live in a norm layer of the script's own (an nn.Module
with running_mean/running_var buffers that its forward updates through F.batch_norm), run beside
the trained head or inside the trained model. Their buffers are judged as torch's BatchNorm's
are: moved in a frozen model, FZ502. One whose buffers moved while it stayed in eval() (no train()
switched it out) updates them in its own forward whatever the mode: FZ502 saying so, not FZ201
blaming a train() that never ran. Near misses: the same norm passing training=self.training in
eval(), a frozen model whose only moving buffer is a step counter, an average the script writes
(parameters and buffers) on purpose, and FZ201 where a train() really undid the eval()."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


class MyNorm(nn.Module):
    """A batch norm of the script's own: `hard` passes training=True whatever the mode (the bug)."""

    def __init__(self, c: int, hard: bool) -> None:
        super().__init__()
        self.hard = hard
        self.weight, self.bias = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c))
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=True if self.hard else self.training, momentum=0.1)


class Counted(nn.Module):
    """A frozen encoder that counts its calls and holds position ids: buffers, none of them statistics."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(6, 16)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.register_buffer("position_ids", torch.arange(16))

    def forward(self, x):
        self.calls += 1
        return self.lin(x)


def side(backbone: nn.Module, *, eval_: bool, iters: int = 4, after_step=None):
    """A frozen backbone kept as a variable of its own beside the trained head."""
    torch.manual_seed(0)
    backbone.requires_grad_(False)
    if eval_:
        backbone.eval()
    head = nn.Linear(16, 2)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    with freezelint.watch() as w:
        for _ in range(iters):
            x, y = torch.randn(16, 6), torch.randint(0, 2, (16,))
            loss = F.cross_entropy(head(backbone(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step(head)
    return w.report


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def test_a_frozen_side_model_in_eval_whose_own_norm_updates_its_statistics_is_fz502():
    backbone = nn.Sequential(nn.Linear(6, 16), MyNorm(16, hard=True), nn.ReLU())
    report = side(backbone, eval_=True)
    (f,) = report.findings
    assert (f.code, f.target) == ("FZ502", "backbone.1"), report.render_text()
    assert f.message.startswith("backbone.1 (MyNorm) has all parameters frozen and stayed in eval(), yet its "
                                "buffers running_mean and running_var moved (up to "), f.message
    assert "no train() switched it out of eval(), so its own forward updates them whatever the mode" in f.message
    assert "torch.no_grad() do not stop that" in f.message
    assert "training=self.training" in f.advice and "nn.BatchNorm" in f.advice
    assert "train()" not in f.advice
    assert "backbone.1 MyNorm · frozen · eval" in report.render_text()


def test_two_such_norms_are_one_finding_worded_for_both():
    backbone = nn.Sequential(nn.Linear(6, 16), MyNorm(16, hard=True), nn.Linear(16, 16), MyNorm(16, hard=True))
    report = side(backbone, eval_=True)
    (f,) = report.findings
    assert f.code == "FZ502" and f.names == ["backbone.1", "backbone.3"], report.render_text()
    assert f.message.startswith("backbone.1, backbone.3 (MyNorm) have all parameters frozen and stayed in eval(), "
                                "yet their buffers running_mean and running_var moved"), f.message
    assert "no train() switched them out of eval(), so their own forwards update them" in f.message
    assert f.advice.startswith("make their forwards update them only in train mode") and "such layers" in f.advice


def test_a_frozen_side_model_left_in_train_mode_with_a_norm_of_its_own_is_fz502_as_batchnorm_is():
    backbone = nn.Sequential(nn.Linear(6, 16), MyNorm(16, hard=False), nn.ReLU())
    report = side(backbone, eval_=False)
    (f,) = report.findings
    assert (f.code, f.target) == ("FZ502", "backbone.1"), report.render_text()
    assert f.message.startswith("backbone.1 (MyNorm) has all parameters frozen, but runs in train mode, so running "
                                "statistics moved"), f.message
    with_bn = side(nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU()), eval_=False)
    assert [(g.code, g.target) for g in with_bn.findings] == [("FZ502", "backbone.1")]


def test_near_miss_the_same_norm_passing_its_mode_in_eval_is_clean():
    report = side(nn.Sequential(nn.Linear(6, 16), MyNorm(16, hard=False), nn.ReLU()), eval_=True)
    assert report.ok, report.render_text()


@pytest.mark.parametrize("eval_", [False, True])
def test_near_miss_a_frozen_side_model_whose_moving_buffer_is_a_step_counter_is_clean(eval_):
    backbone = Counted()
    report = side(backbone, eval_=eval_)
    assert report.ok, report.render_text()
    assert int(backbone.calls) == 4


class Cached(nn.Module):
    """A frozen encoder with float buffers its forward rewrites that are no statistics: a rotary
    cache grown for the longest sequence seen, a temperature annealed in place."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(6, 16)
        self.register_buffer("cos_cached", torch.zeros(4))
        self.register_buffer("temperature", torch.ones(()))

    def forward(self, x):
        self.cos_cached.copy_(torch.cos(torch.arange(4.0) * x.shape[0] * float(self.temperature)))
        self.temperature.mul_(0.99)
        return self.lin(x)


@pytest.mark.parametrize("eval_", [False, True])
def test_near_miss_float_buffers_that_are_no_statistics_keep_a_frozen_side_model_unjudged(eval_):
    report = side(Cached(), eval_=eval_)
    assert report.ok, report.render_text()


def test_near_miss_an_average_whose_norm_the_script_writes_is_clean():
    # a mean teacher of the script's own norm, in train mode: its parameters and statistics are
    # the script's average of the student's, written after every step
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(6, 16), MyNorm(16, hard=False), nn.ReLU(), nn.Linear(16, 2))
    teacher = copy.deepcopy(student).requires_grad_(False)
    opt = torch.optim.Adam(student.parameters(), lr=1e-2)
    with freezelint.watch() as w:
        for _ in range(4):
            x = torch.randn(16, 6)
            with torch.no_grad():
                target = teacher(x)
            loss = (student(x) - target - 1).pow(2).mean()  # not 0 at the first step: a copy's output
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for t, s in zip(teacher.state_dict().values(), student.state_dict().values()):
                    t.mul_(0.99).add_(s, alpha=0.01)
    assert w.report.ok, w.report.render_text()


def test_near_miss_an_ema_teacher_in_eval_whose_batchnorm_buffers_the_script_averages_is_clean():
    # timm's ModelEmaV2 averages the state dict, buffers included: the teacher's statistics move in
    # eval() because the script writes them, not because a train() undid its eval()
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    teacher = copy.deepcopy(student).requires_grad_(False).eval()
    opt = torch.optim.AdamW(student.parameters(), lr=1e-2)
    with freezelint.watch() as w:
        for _ in range(4):
            x = torch.randn(16, 8)
            with torch.no_grad():
                target = teacher(x)
            loss = (student(x) - target - 1).pow(2).mean()  # not 0 at the first step: a copy's output
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for t, s in zip(teacher.state_dict().values(), student.state_dict().values()):
                    if t.dtype.is_floating_point:
                        t.mul_(0.99).add_(s, alpha=0.01)
                    else:
                        t.copy_(s)
    assert w.report.ok, w.report.render_text()


def test_near_miss_batchnorm_statistics_the_script_sets_while_it_stays_in_eval_are_no_finding():
    # torch's BatchNorm leaves its statistics alone in eval(): the script reset them on purpose,
    # no train() undid the eval() (FZ201 said one did)
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU()).requires_grad_(False)
    model = nn.Sequential(backbone, nn.Linear(16, 2))
    model.train()
    backbone.eval()
    opt = torch.optim.Adam(model[1].parameters(), lr=1e-2)
    with freezelint.watch() as w:
        for step in range(4):
            backbone[1].reset_running_stats()
            backbone[1].running_mean.fill_(0.1 * step)
            loss = F.cross_entropy(model(torch.randn(16, 6)), torch.randint(0, 2, (16,)))
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert w.report.ok, w.report.render_text()


def test_near_miss_statistics_the_script_sets_in_a_norm_of_its_own_that_never_runs_are_no_finding():
    # kept in the model, never forwarded: its forward cannot have moved them
    class WithSpare(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))
            self.spare = MyNorm(16, hard=True).requires_grad_(False)

        def forward(self, x):
            return self.body(x)

    torch.manual_seed(0)
    model = WithSpare()
    model.train()
    model.spare.eval()
    opt = torch.optim.Adam(model.body.parameters(), lr=1e-2)
    with freezelint.watch() as w:
        for step in range(4):
            model.spare.running_mean.fill_(0.1 * step)
            loss = F.cross_entropy(model(torch.randn(16, 6)), torch.randint(0, 2, (16,)))
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert w.report.ok, w.report.render_text()


def one_model(hard: bool, train_each_step: bool):
    """The backbone inside the trained model, put in eval() after model.train(): once before the
    loop, or with model.train() again at every step (which undoes it)."""
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Linear(6, 16), MyNorm(16, hard=hard), nn.ReLU()).requires_grad_(False)
    model = nn.Sequential(backbone, nn.Linear(16, 2))
    model.train()
    backbone.eval()
    opt = torch.optim.Adam(model[1].parameters(), lr=1e-2)
    with freezelint.watch() as w:
        for _ in range(4):
            if train_each_step:
                model.train()
            loss = F.cross_entropy(model(torch.randn(16, 6)), torch.randint(0, 2, (16,)))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w.report


def test_statistics_moved_in_eval_with_no_train_after_it_are_not_blamed_on_model_train():
    report = one_model(hard=True, train_each_step=False)
    (f,) = report.findings
    assert (f.code, f.target) == ("FZ502", "0.1"), report.render_text()
    assert "model.train()" not in f.message and "switched it back" not in f.message
    assert f.message.startswith("0.1 (MyNorm) has all parameters frozen and stayed in eval(), yet its buffers "
                                "running_mean and running_var moved"), f.message
    assert "0.1 MyNorm · frozen · eval" in report.render_text()


def test_fz201_stays_where_model_train_really_undid_the_eval():
    report = one_model(hard=False, train_each_step=True)
    (f,) = report.findings
    assert (f.code, f.target) == ("FZ201", "0.1"), report.render_text()
    assert "model.train()" in f.message and "switched it back" in f.message
