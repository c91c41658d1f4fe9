"""FZ504 for frozen parameters held by LBFGS: it keeps one state for everything it holds, under its
first parameter, so no parameter holds state of its own, nor state "from steps before the freeze"
(the layer was frozen from the start). What frozen ones do cost it is room in its flat history."""
import torch
from torch import nn

import freezelint


def lbfgs_steps(first_frozen=True, steps=3):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
    model[0 if first_frozen else 2].requires_grad_(False)
    opt = torch.optim.LBFGS(model.parameters(), lr=0.1, max_iter=3, history_size=5)
    x, y = torch.randn(16, 8), torch.randn(16, 1)

    def closure():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    with freezelint.watch(steps=steps) as w:
        for _ in range(steps):
            opt.step(closure)
    return w.report


def test_a_layer_frozen_from_the_start_in_lbfgs_claims_no_per_parameter_state():
    for first_frozen in (True, False):  # LBFGS's state sits under the frozen 0.weight, or under a trained one
        report = lbfgs_steps(first_frozen)
        [f] = report.findings
        frozen = "0.weight, 0.bias" if first_frozen else "2.weight, 2.bias"
        assert f.code == "FZ504" and f"2 frozen parameters ({frozen}) are in param group 0 of LBFGS" in f.message, \
            report.render_text()
        assert "hold optimizer state" not in f.message and "holds optimizer state" not in f.message, f.message
        assert "from steps before the freeze" not in f.message, f.message
        assert ("LBFGS keeps no state per parameter, but one history for all it holds (up to history_size=5 past "
                "steps and gradient differences, each a flat vector over every parameter), so these frozen ones "
                "take room there as zeros") in f.message, f.message
        assert f.advice == "build the optimizer from `[p for p in model.parameters() if p.requires_grad]`", f.advice
        assert not report.notes, report.notes


def test_audit_of_lbfgs_with_a_frozen_layer_words_its_history_too():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))
    model[0].requires_grad_(False)
    opt = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=3)

    def step(model, optimizer, batch):
        def closure():
            optimizer.zero_grad()
            loss = model(batch).pow(2).mean()
            loss.backward()
            return loss
        optimizer.step(closure)

    report = freezelint.audit(model, opt, batch=torch.randn(8, 6), step_fn=step)
    [f] = report.findings
    assert f.code == "FZ504" and "optimizer state" not in f.message, report.render_text()
    assert "LBFGS keeps no state per parameter, but one history for all it holds (up to history_size=100" in f.message
