"""FZ504 for parameters frozen after the optimizer had trained them (a freeze after a warmup, at
an epoch boundary): their state is from the steps before the freeze, so building the optimizer
from a requires_grad filter cannot be the advice. With grads set to None torch's optimizers skip
them and only the state is held; a grad tensor left on them (zero_grad(set_to_none=False)) is
stepped: `.grad = None` at the freeze. Its text says one and many as English does."""

from __future__ import annotations

import pytest

from conftest import write

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


def _embedding_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Embedding(50, 16), nn.Flatten(), nn.Linear(16 * 6, 2))


def _train(model, opt, steps: int, freeze_at: int, set_to_none: bool = True) -> None:
    gen = torch.Generator().manual_seed(1)
    for step in range(steps):
        if step == freeze_at:
            model[0].requires_grad_(False)  # warmup over: keep the embedding as it is now
        x, y = torch.randint(0, 50, (8, 6), generator=gen), torch.randint(0, 2, (8,), generator=gen)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=set_to_none)
        loss.backward()
        opt.step()


def test_what_torch_does_with_a_parameter_frozen_after_adamw_stepped_it():
    """The facts FZ504's note and advice rest on."""
    def frozen_after_warmup():
        model = _embedding_model()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05)
        _train(model, opt, 3, freeze_at=99)
        w = model[0].weight
        w.requires_grad_(False)
        return model, opt, w

    # a zero grad tensor (zero_grad(set_to_none=False)): AdamW's momentum and decay still move it
    model, opt, w = frozen_after_warmup()
    w.grad = torch.zeros_like(w)
    before = w.detach().clone()
    opt.step()
    assert not torch.equal(w, before)
    # .grad = None: skipped, bit for bit, and zero_grad(set_to_none=False) leaves a None grad None
    model, opt, w = frozen_after_warmup()
    w.grad = None
    before = w.detach().clone()
    opt.zero_grad(set_to_none=False)
    assert w.grad is None
    model(torch.randint(0, 50, (8, 6))).sum().backward()
    opt.step()
    assert torch.equal(w, before) and w.grad is None and float(opt.state[w]["step"]) == 3
    # state.pop frees its state, and no step makes it again while its grad is None
    opt.state.pop(w)
    opt.step()
    assert w not in opt.state and torch.equal(w, before)


_HELD_NOTE = ("0.weight holds AdamW state from the steps that trained it before the freeze; its .grad stayed None, "
              "so the steps since skip it and the state only takes memory: `optimizer.state.pop(p)` for it when "
              "freezing frees it")


def test_a_freeze_after_a_warmup_with_grads_set_to_none_holds_state_only_and_says_how_to_free_it():
    """Frozen between the windows, grads dropped: the params do not move and the held state costs
    memory only; the later window says so in a note, as the window does for a freeze inside it."""
    model = _embedding_model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    with freezelint.watch() as w:
        _train(model, opt, 10, freeze_at=4)
    first, *later = w.reports
    assert first.ok and len(later) == 1, [r.render_text() for r in w.reports]
    assert later[0].ok and _HELD_NOTE in later[0].notes, later[0].render_text()
    assert model[0].weight in opt.state  # the state the note names is there


def test_the_same_freeze_inside_the_window_and_between_windows_gets_one_verdict():
    """A freeze at step 3 falls inside a 4-step window and between two 2-step windows: both OK,
    both with the note on the state held."""
    reports = []
    for steps in (4, 2):
        model = _embedding_model()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
        with freezelint.watch(steps) as w:
            _train(model, opt, 8, freeze_at=2)
        reports.append(w.reports[-1])
    assert [r.ok for r in reports] == [True, True], [r.render_text() for r in reports]
    assert all(_HELD_NOTE in r.notes for r in reports), [r.notes for r in reports]


def test_audit_of_a_model_frozen_after_training_gets_the_same_advice():
    model = _embedding_model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    _train(model, opt, 3, freeze_at=99)
    model[0].requires_grad_(False)
    report = freezelint.audit(model, opt, batch=torch.randint(0, 50, (8, 6)))
    (f,) = report.findings
    assert f.code == "FZ504" and "it holds optimizer state from steps before the freeze" in f.message
    assert f.advice.startswith("its .grad stayed None, so the steps skip it"), f.advice


def test_a_zero_grad_kept_after_a_midrun_freeze_is_fz504_with_advice_for_a_freeze_after_the_optimizer():
    model = _embedding_model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    with freezelint.watch() as w:
        _train(model, opt, 10, freeze_at=4, set_to_none=False)
    first, *later = w.reports
    assert first.ok and len(later) == 1
    (f,) = [f for f in later[0].findings if f.code == "FZ504"]
    assert f.message == ("1 frozen parameter (0.weight) is in param group 0 of AdamW lr=0.001 weight_decay=0.05 "
                         "betas=(0.9, 0.999): it holds optimizer state; the group's weight_decay=0.05 shrinks it "
                         "while its .grad is a zero tensor (FZ301 in the code)"), f.message
    assert f.advice.startswith("set its `.grad = None` when freezing it") and "state.pop(p)" in f.advice
    assert "model.parameters() if p.requires_grad" not in f.advice  # cannot apply to the optimizer built before
    assert "FZ501" in {g.code for g in later[0].findings}  # and it moved, as the first test shows torch does


@pytest.mark.parametrize("frozen, says", [
    (1, "1 frozen parameter (0.weight) is in param group 0 of Adagrad lr=0.01: it holds optimizer state"),
    (2, "2 frozen parameters (0.weight, 0.bias) are in param group 0 of Adagrad lr=0.01: 2 hold optimizer state"),
])
def test_near_miss_state_made_by_the_optimizer_over_parameters_frozen_before_it_is_fz504(frozen, says):
    """Adagrad makes every parameter's state at construction (step 0): frozen before the optimizer
    was built, they hold state they never trained with. Filtering when building it is the fix."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    for p in list(model[0].parameters())[:frozen]:
        p.requires_grad_(False)
    opt = torch.optim.Adagrad(model.parameters(), lr=0.01)
    assert float(opt.state[model[0].weight]["step"]) == 0  # made by the constructor
    report = freezelint.audit(model, opt, batch=torch.randn(3, 4))
    (f,) = [f for f in report.findings if f.code == "FZ504"]
    assert f.message.startswith(says) and f.message.endswith("(FZ301 in the code)"), f.message
    assert "[p for p in model.parameters() if p.requires_grad]" in f.advice


def test_run_no_stop_on_a_midrun_freeze_with_grads_dropped_exits_0_with_a_note(tmp_path, cli):
    write(tmp_path / "train.py", """
        import torch, torch.nn as nn

        torch.manual_seed(0)
        model = nn.Sequential(nn.Embedding(50, 16), nn.Flatten(), nn.Linear(16 * 6, 2))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
        for step in range(10):
            if step == 4:
                model[0].requires_grad_(False)
            x, y = torch.randint(0, 50, (8, 6)), torch.randint(0, 2, (8,))
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    """)
    r = cli(tmp_path, "run", "--no-stop", "train.py")
    assert r.code == 0 and "FZ504" not in r.out and "note: 0.weight holds AdamW state" in r.out, r.out + r.err


def test_a_warning_alone_fails_run_as_it_fails_the_pytest_fixtures_and_audit_cli_only_with_strict(tmp_path, cli):
    """The documented exit codes for a report whose only finding is a warning (FZ504)."""
    write(tmp_path / "train.py", """
        import torch, torch.nn as nn

        def make():
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
            model[0].requires_grad_(False)
            return model, torch.optim.Adagrad(model.parameters(), lr=0.01), torch.randn(3, 4)

        if __name__ == "__main__":
            model, opt, x = make()
            for _ in range(3):
                opt.zero_grad()
                model(x).pow(2).mean().backward()
                opt.step()
    """)
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 1 and "FZ504" in r.out and "FZ50" not in r.out.replace("FZ504", ""), r.out + r.err
    assert cli(tmp_path, "run", "--ignore", "FZ504", "train.py").code == 0
    assert cli(tmp_path, "audit", "train.py:make").code == 0
    assert cli(tmp_path, "audit", "train.py:make", "--strict").code == 1
    from freezelint.runtime.cli import load_factory

    model, opt, x = load_factory(f"{tmp_path / 'train.py'}:make")()
    with pytest.raises(freezelint.FreezeAuditError):  # what the freeze_audit fixture calls
        freezelint.assert_frozen(model, opt, batch=x)


def test_a_torch_func_loop_writing_grads_to_parameters_frozen_after_training_is_told_to_leave_them_out():
    # the loop differentiates every parameter (torch.func.grad ignores requires_grad) and writes a new
    # .grad at each step: setting .grad to None once, at the freeze, would not keep them still
    from torch.func import functional_call, grad

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)

    def step():
        g = grad(lambda ps: functional_call(model, ps, (torch.randn(8, 8),)).pow(2).mean())(
            {k: v.detach() for k, v in model.named_parameters()})
        for k, p in model.named_parameters():
            p.grad = g[k]
        opt.step()

    for _ in range(3):
        step()
    model[0].requires_grad_(False)  # warmup over
    with freezelint.watch() as w:
        for _ in range(3):
            step()
    [f] = [f for f in w.report.findings if f.code == "FZ504"]
    assert f.message.endswith("the group's weight_decay=0.01 shrinks them at every step the loop gives them a .grad "
                              "(FZ301 in the code)"), f.message
    assert f.advice == ("leave them out of the grads the loop writes (differentiate only the parameters that require "
                        "grad and give .grad only to those; torch's optimizers skip one whose .grad is None), or out "
                        "of the optimizer; `optimizer.state.pop(p)` for each when freezing frees the state"), f.advice
