"""What the watch says about loops it cannot see into: a torch.func.functional_call loop (the
optimizer's tensors are passed in place of the module's own), and how the loop zeroes grads
(the report's header states only what it saw)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


def _functional(frozen_template: bool = False, steps: int = 4):
    from torch.func import functional_call

    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    if frozen_template:
        net.requires_grad_(False)
    params = {k: v.detach().clone().requires_grad_() for k, v in net.named_parameters()}
    opt = torch.optim.Adam(params.values(), lr=1e-2)
    start = {k: v.detach().clone() for k, v in params.items()}
    with freezelint.watch() as w:
        for _ in range(steps):
            loss = functional_call(net, params, (torch.randn(5, 4),)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert all(not torch.equal(start[k], v) for k, v in params.items())  # the optimizer's tensors trained
    return w.report


@pytest.mark.parametrize("frozen_template", [False, True])
def test_a_functional_call_loop_is_no_replaced_layer_and_says_what_was_not_judged(frozen_template):
    report = _functional(frozen_template)
    assert report.ok and not report.findings, report.render_text()
    [note] = [n for n in report.notes if "functional_call" in n]
    assert note.startswith("Adam trains 4 tensors that belong to no module of the model and got gradients"), note
    assert ("shaped as 0.weight, 0.bias, 2.weight and 1 more of the model, which got none: "
            "torch.func.functional_call or a stateless loop passes them in place of those parameters") in note, note


def _functional_part_frozen(keep_freeze: bool):
    """The first layer frozen on the module, the stand-ins cloned from every parameter: with the
    freeze (requires_grad_(v.requires_grad), only trainable ones optimized) or without it."""
    from torch.func import functional_call

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    net[0].requires_grad_(False)
    params = {k: v.detach().clone().requires_grad_(v.requires_grad if keep_freeze else True)
              for k, v in net.named_parameters()}
    opt = torch.optim.SGD([v for v in params.values() if v.requires_grad], lr=0.1)
    with freezelint.watch() as w:
        for _ in range(3):
            loss = functional_call(net, params, (torch.randn(5, 4),)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w.report


def test_stand_ins_that_ignore_a_partial_freeze_are_fz501_on_the_frozen_parameters():
    report = _functional_part_frozen(keep_freeze=False)
    [f] = report.findings
    assert (f.code, f.target) == ("FZ501", "0"), report.render_text()
    assert f.message.startswith("0.weight, 0.bias: requires_grad=False on the model, but tensors of no module shaped "
                                "as them, passed in their place (torch.func.functional_call"), f.message
    assert "the freeze stayed on the model's tensors" in f.message
    assert f.advice.startswith("build the stand-ins with the freeze (`v.detach().clone().requires_grad_(v.requires_grad)`)")
    assert _functional_part_frozen(keep_freeze=True).ok  # only the trainable ones' stand-ins train


def _func_grad_loop(through: str, frozen_too: bool):
    """torch.func.grad (or vmap over it, per-sample grads) over functional_call, the grads written
    to .grad and stepped; the backbone frozen. `frozen_too`: the frozen ones differentiated too
    (torch.func ignores requires_grad), so they move."""
    from torch.func import functional_call, grad, vmap

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    model[0].requires_grad_(False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def loss(params, rest, x, y):
        if through == "vmap":
            x, y = x[None], y[None]
        return nn.functional.cross_entropy(functional_call(model, (params, rest), (x,)), y)

    grads = grad(loss) if through == "grad" else vmap(grad(loss), in_dims=(None, None, 0, 0))
    start = model[0].weight.detach().clone()
    with freezelint.watch() as w:
        for _ in range(3):
            params = {k: v.detach() for k, v in model.named_parameters() if frozen_too or v.requires_grad}
            rest = {k: v.detach() for k, v in model.named_parameters() if k not in params}
            g = grads(params, rest, torch.randn(8, 8), torch.randint(0, 2, (8,)))
            for k, p in model.named_parameters():
                p.grad = None if k not in g else g[k] if through == "grad" else g[k].mean(0)
            opt.step()
    assert torch.equal(start, model[0].weight) is not frozen_too  # torch: the frozen layer moved, or not
    return w.report


@pytest.mark.parametrize("through", ["grad", "vmap"])
def test_a_torch_func_grad_loop_is_watched_without_reading_the_transforms_wrappers(through):
    # the forward runs inside the transform, on its wrappers (their storage cannot be read): the
    # watch takes the model's own tensors from the optimizer at the step instead
    report = _func_grad_loop(through, frozen_too=False)
    assert report.ok and not report.findings, report.render_text()
    assert [r.name for r in report.params if r.changed] == ["2.weight", "2.bias"], report.render_text()
    report = _func_grad_loop(through, frozen_too=True)
    assert [f.code for f in report.findings if f.code == "FZ501"] == ["FZ501"], report.render_text()
    [f] = [f for f in report.findings if f.code == "FZ501"]
    assert f.names == ["0.weight", "0.bias"], f.names
    # a new grad at each step: the loop's own, not one left from before the freeze
    assert "yet changed over 2 steps; the loop wrote a new .grad to them at each step (torch.func.grad" in f.message
    assert f.advice.startswith("give .grad only to parameters that require grad"), f.advice


def test_audit_with_a_torch_func_grad_step_fn_judges_the_grads_it_wrote():
    from torch.func import functional_call, grad

    def audited(frozen_too: bool):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
        model[0].requires_grad_(False)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)

        def step_fn(model, opt, batch):
            params = {k: v.detach() for k, v in model.named_parameters() if frozen_too or v.requires_grad}
            rest = {k: v.detach() for k, v in model.named_parameters() if k not in params}
            g = grad(lambda ps: functional_call(model, (ps, rest), (batch,)).pow(2).mean())(params)
            for k, p in model.named_parameters():
                p.grad = g.get(k)
            opt.step()

        return freezelint.audit(model, opt, batch=torch.randn(8, 8), step_fn=step_fn)

    assert audited(frozen_too=False).ok, audited(frozen_too=False).render_text()
    report = audited(frozen_too=True)
    [f] = [f for f in report.findings if f.code == "FZ501"]
    assert f.message.startswith("0.weight, 0.bias: requires_grad=False, yet changed over 2 steps"), f.message
    assert "; the loop wrote a new .grad to them at each step (torch.func.grad" in f.message, f.message


def test_a_layer_replaced_after_the_optimizer_is_still_fz302():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net[2] = nn.Linear(8, 2)
    with freezelint.watch() as w:
        for _ in range(2):
            opt.zero_grad()
            net(torch.randn(5, 4)).sum().backward()
            opt.step()
    assert [f.code for f in w.report.findings] == ["FZ302"], w.report.render_text()
    assert not any("functional_call" in n for n in w.report.notes)


@pytest.mark.parametrize("how,shown", [
    (dict(set_to_none=False), "zero_grad(set_to_none=False)"),
    (dict(set_to_none=True), "zero_grad(set_to_none=True)"),
    (None, "zero_grad(set_to_none=False)"),  # no zero_grad at all: the grads accumulate in place
])
def test_the_header_states_how_the_loop_zeroes_grads_as_seen(how, shown):
    net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    net[0].requires_grad_(False)
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-2)
    with freezelint.watch() as w:
        for _ in range(3):
            if how is not None:
                opt.zero_grad(**how)
            net(torch.randn(3, 4)).sum().backward()
            opt.step()
    head = w.report.render_text().splitlines()[0]
    assert head.endswith(f"AdamW, {shown}"), head


def test_a_single_step_says_nothing_of_zero_grad():
    net = nn.Linear(4, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with freezelint.watch(steps=1) as w:
        net(torch.randn(3, 4)).sum().backward()
        opt.step()
    head = w.report.render_text().splitlines()[0]
    assert "zero_grad" not in head and head.endswith("on cpu, SGD"), head


def test_a_pattern_written_with_the_compile_wrappers_segment_names_the_same_part():
    net = nn.Sequential()
    net.add_module("backbone", nn.Linear(4, 4))
    net.add_module("head", nn.Linear(4, 2))
    net.backbone.requires_grad_(False)
    model = torch.compile(net, backend="eager")
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    for patterns, ok in ((dict(expect_frozen="_orig_mod.backbone"), True),
                         (dict(expect_frozen="_orig_mod.head"), False),
                         (dict(expect_trainable="_orig_mod.head.*"), True)):
        with freezelint.watch(**patterns) as w:
            for _ in range(2):
                opt.zero_grad()
                model(torch.randn(3, 4)).sum().backward()
                opt.step()
        assert w.report.ok is ok, (patterns, w.report.render_text())
        if not ok:
            [f] = w.report.findings
            assert f.code == "FZ506" and "expected frozen, but head.weight" in f.message
            assert f.target == "_orig_mod.head"


def test_a_glob_that_matches_no_whole_name_says_which_widening_does():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    report = freezelint.audit(model, opt, batch=torch.randn(3, 2), expect_trainable=["1.[0-1]", "*.bias", "nope*"])
    messages = {f.target: f.message for f in report.findings}
    assert messages["1.[0-1]"] == ("expect_trainable pattern matched no parameter; a glob matches whole dotted names: "
                                   "`1.[0-1].*` matches 4 parameters (1.0.weight, 1.0.bias, 1.1.weight and 1 more)")
    assert messages["nope*"] == ("expect_trainable pattern matched no parameter; no name is near it; the model's "
                                 "top-level modules are 0, 1")
    assert "*.bias" not in messages  # it matched


def _parametrized_net():
    """`fc.weight` as the code reads it is `fc.parametrizations.weight.original` (orthogonal) and
    `ln.weight` is `ln.parametrizations.weight.original0/1` (weight_norm splits it); `ln` frozen."""
    from torch.nn.utils.parametrizations import orthogonal, weight_norm

    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("fc", orthogonal(nn.Linear(4, 4)))
    model.add_module("ln", weight_norm(nn.Linear(4, 4)))
    model.add_module("out", nn.Linear(4, 2))
    model.ln.requires_grad_(False)
    return model, torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)


@pytest.mark.parametrize("how", ["audit", "watch"])
def test_an_expectation_names_a_parametrized_weight_as_the_code_reads_it(how):
    def judged(**patterns):
        model, opt = _parametrized_net()
        if how == "audit":
            return freezelint.audit(model, opt, batch=torch.randn(3, 4), **patterns)
        with freezelint.watch(**patterns) as w:
            for _ in range(2):
                opt.zero_grad()
                model(torch.randn(3, 4)).pow(2).mean().backward()
                opt.step()
        return w.report

    report = judged(expect_trainable="fc.weight", expect_frozen=["ln.weight", "ln.bias"])
    assert report.ok and not report.findings, report.render_text()
    report = judged(expect_frozen="fc.weight", expect_trainable="ln.weight")
    found = {f.target: f.message for f in report.findings}
    assert sorted(found) == ["fc.weight", "ln.weight"], report.render_text()  # named as written
    assert found["fc.weight"].startswith("expected frozen, but fc.parametrizations.weight.original is trainable")
    assert found["ln.weight"].startswith("expected to train, but ln.parametrizations.weight.original0, "
                                         "ln.parametrizations.weight.original1 did not change"), found["ln.weight"]


def test_multihead_attentions_out_proj_runs_where_its_parent_does():
    # F.multi_head_attention_forward reads out_proj's weights itself, never calling the module: an
    # encoder run under no_grad is one FZ505, told by one cause, not two
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), 1)
    head = nn.Linear(16, 2)
    model = nn.ModuleDict({"enc": enc, "head": head})
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with freezelint.watch() as w:
        for _ in range(2):
            with torch.no_grad():
                feats = model["enc"](torch.randn(3, 5, 16))
            loss = model["head"](feats).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    [f] = w.report.findings
    assert f.code == "FZ505" and "enc.layers.0.self_attn.out_proj.weight" in f.names, w.report.render_text()
    assert "ran, but the loss does not depend on their output" in f.message


def _gan(unfreeze, steps: int = 2):
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 8))
    D = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 1), nn.Tanh())
    optG = torch.optim.Adam(G.parameters(), lr=1e-3)
    optD = torch.optim.Adam(D.parameters(), lr=1e-3)
    with freezelint.watch(steps=steps) as w:
        for _ in range(steps + 2):
            unfreeze(D)
            fake = G(torch.randn(4, 4))
            lossD = D(torch.randn(4, 8)).mean() - D(fake.detach()).mean()
            optD.zero_grad()
            lossD.backward()
            optD.step()
            D.requires_grad_(False)
            lossG = -D(fake).mean()
            optG.zero_grad()
            lossG.backward()
            optG.step()
    return w.report, D


def test_a_toggle_that_unfreezes_part_of_what_it_froze_is_fz504():
    report, D = _gan(lambda D: D[0].requires_grad_(True))
    [f] = report.findings
    assert f.code == "FZ504" and f.target == "D.1", report.render_text()
    assert f.message.startswith("D.1.weight, D.1.bias trained at optD's first step, were frozen between its steps "
                                "together with D.0.weight, D.0.bias (for another optimizer's step), and only those "
                                "were unfrozen again")
    assert "2 hold optimizer state" in f.message and "`D.requires_grad_(True)`" in f.advice


def test_the_whole_toggle_and_a_freeze_with_one_optimizer_are_no_toggle_finding():
    report, _ = _gan(lambda D: D.requires_grad_(True))
    assert report.ok, report.render_text()
    # one optimizer freezing part of its model inside the window (progressive freezing): a note
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with freezelint.watch(steps=3) as w:
        for i in range(3):
            if i == 1:
                model[0].requires_grad_(False)
            opt.zero_grad()
            model(torch.randn(3, 4)).sum().backward()
            opt.step()
    assert not any(f.code == "FZ504" and "toggle" in f.message for f in w.report.findings), w.report.render_text()
    assert any("then frozen from step 2" in n for n in w.report.notes), w.report.notes


def test_low_precision_weights_whose_updates_round_away_get_a_note():
    backbone, head = nn.Linear(8, 8), nn.Linear(8, 2)
    model = nn.Sequential(backbone, nn.ReLU(), head).to(torch.bfloat16)
    backbone.requires_grad_(False)
    for lr, rounds in ((1e-6, True), (1e-1, False)):
        opt = torch.optim.SGD(head.parameters(), lr=lr)
        before = head.weight.detach().clone()
        with freezelint.watch() as w:
            for _ in range(2):
                opt.zero_grad()
                model(torch.randn(4, 8, dtype=torch.bfloat16)).float().pow(2).mean().backward()
                opt.step()
        assert torch.equal(before, head.weight) is rounds  # torch: the update rounded away, or not
        notes = [n for n in w.report.notes if "rounds away" in n]
        assert bool(notes) is rounds, w.report.render_text()
        if rounds:
            assert notes[0].startswith("2.weight, 2.bias (bfloat16) got nonzero grads and stayed bit-identical")


def test_lightning_fabric_is_a_wrapper_its_model_named_as_written():
    pytest.importorskip("lightning")
    from lightning.fabric import Fabric

    fabric = Fabric(accelerator="cpu", devices=1)
    model = nn.Sequential()
    model.add_module("backbone", nn.Linear(4, 4))
    model.add_module("head", nn.Linear(4, 2))
    model.backbone.requires_grad_(False)
    opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
    model, opt = fabric.setup(model, opt)
    with freezelint.watch(expect_frozen="backbone", expect_trainable="head") as w:
        for _ in range(2):
            loss = model(torch.randn(2, 4)).sum()
            opt.zero_grad()
            fabric.backward(loss)
            opt.step()
    text = w.report.render_text()
    assert w.report.ok and "_forward_module" not in text and "tied" not in text, text
    assert [r.name for r in w.report.params] == ["backbone.weight", "backbone.bias", "head.weight", "head.bias"]


def test_a_loss_module_that_holds_the_model_is_no_model_of_its_own():
    class ContrastiveLoss(nn.Module):  # sentence-transformers' losses hold the model and call it
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, a, b):
            return 1 - nn.functional.cosine_similarity(self.model(a), self.model(b)).mean()

    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))
    model[0].requires_grad_(False)
    loss_fn = ContrastiveLoss(model)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    with freezelint.watch(expect_frozen="0", expect_trainable="2") as w:
        for _ in range(2):
            loss = loss_fn(torch.randn(4, 8), torch.randn(4, 8))
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert w.report.ok, w.report.render_text()
    assert w.report.modules[0].type == "Sequential" and w.report.params[0].name == "0.weight"


def test_an_expectation_may_name_the_one_model_judged_by_its_script_name():
    base = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    ctrl = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    base.requires_grad_(False)
    base.eval()
    opt = torch.optim.AdamW(ctrl.parameters(), lr=1e-2)
    for patterns, ok in ((dict(expect_trainable="ctrl"), True), (dict(expect_frozen="ctrl.1"), False)):
        with freezelint.watch(**patterns) as w:
            for _ in range(2):
                x = torch.randn(8, 4)
                loss = base(x + ctrl(x)).pow(2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        assert w.report.ok is ok, (patterns, w.report.render_text())
        if not ok:
            assert [f.target for f in w.report.findings] == ["ctrl.1"]  # as the user wrote it


def test_fz503_on_parameters_no_backward_reached_says_so_not_that_grads_pile_up():
    class LM(nn.Module):
        def __init__(self, emb=None):
            super().__init__()
            self.emb = emb or nn.Embedding(16, 8)
            self.body = nn.Linear(8, 8)

        def forward(self, x):
            return self.body(self.emb(x))

    policy = LM()
    ref = LM(emb=policy.emb)  # shares the policy's embedding, never frozen
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-2)
    with freezelint.watch() as w:
        for _ in range(2):
            x = torch.randint(0, 16, (4,))
            with torch.no_grad():
                target = ref(x)
            loss = (policy(x) - target).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    [f] = [f for f in w.report.findings if f.code == "FZ503"]
    assert f.names == ["ref.body.weight", "ref.body.bias"] and ref.body.weight.grad is None
    assert "accumulates" not in f.message and "no gradient reached them in these steps" in f.message
    [note] = [n for n in w.report.notes if "shares" in n]
    assert note.startswith("ref shares policy.emb.weight with policy, and it changed: ref changes with every step")
