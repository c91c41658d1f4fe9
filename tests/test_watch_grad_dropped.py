"""Gradients that reach trainable parameters in backward and are cleared before optimizer.step():
beside parameters that train, a freeze by dropping gradients (DINO's cancel_gradients_last_layer),
a note and no FZ505; with nothing trained, a zero_grad() between backward() and step(), FZ505 that
says so (not "the loss does not depend on them"). The watch's hooks leave nothing behind."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


def _dino(watched: bool, steps: int = 5):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 12))
    last = model[2]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.04)
    watch = freezelint.watch(steps=3) if watched else None
    if watch is not None:
        watch.__enter__()
    try:
        for _ in range(steps):
            opt.zero_grad()
            model(torch.randn(4, 6)).log_softmax(-1).mean().neg().backward()
            for p in last.parameters():  # the first epoch: the last layer held still
                p.grad = None
            opt.step()
    finally:
        if watch is not None:
            watch.__exit__(None, None, None)
    return model, watch


def test_gradients_dropped_before_the_step_beside_a_trained_part_are_a_note():
    model, w = _dino(watched=True)
    assert w.report.ok, w.report.render_text()
    (note,) = [n for n in w.report.notes if "got gradients in backward" in n]
    assert note == ("2.weight, 2.bias got gradients in backward, but their .grad was None at each of the 3 steps: the "
                    "script sets it to None between backward and step (as DINO's cancel_gradients_last_layer does "
                    "to hold the last layer still), so the optimizer skipped them; no FZ505"), note


def test_the_watch_leaves_no_hook_and_changes_no_weight():
    watched, _ = _dino(watched=True)
    plain, _ = _dino(watched=False)
    for a, b in zip(watched.parameters(), plain.parameters()):
        assert torch.equal(a, b)
        assert a._post_accumulate_grad_hooks is None


def test_a_zero_grad_between_backward_and_step_is_fz505_that_says_so():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch(steps=2) as w:
        for _ in range(2):
            model(torch.randn(4, 6)).pow(2).mean().backward()
            opt.zero_grad()
            opt.step()
    (f,) = w.report.findings
    assert f.code == "FZ505", w.report.render_text()
    assert ("a gradient reached them in backward, but their .grad was None again at every step: the loop clears the "
            "grads between loss.backward() and optimizer.step()") in f.message, f.message
    assert "the loss does not depend" not in f.message
    assert f.advice.startswith("call optimizer.zero_grad() before loss.backward()"), f.advice


def test_a_part_cut_from_the_loss_keeps_its_cause():
    # the near miss: features under no_grad, no gradient ever arrives
    torch.manual_seed(0)
    body, head = nn.Linear(6, 8), nn.Linear(8, 2)
    opt = torch.optim.SGD([*body.parameters(), *head.parameters()], lr=0.1)
    with freezelint.watch(steps=3) as w:
        for _ in range(3):
            with torch.no_grad():
                feats = body(torch.randn(4, 6))
            opt.zero_grad()
            head(feats).pow(2).mean().backward()
            opt.step()
    (f,) = w.report.findings
    assert f.code == "FZ505" and "received no gradient" in f.message, f.message
    assert not [n for n in w.report.notes if "got gradients in backward" in n]
    assert all(p._post_accumulate_grad_hooks is None for p in body.parameters())


def test_a_hook_of_the_scripts_own_stays_and_still_fires():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 12))
    fired = []
    model[2].weight.register_post_accumulate_grad_hook(lambda t: fired.append(1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)

    def step():
        opt.zero_grad()
        model(torch.randn(4, 6)).mean().backward()
        for p in model[2].parameters():
            p.grad = None
        opt.step()

    with freezelint.watch(steps=3):
        for _ in range(3):
            step()
    assert len(model[2].weight._post_accumulate_grad_hooks) == 1 and model[2].bias._post_accumulate_grad_hooks is None
    before = len(fired)
    step()
    assert len(fired) == before + 1
