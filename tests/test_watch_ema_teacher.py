"""watch(): a DINO/BYOL-style EMA teacher. The student trains by AdamW; the teacher is a deepcopy of
it, run in train mode (batch statistics, as DINO does) and moved after every step by an EMA of the
student. Frozen and held by no optimizer, it is clean. Its frozen parameters also given to the
optimizer (their grads stay None, so AdamW skips them) must not make it a forgotten frozen model
(FZ502). Left trainable, in the optimizer and reached by the loss (no stop-gradient), it is trained
and overwritten by the average at once: FZ505 says so. Averages held by no optimizer, and models
written alike after every step, stay clean."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


def net() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))


def ema_run(freeze: bool = True, in_opt: bool = False, stop_grad: bool = True, every: int = 1,
            teacher_eval: bool = False, set_to_none: bool = True, steps: int = 3, iters: int = 6):
    """The trial's loop: `freeze` the teacher with requires_grad_(False), put its parameters `in_opt`
    beside the student's, run it under torch.no_grad() (`stop_grad`), EMA it after every `every`-th
    step. Returns the watch's report."""
    torch.manual_seed(0)
    student = net()
    teacher = copy.deepcopy(student)
    if freeze:
        teacher.requires_grad_(False)
    if teacher_eval:
        teacher.eval()
    params = list(student.parameters()) + (list(teacher.parameters()) if in_opt else [])
    opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.04)

    @torch.no_grad()
    def ema(m=0.99):
        for pt, ps in zip(teacher.parameters(), student.parameters()):
            pt.mul_(m).add_(ps.detach(), alpha=1 - m)

    with freezelint.watch(steps=steps) as w:
        for step in range(iters):
            x = torch.randn(16, 8)
            v1, v2 = x + 0.1 * torch.randn_like(x), x + 0.1 * torch.randn_like(x)
            with torch.set_grad_enabled(not stop_grad):
                t = torch.softmax(teacher(v2) / 0.04, -1)
            s = torch.log_softmax(student(v1) / 0.1, -1)
            loss = -(t * s).sum(-1).mean()
            opt.zero_grad(set_to_none=set_to_none)
            loss.backward()
            opt.step()
            if step % every == every - 1:
                ema()
    return w.report


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def test_the_ema_teacher_frozen_and_in_no_optimizer_is_clean():
    report = ema_run()
    assert report.ok, report.render_text()


def test_its_frozen_parameters_also_in_the_optimizer_do_not_make_it_fz502():
    # the trial's bad.py: zero_grad(set_to_none=False), the teacher's grads stay None all the same
    report = ema_run(in_opt=True, set_to_none=False)
    assert "FZ502" not in codes(report), report.render_text()
    assert "FZ504" not in codes(report), report.render_text()  # grad None, no state: skipped by AdamW
    assert report.ok, report.render_text()


def test_in_the_optimizer_with_no_update_in_the_window_fz502_says_it_may_be_an_average_of_the_student():
    report = ema_run(in_opt=True, every=10)
    f = [f for f in report.findings if f.code == "FZ502"]
    assert len(f) == 1 and f[0].target == "teacher.1", report.render_text()
    assert ("if teacher is an average of student updated every few steps, none of its updates fell in "
            "these 3 steps: watch more steps to see one") in f[0].advice


def test_a_teacher_trained_by_the_optimizer_and_by_the_ema_is_fz505():
    report = ema_run(freeze=False, in_opt=True, stop_grad=False)
    assert codes(report) == ["FZ505"], report.render_text()
    f = report.findings[0]
    assert f.target == "teacher"
    assert f.message.startswith("teacher is both trained by AdamW and overwritten after every step: AdamW "
                                "stepped all 6 of its parameters with gradients from the loss")
    assert "as an EMA update from student does" in f.message
    assert "freeze it (`teacher.requires_grad_(False)`), leave it out of the optimizer and run it under torch.no_grad()" \
        in f.advice


def test_over_two_steps_it_is_a_note_that_asks_for_more():
    # one read between two steps (the default window): a write every few steps could fall there by chance
    report = ema_run(freeze=False, in_opt=True, stop_grad=False, steps=2)
    assert report.ok, report.render_text()
    note = [n for n in report.notes if n.startswith("teacher: AdamW stepped all 6 of its parameters")]
    assert len(note) == 1, report.notes
    assert note[0].endswith("if that happens after every step, teacher is both trained by AdamW and overwritten by "
                            "an average of student (an EMA teacher the loss reaches: FZ505): watch 3 steps or more "
                            "(--steps 3) to tell")


def test_a_trainable_teacher_in_the_optimizer_that_no_gradient_reaches_is_not_fz505():
    # the optimizer skips it (grad None): the EMA alone moves it
    report = ema_run(freeze=False, in_opt=True)
    assert "FZ505" not in codes(report), report.render_text()


@pytest.mark.parametrize("in_opt", [False, True])
def test_a_teacher_in_eval_is_clean(in_opt):
    report = ema_run(in_opt=in_opt, teacher_eval=True)
    assert report.ok, report.render_text()


def test_an_ema_copy_in_no_optimizer_left_trainable_is_not_fz505():
    report = ema_run(freeze=False)
    assert "FZ505" not in codes(report) and "FZ502" not in codes(report), report.render_text()


def test_swa_averaged_model_is_clean():
    torch.manual_seed(0)
    student = net()
    swa = torch.optim.swa_utils.AveragedModel(student)
    opt = torch.optim.AdamW(student.parameters(), lr=1e-2)
    with freezelint.watch(steps=3) as w:
        for _ in range(5):
            x = torch.randn(16, 8)
            with torch.no_grad():
                target = swa(x).softmax(-1)
            loss = -(target * student(x).log_softmax(-1)).sum(-1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            swa.update_parameters(student)
    assert "FZ505" not in codes(w.report) and "FZ502" not in codes(w.report), w.report.render_text()


def test_two_twins_both_clipped_after_every_step_are_not_fz505():
    # co-teaching's two networks, each clipped after every step (as a WGAN critic is): written alike
    torch.manual_seed(0)
    a = net()
    b = copy.deepcopy(a)
    opt = torch.optim.SGD([*a.parameters(), *b.parameters()], lr=0.1)
    with freezelint.watch(steps=3) as w:
        for _ in range(5):
            x = torch.randn(16, 8)
            loss = a(x).pow(2).mean() + b(x + 1).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for p in [*a.parameters(), *b.parameters()]:
                    p.clamp_(-0.05, 0.05)
    assert "FZ505" not in codes(w.report), w.report.render_text()
