"""Run-time messages trial 38 found misleading: FZ503 on a layer that fp32 master copies stand in
for, FZ501's cause under an optimizer that writes into .grad during its step, FZ302's layer names
and shapes, an unmatched expectation pattern's nearest names, and FZ506's words with two
optimizers."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


def _train(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, steps: int = 2) -> None:
    for _ in range(steps):
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()


# --- FZ302: the replaced layers by their full names, the shapes as a reader can parse them ----------


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


def _fz302(report) -> str:
    [f] = [f for f in report.findings if f.code == "FZ302"]
    return f.message


def test_fz302_names_layers_replaced_in_two_blocks_by_their_full_names():
    model = nn.Sequential()
    model.add_module("a", _Block())
    model.add_module("b", _Block())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch() as w:
        model.a.bn, model.b.bn = nn.Identity(), nn.Identity()  # after the optimizer was built
        _train(model, opt, torch.randn(2, 4, 6, 6))
    message = _fz302(w.report)
    assert "the layers a.bn, b.bn were replaced after the optimizer was built" in message, message
    assert "holds 4 tensors that are no longer in the model (4 of shape [4]) and got no gradient" in message, message


def test_fz302_says_one_layer_in_the_singular_and_lists_six_of_many():
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch() as w:
        model[1] = nn.Identity()
        _train(model, opt, torch.randn(3, 4))
    message = _fz302(w.report)
    assert "the layer 1 was replaced after the optimizer was built" in message, message
    assert "(2 of shape [4])" in message, message

    model = nn.Sequential(*[nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)) for _ in range(8)])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for blk in model:
            blk[1] = nn.Identity()
        _train(model, opt, torch.randn(3, 4))
    message = _fz302(w.report)
    assert "the layers 0.1, 1.1, 2.1, 3.1, 4.1, 5.1 and 2 more were replaced" in message, message
    assert "(16 of shape [4])" in message, message


def test_fz302_shapes_of_several_kinds_are_counted_per_shape():
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch() as w:
        model[1], model[2] = nn.Identity(), nn.Identity()
        _train(model, opt, torch.randn(3, 4))
    message = _fz302(w.report)
    assert "the layers 1, 2 were replaced" in message, message
    assert "holds 4 tensors that are no longer in the model (1 of shape [8, 8], 3 of shape [8])" in message, message


# --- FZ506 with two optimizers: in no param group of any of them, as FZ503 says --------------------


def _split_optimizers(model: nn.Sequential) -> list[torch.optim.Optimizer]:
    """Matrices to one optimizer, biases to another: the LayerNorm's 1-D weight falls between them."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return [torch.optim.SGD([p for _, p in named if p.ndim == 2], lr=0.1),
            torch.optim.AdamW([p for n, p in named if n.endswith("bias")], lr=1e-3)]


def _fz506(report) -> tuple[str, str]:
    [f] = [f for f in report.findings if f.code == "FZ506"]
    return f.message, f.advice


def test_fz506_on_a_parameter_in_neither_of_two_optimizers_says_so_as_fz503_does():
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    opts = _split_optimizers(model)
    with freezelint.watch(expect_trainable=["1.*"]) as w:
        for _ in range(2):
            for o in opts:
                o.zero_grad()
            model(torch.randn(3, 4)).square().mean().backward()
            for o in opts:
                o.step()
    [fz503] = [f for f in w.report.findings if f.code == "FZ503"]
    assert "in no param group of any of the 2 optimizers" in fz503.message, fz503.message
    assert _fz506(w.report) == (
        "expected to train, but 1.weight did not change: it is in no param group of any of the 2 optimizers",
        "add it to one of them (add_param_group, or build it after unfreezing)"), w.report.render_text()

    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    report = freezelint.audit(model, _split_optimizers(model), batch=torch.randn(3, 4), expect_trainable=["1.*"])
    assert _fz506(report)[0].endswith("it is in no param group of any of the 2 optimizers"), report.render_text()


# --- FZ501's cause: a frozen grad is read as the step is given it, not after the step wrote into it ---


class _DecayIntoGrad(torch.optim.Optimizer):
    """SGD whose weight decay is added into p.grad in place during the step, as AdamWScheduleFree's
    is: a frozen parameter's zero grad leaves the step non-zero."""

    def __init__(self, params, lr: float = 0.1, weight_decay: float = 0.1) -> None:
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.add_(p, alpha=group["weight_decay"])
                    p.add_(p.grad, alpha=-group["lr"])


def _frozen_with_zero_grads(opt_class) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = opt_class(model.parameters())
    model(torch.randn(3, 4)).square().mean().backward()
    opt.step()
    model[0].requires_grad_(False)  # frozen, its grads kept as zero tensors below
    return model, opt


def _fz501(report) -> str:
    [f] = [f for f in report.findings if f.code == "FZ501"]
    return f.message


def _train_keeping_grads(model: nn.Module, opt: torch.optim.Optimizer) -> None:
    for _ in range(2):
        opt.zero_grad(set_to_none=False)
        assert not model[0].weight.grad.any()  # all zeros as each step is given it
        model(torch.randn(3, 4)).square().mean().backward()
        opt.step()


def test_fz501_reads_a_frozen_grad_as_the_step_was_given_it():
    model, opt = _frozen_with_zero_grads(_DecayIntoGrad)
    with freezelint.watch() as w:
        _train_keeping_grads(model, opt)
    message = _fz501(w.report)
    assert "their .grad was a zero tensor left from before they were frozen" in message, message


def test_fz501_under_schedulefree_says_zero_tensor():
    schedulefree = pytest.importorskip("schedulefree")

    def training(params) -> torch.optim.Optimizer:
        opt = schedulefree.AdamWScheduleFree(params, lr=1e-3, weight_decay=0.01)
        opt.train()
        return opt

    model, opt = _frozen_with_zero_grads(training)
    with freezelint.watch() as w:
        _train_keeping_grads(model, opt)
    assert "their .grad was a zero tensor left from before they were frozen" in _fz501(w.report), \
        w.report.render_text()


# --- FZ503 where the optimizer trains fp32 master copies of a bf16 model: the copy-back, not the groups ---


def _master_weights(copied_back: slice) -> freezelint.AuditReport:
    """A bf16 model trained through fp32 copies the optimizer holds, written back after each step
    into the model's parameters `copied_back` picks."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)).to(torch.bfloat16)
    params = list(model.parameters())
    master = [p.detach().float().clone().requires_grad_(True) for p in params]
    opt = torch.optim.AdamW(master, lr=1e-3)
    with freezelint.watch() as w:
        for _ in range(2):
            model.zero_grad()
            model(torch.randn(4, 8, dtype=torch.bfloat16)).float().square().mean().backward()
            for m, p in zip(master, params):
                m.grad = p.grad.float()
            opt.step()
            opt.zero_grad()
            with torch.no_grad():
                for m, p in zip(master[copied_back], params[copied_back]):
                    p.copy_(m)
    return w.report


def test_fz503_on_a_layer_the_master_weights_copy_back_skips_says_so():
    report = _master_weights(slice(0, 2))  # skips the last layer
    [f] = [f for f in report.findings if f.code == "FZ503"]
    assert f.message == (
        "2.weight, 2.bias: requires_grad=True, but they did not change in 2 steps, while 0.weight, 0.bias did; "
        "AdamW holds none of the model's parameters and trains 4 tensors of no module shaped as them (in float32; "
        "the model's are bfloat16): copies (master weights) that the loop writes back into the model after each "
        "step, but not into these"), report.render_text()
    assert f.advice.startswith("check that the copy-back after each step covers them"), f.advice
    assert "add_param_group" not in str(f) and "in no param group" not in str(f), str(f)


def test_master_weights_copied_back_whole_are_no_finding_and_none_copied_back_says_none():
    assert _master_weights(slice(None)).ok
    report = _master_weights(slice(0, 0))
    [f] = [f for f in report.findings if f.code == "FZ503"]
    assert f.target == "(model)" and f.message.startswith(
        "0.weight, 0.bias, 2.weight and 1 more: requires_grad=True, but no parameter of the model changed in 2 steps; "
        "AdamW holds none of the model's parameters"), f.message
    assert f.message.endswith("but none was written back"), f.message


# --- an expectation pattern that matched nothing: the names to write instead -------------------------


def _backbone_and_head() -> tuple[nn.Module, nn.Module, torch.optim.Optimizer]:
    backbone = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8))
    model = nn.Sequential(backbone, nn.Linear(8, 2))
    backbone.requires_grad_(False)
    return model, backbone, torch.optim.SGD(model[1].parameters(), lr=0.1)


def _unmatched(report) -> dict[str, str]:
    return {f.target: f.message for f in report.findings if f.code == "FZ506"}


def test_a_pattern_that_is_the_scripts_name_for_a_submodule_is_judged_on_that_module():
    model, backbone, opt = _backbone_and_head()
    with freezelint.watch(expect_frozen=["backbone", "backbone.1", "backbone.2"]) as w:
        _train(model, opt, torch.randn(3, 4))
    assert backbone is model[0]
    # `backbone` and `backbone.1` are judged on 0 and 0.1 (frozen: no finding), each with a note
    assert _unmatched(w.report) == {
        "backbone.2": "expect_frozen pattern matched no parameter; `backbone` is the training code's name for the "
                      "model's module 0, and `0.2` names nothing either; nearest names: 0.1, 0.0, 0"}, \
        w.report.render_text()
    assert [n for n in w.report.notes if "judged on" in n] == [
        "expect_frozen `backbone` was judged on `0`: `backbone` is the training code's name for the model's module 0",
        "expect_frozen `backbone.1` was judged on `0.1`: `backbone` is the training code's name for the model's "
        "module 0"], w.report.notes


def test_audit_judges_the_tests_own_name_of_a_submodule_on_that_module():
    # the test that calls audit() names the part `backbone`; the model names it `0`
    model, backbone, opt = _backbone_and_head()
    report = freezelint.audit(model, opt, batch=torch.randn(3, 4), expect_frozen=["backbone", "backbone.2"],
                              expect_trainable=["backbone.0"])
    assert backbone is model[0]
    found = _unmatched(report)
    assert found["backbone.2"] == ("expect_frozen pattern matched no parameter; `backbone` is the training code's "
                                   "name for the model's module 0, and `0.2` names nothing either; nearest names: "
                                   "0.1, 0.0, 0"), report.render_text()
    # judged on 0.0, which is frozen: the expectation fails there, named as written
    assert set(found) == {"backbone.2", "backbone.0"} and "0.0.weight" in found["backbone.0"], report.render_text()
    assert "expect_trainable `backbone.0` was judged on `0.0`" in report.render_text()


def test_a_name_the_training_code_gives_several_of_the_model_s_modules_stays_unmatched():
    model, backbone, opt = _backbone_and_head()

    def inner():
        backbone = model[1]  # noqa: F841 — the same name for another module, in the frame that calls audit()
        return freezelint.audit(model, opt, batch=torch.randn(3, 4), expect_frozen=["backbone"])

    report = inner()
    assert backbone is model[0]
    assert _unmatched(report) == {
        "backbone": "expect_frozen pattern matched no parameter; `backbone` is the training code's name for several "
                    "of the model's modules (`1`, `0`): write the name of the one meant"}, report.render_text()
    assert not any("judged on" in n for n in report.notes)


def test_a_name_the_calling_code_gives_nothing_in_the_model_gets_no_such_hint():
    # `backbone` here is a module outside the audited model: no module of the model to point to
    model, _, opt = _backbone_and_head()
    backbone = nn.Linear(2, 2)
    report = freezelint.audit(model, opt, batch=torch.randn(3, 4), expect_frozen=["backbone"])
    assert backbone is not model[0]
    assert "training code's name" not in _unmatched(report)["backbone"], report.render_text()


def test_a_pattern_near_no_name_is_told_the_top_level_modules_in_audit_and_watch():
    model, _, opt = _backbone_and_head()
    report = freezelint.audit(model, opt, batch=torch.randn(3, 4), expect_frozen=["encoder"])
    expected = ("expect_frozen pattern matched no parameter; no name is near it; the model's top-level modules are "
                "0, 1")
    assert _unmatched(report) == {"encoder": expected}, report.render_text()
    with freezelint.watch(expect_frozen=["encoder"]) as w:
        _train(model, opt, torch.randn(3, 4))
    assert _unmatched(w.report) == {"encoder": expected}, w.report.render_text()
