"""The runtime auditor: exact restore, findings on real steps, bad input, rendering."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import json
import random
import sys

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
torchvision = pytest.importorskip("torchvision")

from conftest import ROOT, run_subprocess  # noqa: E402
from freezelint import FreezeAuditError, assert_frozen, audit  # noqa: E402
from freezelint.runtime.runner import AuditUsageError  # noqa: E402

EXAMPLES = ROOT / "examples" / "runtime"


def bits(t: torch.Tensor):
    """Bit pattern of a tensor, so NaN payloads and -0.0 compare exactly."""
    t = t.detach()
    if t.is_floating_point():
        t = t.view({8: torch.int64, 4: torch.int32, 2: torch.int16}[t.element_size()])
    return t.clone()


def state_of(model: nn.Module, opt: torch.optim.Optimizer):
    params = [(n, bits(p), p.requires_grad, None if p.grad is None else bits(p.grad), id(p.grad))
              for n, p in model.named_parameters()]
    buffers = [(n, bits(b)) for n, b in model.named_buffers()]
    flags = [(n, m.training) for n, m in model.named_modules()]
    ostate = {id(p): {k: bits(v) if torch.is_tensor(v) else v for k, v in s.items()} for p, s in opt.state.items()}
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    members = [[id(p) for p in g["params"]] for g in opt.param_groups]
    rng = (torch.get_rng_state().clone(), random.getstate())
    return params, buffers, flags, ostate, groups, members, rng


def assert_same(a, b):
    pa, ba, fa, oa, ga, ma, ra = a
    pb, bb, fb, ob, gb, mb, rb = b
    for (n, x, rx, gx, gid), (_, y, ry, gy, gid2) in zip(pa, pb):
        assert torch.equal(x, y), f"parameter {n} changed"
        assert rx == ry and gid == gid2, n
        assert (gx is None) == (gy is None) and (gx is None or torch.equal(gx, gy)), f"grad of {n} changed"
    for (n, x), (_, y) in zip(ba, bb):
        assert torch.equal(x, y), f"buffer {n} changed"
    assert fa == fb
    assert oa.keys() == ob.keys()
    for k in oa:
        assert oa[k].keys() == ob[k].keys()
        for key in oa[k]:
            x, y = oa[k][key], ob[k][key]
            assert torch.equal(x, y) if torch.is_tensor(x) else x == y
    assert ga == gb and ma == mb
    assert torch.equal(ra[0], rb[0]) and ra[1] == rb[1]


def tiny_encoder():
    layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, batch_first=True, dropout=0.1)
    return nn.Sequential(nn.Embedding(50, 16), nn.TransformerEncoder(layer, num_layers=2), nn.Linear(16, 3))


OPTIMIZERS = {
    "sgd-momentum": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-4),
    "adam": lambda ps: torch.optim.Adam(ps, lr=1e-3),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-3),
}


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("model_name", ["resnet18", "encoder"])
def test_audit_restores_everything_bit_for_bit(model_name, opt_name):
    torch.manual_seed(0)
    if model_name == "resnet18":
        model = torchvision.models.resnet18(weights=None, num_classes=3)
        batch = torch.randn(2, 3, 32, 32)
    else:
        model = tiny_encoder()
        batch = torch.randint(0, 50, (2, 6))
    model.layer1.requires_grad_(False) if model_name == "resnet18" else model[0].requires_grad_(False)
    opt = OPTIMIZERS[opt_name]([p for p in model.parameters() if p.requires_grad])
    # a trained optimizer with live state, a stale grad and mixed training flags
    model(batch).float().pow(2).mean().backward()
    opt.step()
    model(batch).float().pow(2).mean().backward()  # leaves non-None grads in place
    model.eval()
    next(iter(model.children())).train()
    random.seed(123)
    before = state_of(model, opt)
    report = audit(model, opt, steps=2, batch=batch)
    assert report.restored and not report.unrestored
    assert any(p.changed for p in report.params)  # the steps really trained something
    assert_same(before, state_of(model, opt))


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
def test_state_created_by_the_audit_is_dropped(opt_name):
    # A fresh optimizer, and a param group added after training (no state yet): the state the
    # audited steps create must not survive as if it had been there before.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    batch = torch.randn(3, 4)
    for trained in (False, True):
        opt = OPTIMIZERS[opt_name](list(model[2].parameters()))
        if trained:
            model(batch).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
        opt.add_param_group({"params": list(model[0].parameters())})
        before = state_of(model, opt)
        audit(model, opt, steps=2, batch=batch)
        assert_same(before, state_of(model, opt))
        assert len(opt.state) == (2 if trained else 0)


def test_restores_when_a_step_raises():
    torch.manual_seed(0)

    class Flaky(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(4)
            self.fc = nn.Linear(4, 2)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("data loader hiccup")
            return self.fc(self.bn(x))

    model = Flaky()
    opt = torch.optim.Adam(model.parameters())
    model.eval()
    batch = torch.randn(4, 4)
    before = state_of(model, opt)
    with pytest.raises(RuntimeError, match="hiccup"):
        audit(model, opt, batch=batch)
    assert_same(before, state_of(model, opt))


class _WritesInForward(nn.Module):
    """A forward that writes into parameters in place, as a hand-rolled EMA or weight
    normalisation might: `frozen` has no copy (it gets no grad), `fc.weight` is trained."""

    def __init__(self, also_trained: bool = False):
        super().__init__()
        self.frozen = nn.Parameter(torch.ones(3), requires_grad=False)
        self.fc = nn.Linear(3, 2)
        self.also_trained = also_trained

    def forward(self, x):
        with torch.no_grad():
            self.frozen.data.mul_(0.5)  # through .data: no version counter sees it
            if self.also_trained:
                self.fc.weight.mul_(0.5)
        return self.fc(x * self.frozen)


def test_a_change_no_copy_can_undo_is_reported_and_exact_restores_it():
    torch.manual_seed(0)
    model = _WritesInForward()
    opt = torch.optim.SGD([model.fc.weight, model.fc.bias], lr=0.1)
    batch = torch.randn(4, 3)
    with pytest.warns(RuntimeWarning, match="could not restore frozen"):
        report = audit(model, opt, batch=batch)
    assert not report.restored and report.unrestored == ["frozen"]
    [frozen] = [p for p in report.params if p.name == "frozen"]
    assert frozen.changed and frozen.max_abs_delta is None  # moved, with nothing to measure against
    model = _WritesInForward()
    opt = torch.optim.SGD([model.fc.weight, model.fc.bias], lr=0.1)
    before = state_of(model, opt)
    report = audit(model, opt, batch=batch, exact=True)
    assert report.restored and "frozen" in {p.name for p in report.params if p.changed}
    assert_same(before, state_of(model, opt))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_a_frozen_channels_last_backbone_is_watched_in_every_dtype(dtype):
    # channels_last weights are not contiguous: fingerprints read them through a copy made at
    # every pass. Unchanged: bit-identical and quiet; written through .data in forward: caught.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    model = model.to(dtype=dtype, memory_format=torch.channels_last)
    model[0].requires_grad_(False)
    assert not model[0].weight.is_contiguous()
    opt = torch.optim.AdamW(model[4].parameters(), lr=0.1)
    batch = torch.randn(2, 3, 9, 9, dtype=dtype).to(memory_format=torch.channels_last)
    before = state_of(model, opt)
    report = audit(model, opt, batch=batch)
    assert report.ok and not {p.name for p in report.params if p.changed} & {"0.weight", "0.bias"}
    assert_same(before, state_of(model, opt))
    def write(m, args):
        m.weight.data[0, 0, 0, 0] += 1

    handle = model[0].register_forward_pre_hook(write)
    with pytest.warns(RuntimeWarning, match="could not restore 0.weight"):
        report = audit(model, opt, batch=batch)
    handle.remove()
    assert {p.name for p in report.params if p.changed} >= {"0.weight"} and report.unrestored == ["0.weight"]


def test_trained_parameters_are_copied_before_the_first_forward():
    # The forward halves fc.weight before the step: a copy taken at the step would miss that.
    torch.manual_seed(0)
    model = _WritesInForward(also_trained=True)
    opt = torch.optim.SGD(model.fc.parameters(), lr=0.1, momentum=0.9)
    weight = model.fc.weight.detach().clone()
    with pytest.warns(RuntimeWarning, match="could not restore frozen;"):
        report = audit(model, opt, batch=torch.randn(4, 3))
    assert report.unrestored == ["frozen"]  # only what had no copy
    assert torch.equal(bits(model.fc.weight), bits(weight))
    [w] = [p for p in report.params if p.name == "fc.weight"]
    assert w.changed and w.max_abs_delta > 0


def test_sparse_grads_are_restored():
    torch.manual_seed(0)
    emb = nn.Embedding(10, 4, sparse=True)
    model = nn.Sequential(emb, nn.Flatten(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randint(0, 10, (3, 2))
    model(x).sum().backward()  # a sparse grad left from training, kept by zero_grad(set_to_none=False)
    grad = emb.weight.grad
    dense = grad.to_dense().clone()
    report = audit(model, opt, batch=x, set_to_none=False)
    assert report.restored
    assert emb.weight.grad is grad and grad.is_sparse and torch.equal(grad.to_dense(), dense)


def _example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    return module


@pytest.mark.parametrize("name,code,kwargs", [
    ("bn_undone_by_train", "FZ201", {}),
    ("adamw_stale_grads", "FZ501", {"set_to_none": False}),
    ("head_replaced_after_optimizer", "FZ302", {}),
    ("gradual_unfreeze", "FZ503", {}),
    ("requires_grad_method_assigned", "FZ101", {}),
])
def test_runtime_examples_found_and_twins_pass(name, code, kwargs):
    model, opt, batch = _example(name).make()
    report = audit(model, opt, batch=batch, **kwargs)
    assert code in {f.code for f in report.findings}, str(report)
    model, opt, batch = _example(name + "_fixed").make()
    fixed = audit(model, opt, batch=batch, **kwargs)
    assert fixed.ok, str(fixed)


def test_adamw_stale_grads_finding_names_the_cause():
    model, opt, batch = _example("adamw_stale_grads").make()
    report = audit(model, opt, batch=batch, set_to_none=False)
    fz501 = next(f for f in report.findings if f.code == "FZ501")
    assert fz501.target == "backbone"
    assert "zero tensor" in fz501.message and "AdamW" in fz501.message and "weight_decay=0.01" in fz501.message
    assert "set_to_none=False" in fz501.message
    assert {f.code for f in report.findings} == {"FZ501", "FZ504"}


def _bn_eval_only(whole_model_eval: bool = False, bn_frozen: bool = False):
    """resnet18 whose BatchNorm layers were put in eval() on their own (deeplab's `freeze_bn()`)."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=3)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval().requires_grad_(not bn_frozen)
    if whole_model_eval:
        model.eval()  # as after loading or a validation pass: the loop's train() is still to come
    return model, torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)


def test_an_eval_only_bn_freeze_undone_by_the_audits_train_is_fz201_as_the_watch_says():
    model, opt = _bn_eval_only()
    report = audit(model, opt, batch=torch.randn(4, 3, 32, 32))
    assert [f.code for f in report.findings] == ["FZ201"], str(report)
    (found,) = report.findings
    assert found.target == "20 modules" and found.message.startswith(
        "bn1, layer1.0.bn1, layer1.0.bn2 and 17 more were put in eval() to keep their running statistics (their "
        "weight and bias left to train), but model.train()")
    assert "audit with call_train=False" in found.advice  # the audit's own train(): the loop may re-freeze
    assert audit(model, opt, batch=torch.randn(4, 3, 32, 32), call_train=False).ok
    # with the BatchNorm parameters frozen too, the FZ201 of a whole freeze
    model, opt = _bn_eval_only(bn_frozen=True)
    (found,) = audit(model, opt, batch=torch.randn(4, 3, 32, 32)).findings
    assert found.code == "FZ201" and "were in eval() to freeze running statistics" in found.message


def test_near_miss_a_model_in_eval_as_a_whole_with_trainable_batchnorm_is_ok():
    model, opt = _bn_eval_only(whole_model_eval=True)
    report = audit(model, opt, batch=torch.randn(4, 3, 32, 32))
    assert report.ok, str(report)
    assert any(b.changed for b in report.buffers)  # the statistics moved, as they are meant to


def test_fz503_names_both_causes_the_audit_cannot_tell_apart():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    report = audit(model, torch.optim.SGD(model[1].parameters(), lr=0.1), batch=torch.randn(3, 4))
    (found,) = report.findings
    assert found.code == "FZ503" and found.message.endswith(
        "(the optimizer was built from only part of the model, they were unfrozen after the optimizer was built "
        "(FZ303 in the code), or their layer was created later (FZ302))")


def test_frozen_params_without_grads_do_not_move_and_are_not_reported():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)  # unfiltered, but no weight decay, grads None
    report = audit(model, opt, batch=torch.randn(3, 4))
    assert report.ok, str(report)
    assert [p.changed for p in report.params] == [False, False, True, True]


def _trained_then_frozen(opt_cls, **kw):
    """Two steps of a loop that zeroes grads before its backward, then the first layer frozen: its
    .grad from the last backward is still there when the audit begins."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = opt_cls(model.parameters(), lr=0.1, **kw)
    x = torch.randn(8, 4)
    for _ in range(2):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
    model[0].requires_grad_(False)
    return model, opt, x


def test_a_grad_left_from_before_a_freeze_is_cleared_first_and_named_in_a_note():
    model, opt, x = _trained_then_frozen(torch.optim.SGD)
    grads = [p.grad.clone() for p in model.parameters()]
    report = audit(model, opt, batch=x, expect_frozen=["0"])
    assert report.ok, str(report)  # the user's loop clears it before applying anything
    assert [p.changed for p in report.params] == [False, False, True, True]
    (note,) = report.notes
    assert note.startswith("0.weight, 0.bias (frozen, in an optimizer) held a .grad from a backward before the freeze")
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))  # given back as they were
    # zero_grad(set_to_none=False) keeps a zero grad that Adam's moments still apply: still FZ501
    model, opt, x = _trained_then_frozen(torch.optim.Adam)
    report = audit(model, opt, batch=x, set_to_none=False)
    assert "FZ501" in {f.code for f in report.findings} and not report.notes


def test_a_grad_left_from_before_the_audit_does_not_hide_a_layer_no_loss_reaches():
    class Phased(nn.Module):  # an earlier phase trained aux; the forward no longer reaches it
        def __init__(self):
            super().__init__()
            self.used, self.aux = nn.Linear(4, 2), nn.Linear(4, 2)

        def forward(self, x):
            return self.used(x)

    torch.manual_seed(0)
    model = Phased()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(3, 4)
    model.aux(x).sum().backward()
    report = audit(model, opt, batch=x)
    assert [(f.code, f.target) for f in report.findings] == [("FZ505", "aux")], str(report)


def trained_then_frozen(model: nn.Module, opt: torch.optim.Optimizer, part: nn.Module, x: torch.Tensor) -> None:
    """One step with everything trainable, then `part` frozen: the optimizer keeps its state for it."""
    model(x).sum().backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    part.requires_grad_(False)


def test_frozen_params_in_a_decaying_group_whose_grad_stays_none_are_not_fz504():
    # AdamW(model.parameters()) after a freeze (PEFT's own example loop): a parameter whose .grad is
    # None at every step is skipped by every torch optimizer, weight decay included
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters())
    report = audit(model, opt, batch=torch.randn(3, 4))
    assert report.findings == [], str(report)
    assert not any(p.changed for p in report.params if p.name.startswith("0."))


def test_weight_decay_over_frozen_params_is_fz504():
    # frozen after a backward, with zero_grad(set_to_none=False): their zero grads let the decay in
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=0.01)
    model(torch.randn(3, 4)).sum().backward()
    model[0].requires_grad_(False)
    opt.zero_grad(set_to_none=False)
    report = audit(model, opt, batch=torch.randn(3, 4), set_to_none=False)
    assert [f.code for f in report.findings] == ["FZ501", "FZ504"], str(report)
    fz504 = report.findings[1]
    assert "weight_decay=0.01 shrinks any of them whose .grad is a zero tensor" in fz504.message
    assert "hold optimizer state" not in fz504.message  # plain SGD keeps none
    # trained, then frozen: AdamW keeps their moments, whatever the grads
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    opt = torch.optim.AdamW(model.parameters())
    trained_then_frozen(model, opt, model[0], torch.randn(3, 4))
    report = audit(model, opt, batch=torch.randn(3, 4))
    assert [f.code for f in report.findings] == ["FZ504"], str(report)
    assert "2 hold optimizer state (0.weight, 0.bias)" in report.findings[0].message
    assert "weight_decay" not in report.findings[0].message.split(": ", 1)[1]  # no grad: no decay claimed
    # the target names the frozen parameters' module; frozen after the optimizer trained them, a
    # requires_grad filter when building it cannot be the fix: their state is what they hold
    assert report.findings[0].target == "0 in param_groups[0]"
    assert "2 hold optimizer state (0.weight, 0.bias) from steps before the freeze" in report.findings[0].message
    assert "`optimizer.state.pop(p)` for each" in report.findings[0].advice
    assert "[p for p in model.parameters() if p.requires_grad]" not in report.findings[0].advice
    # frozen before the optimizer was built (Adagrad makes its state then): the filter rebuilds it
    model[0].requires_grad_(False)
    report = audit(model, torch.optim.Adagrad(model.parameters()), batch=torch.randn(3, 4))
    assert "[p for p in model.parameters() if p.requires_grad]" in report.findings[0].advice, str(report)


def test_fz504_with_several_param_groups_advises_filtering_each_group_not_one_filter():
    # a filter over model.parameters() would drop the backbone's own lr and the head's weight decay
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 2))
    # frozen before the optimizer was built; Adagrad makes every parameter's state at construction
    model[0].requires_grad_(False)
    opt = torch.optim.Adagrad([{"params": [*model[0].parameters(), *model[1].parameters()], "lr": 1e-4},
                               {"params": model[2].parameters(), "lr": 1e-3, "weight_decay": 0.1}])
    report = audit(model, opt, batch=torch.randn(3, 4))
    (f,) = report.findings
    assert f.code == "FZ504" and f.target == "0 in param_groups[0]", str(report)
    assert "0.weight, 0.bias" in f.message and "param group 0 of Adagrad lr=0.0001" in f.message
    assert "keep the 2 param groups and filter each one's list" in f.advice
    assert "model.parameters() if p.requires_grad]`" not in f.advice
    # frozen parameters spread over the model: the group alone names where they are
    model[0].requires_grad_(True)
    opt = torch.optim.AdamW([{"params": [*model[0].parameters(), *model[1].parameters()], "lr": 1e-4},
                             {"params": model[2].parameters(), "lr": 1e-3, "weight_decay": 0.1}])
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    opt.zero_grad()
    model[1].requires_grad_(False)
    model[2].weight.requires_grad_(False)
    targets = sorted(f.target for f in audit(model, opt, batch=torch.randn(3, 4)).findings if f.code == "FZ504")
    assert targets == ["1 in param_groups[0]", "2.weight in param_groups[1]"]


def test_fz505_is_one_finding_per_cause_naming_every_module_as_fz501_does():
    # three unused heads: one finding, not one per module; a reentrant checkpoint behind frozen
    # layers gives its block no gradient, and the message says that it can
    from torch.utils.checkpoint import checkpoint

    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Linear(4, 4).requires_grad_(False)
            self.block = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
            self.heads = nn.ModuleList([nn.Linear(4, 2) for _ in range(4)])

        def forward(self, x):
            h = checkpoint(self.block, self.stem(x), use_reentrant=True)
            return self.heads[0](h + self.stem(x))

    torch.manual_seed(0)
    model = Heads()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        report = audit(model, opt, batch=torch.randn(3, 4))
    (f,) = report.findings
    assert f.code == "FZ505" and f.target == "(model)", str(report)
    assert set(f.names) == {"block.0.weight", "block.0.bias", "block.2.weight", "block.2.bias",
                            *(f"heads.{i}.{k}" for i in (1, 2, 3) for k in ("weight", "bias"))}
    assert "torch.utils.checkpoint(..., use_reentrant=True)" in f.message and "use_reentrant=False" in f.advice
    assert "heads.0.weight" not in f.names  # it trains


def test_unused_layer_is_fz505_and_an_lr_zero_group_is_a_note():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(4, 4)
            self.used = nn.Linear(4, 2)
            self.unused = nn.Linear(4, 2)

        def forward(self, x):
            return self.used(self.body(x))

    model = TwoHeads()
    opt = torch.optim.SGD([{"params": model.body.parameters(), "lr": 0},
                           {"params": [*model.used.parameters(), *model.unused.parameters()], "lr": 0.1}])
    report = audit(model, opt, batch=torch.randn(3, 4))
    by_target = {f.target: f for f in report.findings}
    assert set(by_target) == {"unused"}, str(report)
    assert "received no gradient (.grad stayed None at every step): not used in the forward pass" \
        in by_target["unused"].message
    # lr=0 holds the body still by its own setting (a stage not reached yet): said, not judged
    (note,) = report.notes
    assert note.startswith("body.weight, body.bias (requires_grad=True, param group 0 of SGD) did not change over "
                           "2 steps: the group's lr is 0, so no FZ505"), note
    assert "FZ304 in the code" in note and "note: body.weight" in str(report)


def test_live_misspelling_and_module_attribute():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    model[0].weight.require_grad = False  # noqa: FZ103 (the mistake under test)
    model.trainable = False
    model[1].bias.is_trainable = False  # noqa: FZ103
    report = audit(model, torch.optim.SGD(model.parameters(), lr=0.1), batch=torch.randn(2, 4))
    assert sorted((f.code, f.target) for f in report.findings) == [
        ("FZ103", "(model)"), ("FZ103", "0.weight"), ("FZ103", "1.bias")]


def test_expectations_fz506():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    kw = dict(batch=torch.randn(2, 4))
    assert audit(model, opt, expect_frozen=["0"], expect_trainable=["1.*"], **kw).ok
    report = audit(model, opt, expect_frozen=["1"], expect_trainable=["0.weight", "nope"], **kw)
    assert sorted(f.target for f in report.findings if f.code == "FZ506") == ["0.weight", "1", "nope"]
    with pytest.raises(FreezeAuditError) as err:
        assert_frozen(model, opt, frozen=["1"], **kw)
    assert isinstance(err.value, AssertionError)
    text = str(err.value)
    assert "FZ506 expectation-failed [1]" in text and "(model) Sequential" in text


@pytest.mark.parametrize("make_model,batch", [
    (lambda: nn.Sequential(nn.Conv1d(3, 4, 3), nn.Flatten(), nn.LazyLinear(2)), None),
    (lambda: nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(32, 2)), None),
    (lambda: nn.LSTM(4, 8, batch_first=True), None),
    (lambda: tiny_encoder(), None),
    (lambda: torchvision.models.resnet18(weights=None, num_classes=2), None),
])
def test_synthetic_inputs(make_model, batch):
    torch.manual_seed(0)
    model = make_model()
    try:
        model(__import__("freezelint.runtime.inputs", fromlist=["x"]).synthesize(model))  # materialise lazy layers
    except Exception:
        pass
    report = audit(model, torch.optim.SGD(model.parameters(), lr=0.01), batch=batch)
    assert any(p.changed for p in report.params)


def test_outputs_dict_and_dataclass_and_batch_forms():
    @dataclasses.dataclass
    class Out:
        logits: torch.Tensor
        aux: tuple

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 2)
            self.b = nn.Linear(4, 2)

        def forward(self, x, scale=1.0):
            return Out(self.a(x) * scale, ({"extra": self.b(x)}, torch.tensor([1])))

    model = M()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for batch in (torch.randn(2, 4), (torch.randn(2, 4), 2.0), {"x": torch.randn(2, 4), "scale": 0.5}):
        report = audit(model, opt, batch=batch)
        assert report.ok and all(p.changed for p in report.params), str(report)


def test_loss_fn_gets_output_and_batch():
    model = nn.Linear(4, 2)
    seen = []

    def loss_fn(out, batch):
        seen.append(batch.shape)
        return out[:, 0].sum()

    audit(model, torch.optim.SGD(model.parameters(), lr=0.1), batch=torch.randn(3, 4), loss_fn=loss_fn)
    assert seen == [torch.Size([3, 4])] * 2


def test_mixed_precision_scaler_and_autocast_pass_through():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu")
    before = scaler.state_dict()
    report = audit(model, opt, batch=torch.randn(2, 4), scaler=scaler, autocast_dtype=torch.bfloat16)
    assert report.ok and all(p.changed for p in report.params)
    assert scaler.state_dict() == before


@pytest.mark.parametrize("bad,match", [
    (lambda: (object(), torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1)), "needs an nn.Module"),
    (lambda: (nn.ReLU(), torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1)), "has no parameters"),
    (lambda: (nn.Linear(2, 2), torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=1)), "none of this model"),
    (lambda: (nn.Linear(2, 2), "adam"), "needs a torch.optim.Optimizer"),
])
def test_bad_input_is_a_clear_error(bad, match):
    model, opt = bad()
    with pytest.raises(AuditUsageError, match=match):
        audit(model, opt)


def test_bad_steps_and_uninferable_input_leave_model_untouched():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return x * self.w

    model = Custom()
    opt = torch.optim.SGD(model.parameters(), lr=1)
    for steps in (0, -1, 1.5, True):
        with pytest.raises(AuditUsageError, match="steps must be an integer"):
            audit(model, opt, steps=steps)
    with pytest.raises(AuditUsageError, match="pass batch="):
        audit(model, opt)
    assert torch.equal(model.w, torch.ones(3)) and model.w.grad is None


def test_report_to_dict_is_json_and_tree_collapses():
    model = torchvision.models.resnet18(weights=None)
    model.requires_grad_(False)
    model.fc = nn.Linear(512, 3)
    model.eval()
    model.train = lambda mode=True: model  # keep BN frozen for this test
    opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
    report = audit(model, opt, batch=torch.randn(2, 3, 32, 32))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True and len(data["params"]) == 62 and data["modules"][0]["name"] == ""
    text = report.render_text()
    assert len(text.splitlines()) < 20, text  # 60+ modules, one line per uniform subtree
    assert "layer1 Sequential · frozen" in text and "submodules, all frozen" in text
    # a collapsed line counts what is under it once: layer1 holds 2 blocks of 6 params and 6 buffers
    assert "layer1 Sequential · frozen · eval · params changed 0/12 · buffers changed 0/12" in text
    assert report.extra_bytes < 0.05 * sum(p.numel() * 4 for p in model.parameters())


def test_frozen_stages_with_frozen_batchnorm_fold_into_one_line_each():
    # FrozenBatchNorm2d holds buffers and no parameters: it takes the status of the frozen convs
    # around it, so a frozen stage is one line, as with BatchNorm2d in eval()
    from torchvision.ops import FrozenBatchNorm2d

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=3, norm_layer=FrozenBatchNorm2d)
    model.requires_grad_(False)
    model.fc.requires_grad_(True)
    report = audit(model, torch.optim.SGD(model.fc.parameters(), lr=0.1), batch=torch.randn(2, 3, 32, 32))
    text = report.render_text()
    assert report.ok and len(text.splitlines()) <= 10, text
    assert "layer1 Sequential · frozen · train · params changed 0/4 · buffers changed 0/16 · 12 submodules, all frozen" \
        in text, text


def test_pytest_plugin_fixture(pytester):
    pytester.makepyfile("""
        import torch, torch.nn as nn, pytest

        def test_ok(freeze_audit):
            m = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
            m[0].requires_grad_(False)
            opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
            report = freeze_audit(m, opt, frozen=["0"], trainable=["1"], batch=torch.randn(2, 4))
            assert report.ok

        def test_fails(freeze_audit):
            m = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
            opt = torch.optim.SGD(m.parameters(), lr=0.1)
            freeze_audit(m, opt, frozen=["0"], batch=torch.randn(2, 4))
    """)
    # the plugin comes from the installed entry point (an in-process run builds a new plugin
    # manager, which loads the entry points again: no torch start-up to pay twice); the other
    # installed plugins stay out
    others = [e.name for e in importlib.metadata.entry_points(group="pytest11") if e.name != "freezelint"]
    result = pytester.runpytest_inprocess(*(f"-pno:{name}" for name in others))
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*FZ506 expectation-failed [[]0[]]*"])
    # the failure shows the test's own line and the report, not freezelint's frames and reprs
    assert "runner.py" not in result.stdout.str() and "AuditReport(findings=" not in result.stdout.str()


def test_audit_cli_on_examples(tmp_path, cli):
    # one run as its own process (the entry point, exit status, JSON on stdout) ...
    r = run_subprocess(ROOT, "audit", "examples/runtime/gradual_unfreeze.py:make", "--format", "json")
    assert r.code == 1 and [f["code"] for f in json.loads(r.out)["findings"]] == ["FZ503"]
    # ... the rest in this process, which has paid for importing torch already
    r = cli(ROOT, "audit", "examples/runtime/gradual_unfreeze_fixed.py:make")
    assert r.code == 0 and "freeze audit: OK" in r.out
    r = cli(ROOT, "audit", "examples/runtime/adamw_stale_grads.py:make", "--no-set-to-none")
    assert r.code == 1 and "FZ501" in r.out
    # expectations and a report file, as `freezelint run` takes them
    out = tmp_path / "report.json"
    r = cli(ROOT, "audit", "examples/runtime/gradual_unfreeze_fixed.py:make", "--format", "json", "-o", str(out),
            "--expect-frozen", "head", "--expect-trainable", "backbone.3")
    assert r.code == 1 and not r.out
    assert [(f["code"], f["target"]) for f in json.loads(out.read_text())["findings"]] == [("FZ506", "head")]
    r = cli(ROOT, "audit", "examples/runtime/gradual_unfreeze_fixed.py:make", "-o", str(tmp_path / "no/dir/r.txt"))
    assert r.code == 2 and "no such directory" in r.err and not r.out
    (tmp_path / "f.py").write_text("def make():\n    return 1\n")
    for target, needle in [("f.py:make", "must return (model, optimizer)"), ("f.py:nope", "has no function"),
                           ("missing.py:make", "no such file"), ("f.py", "expected FILE.py:FUNCTION")]:
        r = cli(tmp_path, "audit", target)
        assert r.code == 2 and needle in r.err and r.err.count("\n") == 1 and not r.out, r.err



def test_audit_cli_names_the_factory_in_what_it_refuses_and_json_reads_a_verdict(tmp_path, cli):
    (tmp_path / "f.py").write_text("import torch\nnot_a_factory = 3\n"
                                   "def ints():\n    return 1, 2\n"
                                   "def no_opt():\n    return torch.nn.Linear(2, 2), 5\n"
                                   "def boom():\n    raise ValueError('no data')\n")
    for target, line in [("f.py:ints", "f.py:ints returned an int as the model (the first item): it must be an "
                                       "nn.Module"),
                         ("f.py:no_opt", "f.py:no_opt returned an int as the optimizer (the second item): it must "
                                         "be a torch.optim.Optimizer, a list or a dict of them"),
                         ("f.py:not_a_factory", "f.py:not_a_factory is an int, not a function"),
                         ("f.py:boom", "f.py:boom raised ValueError: no data")]:
        r = cli(tmp_path, "audit", target)
        assert (r.code, r.err, r.out) == (2, f"freezelint: error: {line}\n", ""), r.err
        # as `freezelint run --format json` writes it: `jq .ok` reads a verdict where the audit could not run
        r = cli(tmp_path, "audit", "--format", "json", target)
        assert r.code == 2 and json.loads(r.out) == {"ok": False, "error": line, "exit_code": 2, "findings": []}
    help_text = " ".join(cli(tmp_path, "audit", "--help").out.split())
    assert "--steps STEPS training steps to run on the model (default 2)" in help_text
    assert "the report as text (default) or as one JSON document" in help_text
    r = cli(tmp_path, "audit", "--format", "json", "-o", "audit.json", "missing.py:make")
    assert r.code == 2 and not r.out
    assert json.loads((tmp_path / "audit.json").read_text())["error"] == "no such file: missing.py"

@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_audit_restores_and_stays_on_device():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=3).cuda()
    model.layer1.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    batch = torch.randn(2, 3, 32, 32, device="cuda")
    before = state_of(model, opt)
    report = audit(model, opt, batch=batch)
    assert report.device.startswith("cuda") and report.restored
    assert_same(before, state_of(model, opt))


def test_parameters_and_buffers_read_off_the_module_walk_match_torch():
    from freezelint.runtime.runner import _named_tensors

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5, 4)
            self.out = nn.Linear(4, 5, bias=False)
            self.out.weight = self.emb.weight  # one parameter, two names: the first wins
            self.shared = nn.BatchNorm1d(4)
            self.again = self.shared  # one module, two names
            self.register_buffer("scratch", torch.zeros(2), persistent=False)
            self.register_buffer("nothing", None)

    class Renamed(nn.Linear):
        def named_parameters(self, *args, **kwargs):  # an override is asked, not bypassed
            return iter([("renamed", self.weight)])

    def ids(named):
        return [(name, id(t)) for name, t in named]

    for model in (Tied(), torchvision.models.resnet18(weights=None), nn.Sequential(Tied(), Tied()), Renamed(2, 2)):
        walk = list(model.named_modules())
        assert ids(_named_tensors(model, walk, "_parameters")[0]) == ids(model.named_parameters())
        assert ids(_named_tensors(model, walk, "_buffers")[0]) == ids(model.named_buffers())


class _SparseWeight(nn.Module):
    """A sparse parameter (a fixed graph operator, say) in front of a linear head."""

    def __init__(self, trained: bool = False, write: bool = False):
        super().__init__()
        self.op = nn.Parameter(torch.eye(3).to_sparse(), requires_grad=trained)
        self.fc = nn.Linear(3, 2)
        self.write = write

    def forward(self, x):
        if self.write:
            with torch.no_grad():
                self.op._values().mul_(2)
        return self.fc(torch.sparse.mm(self.op, x.t()).t())


def _sparse_bits(model):
    op = model.op.detach()
    return op._indices().clone(), bits(op._values())


@pytest.mark.parametrize("trained", [False, True])
def test_sparse_parameters_are_watched_and_restored(trained):
    torch.manual_seed(0)
    model = _SparseWeight(trained=trained)
    opt = torch.optim.SGD(model.parameters() if trained else model.fc.parameters(), lr=0.1, momentum=0.9)
    before = _sparse_bits(model)
    report = audit(model, opt, batch=torch.randn(4, 3))
    [op] = [p for p in report.params if p.name == "op"]
    assert op.changed is trained and report.restored
    if trained:
        assert op.max_abs_delta > 0
    after = _sparse_bits(model)
    assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1])


def test_a_write_into_a_frozen_sparse_parameter_is_caught_and_exact_restores_it():
    model = _SparseWeight(write=True)
    opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
    with pytest.warns(RuntimeWarning, match="could not restore op"):
        report = audit(model, opt, batch=torch.randn(4, 3))
    assert report.unrestored == ["op"] and "op" in {p.name for p in report.params if p.changed}
    model = _SparseWeight(write=True)
    opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
    before = _sparse_bits(model)
    report = audit(model, opt, batch=torch.randn(4, 3), exact=True)
    assert report.restored
    [op] = [p for p in report.params if p.name == "op"]
    assert op.changed and op.max_abs_delta == 3.0  # the diagonal: 1, doubled by each of two forwards
    after = _sparse_bits(model)
    assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1])


def test_fz501_sizes_the_change_after_the_steps_and_words_a_parameter_gone_infinite():
    torch = pytest.importorskip("torch")
    from torch import nn

    import freezelint

    def run(write):
        torch.manual_seed(0)
        m = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
        m[0].requires_grad_(False)
        opt = torch.optim.SGD(m.parameters(), lr=0.1)

        def step(model, optimizer, batch):
            model(batch).sum().backward()
            optimizer.step()
            optimizer.zero_grad()
            with torch.no_grad():
                write(model[0].weight)

        report = freezelint.audit(m, opt, step_fn=step, batch=torch.randn(2, 4), exact=True)
        return next(f.message for f in report.findings if f.code == "FZ501")

    assert "changed over 2 steps (up to 1);" in run(lambda w: w.add_(0.5))
    text = run(lambda w: w[0].fill_(float("inf")))
    assert "(some from or to an infinite value)" in text
    assert "inf" not in text.replace("infinite", "") and "nan" not in text
