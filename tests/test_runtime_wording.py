"""What the runtime findings and notes say where the first wording was wrong or missed the cause:
a frozen Embedding with max_norm, tensors of no module, a BatchNorm with momentum=0, Parameters
swapped by load_state_dict(assign=True), a teacher's train() call."""

from __future__ import annotations

import re

import copy

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import freezelint  # noqa: E402

_SITE = r"called (?:in \w+ )?at [^,]+:\d+, "  # where the watch saw the train() call made


# --- FZ501: a frozen Embedding built with max_norm renormalises the rows it looks up ---------------

class Clf(nn.Module):
    def __init__(self, bag: bool = False, max_norm: float | None = 1.0):
        super().__init__()
        table = torch.randn(100, 16) * 3  # rows well above max_norm
        kind = nn.EmbeddingBag if bag else nn.Embedding
        self.emb = kind.from_pretrained(table, freeze=True, max_norm=max_norm)
        self.head = nn.Linear(16, 2)

    def forward(self, ids):
        e = self.emb(ids)
        return self.head(e if isinstance(self.emb, nn.EmbeddingBag) else e.mean(1))


def _ids():
    return torch.randint(0, 100, (8, 6))


def _watched(model, steps_run=3, ema=None):
    opt = torch.optim.Adam(model.head.parameters(), lr=1e-3)
    with freezelint.watch() as w:
        for _ in range(steps_run):
            ids = _ids()
            loss = F.cross_entropy(model(ids), torch.randint(0, 2, (8,)))
            if ema is not None:
                with torch.no_grad():
                    loss = loss + 0 * ema(ids).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if ema is not None:
                with torch.no_grad():
                    for p, q in zip(model.parameters(), ema.parameters()):
                        q.mul_(0.9).add_(0.1 * p)
    return w.report


@pytest.mark.parametrize("bag", [False, True])
def test_a_frozen_embedding_with_max_norm_is_fz501_naming_the_cause_in_audit_and_watch(bag):
    torch.manual_seed(0)
    model = Clf(bag)
    audited = freezelint.audit(model, torch.optim.Adam(model.head.parameters()), batch=_ids(), exact=True)
    watched = _watched(model)
    kind = "EmbeddingBag" if bag else "Embedding"
    for report in (audited, watched):
        [f] = report.findings
        assert (f.code, f.target) == ("FZ501", "emb"), report.render_text()
        assert f.message.startswith("emb.weight: requires_grad=False, yet changed over 2 steps"), f.message
        assert (f"emb ({kind}, max_norm=1) renormalises the rows it looks up in place in every forward, frozen or "
                f"not") in f.message
        assert f.advice.startswith("build it with max_norm=None; if the vectors should be bounded, renormalise the "
                                   "table once before training (`with torch.no_grad(): emb.weight.copy_("
                                   "torch.renorm(emb.weight, 2, 0, 1))`)"), f.advice
    # one source of truth: the same words from the audit's synthetic steps and the loop's own (the audit,
    # which copied the weight, also sizes the change)
    a, b = audited.findings[0], watched.findings[0]
    assert (a.message.split("; ", 1)[1], a.advice) == (b.message.split("; ", 1)[1], b.advice)


def test_a_frozen_embedding_without_max_norm_stays_unchanged_and_clean():
    torch.manual_seed(0)
    report = _watched(Clf(max_norm=None))
    assert report.ok and not report.findings, report.render_text()


@pytest.mark.parametrize("inside", [False, True])
def test_an_ema_copy_with_a_max_norm_embedding_is_still_the_scripts_to_write(inside):
    # inside: the copy is a part of the judged model (SB3 keeps critic and critic_target in one policy)
    torch.manual_seed(0)
    student = Clf()
    student.emb.weight.requires_grad_(True)  # the student trains its table too
    ema = copy.deepcopy(student).requires_grad_(False)
    if inside:
        both = nn.Module()
        both.student, both.ema = student, ema
    opt = torch.optim.Adam(student.parameters(), lr=1e-3)
    with freezelint.watch() as w:
        for _ in range(3):
            ids = _ids()
            with torch.no_grad():
                target = ema(ids).softmax(-1)
            loss = F.cross_entropy(student(ids), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for p, q in zip(student.parameters(), ema.parameters()):
                    q.mul_(0.9).add_(0.1 * p)
    assert w.report.ok and not w.report.findings, w.report.render_text()
    if inside:
        assert "ema Clf · frozen · train · params changed 3/3" in w.report.render_text()


# --- notes on tensors of no module the optimizer trains ----------------------------------------------

def _sac(polyak_target_trainable: bool):
    torch.manual_seed(0)
    policy = nn.Module()
    policy.critic = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    policy.critic_target = copy.deepcopy(policy.critic).eval()
    if not polyak_target_trainable:
        policy.critic_target.requires_grad_(False)
    log_alpha = torch.zeros(1, requires_grad=True)
    opt_c = torch.optim.Adam(policy.critic.parameters(), 1e-3)
    opt_a = torch.optim.Adam([log_alpha], 1e-3)
    with freezelint.watch() as w:
        for _ in range(3):
            s, r, logp = torch.randn(8, 4), torch.randn(8, 1), torch.randn(8, 1)
            alpha_loss = -(log_alpha * (logp + 1.0)).mean()
            opt_a.zero_grad()
            alpha_loss.backward()
            opt_a.step()
            with torch.no_grad():
                y = r + 0.99 * (policy.critic_target(s) - log_alpha.exp() * logp)
            loss = (policy.critic(s) - y).pow(2).mean()
            opt_c.zero_grad()
            loss.backward()
            opt_c.step()
            with torch.no_grad():
                for p, tp in zip(policy.critic.parameters(), policy.critic_target.parameters()):
                    tp.mul_(0.95).add_(0.05 * p)
    return w.report


@pytest.mark.parametrize("polyak_target_trainable", [False, True])
def test_a_learnable_temperature_is_noted_as_what_it_is_not_as_a_stand_in(polyak_target_trainable):
    report = _sac(polyak_target_trainable)
    assert report.ok and not report.findings, report.render_text()
    [note] = [n for n in report.notes if "belong" in n]
    assert note == ("opt_a trains 1 tensor that belongs to no module of the model (log_alpha, shape [1]): it got "
                    "gradients and was not judged"), note
    assert "critic_target" not in " ".join(report.notes)  # the polyak target ran and changed: no "took no part"


def test_tensors_of_no_module_do_not_hide_a_trainable_layer_the_optimizer_left_out():
    # a temperature beside a model whose second head is trainable, in no param group, and out of the loss:
    # the shapes show no substitution, so the head is judged as usual (FZ503)
    torch.manual_seed(0)
    model = nn.Module()
    model.body, model.head, model.aux = nn.Linear(4, 4), nn.Linear(4, 2), nn.Linear(4, 3)
    temperature = torch.ones(1, requires_grad=True)
    opt = torch.optim.SGD([*model.body.parameters(), *model.head.parameters(), temperature], lr=0.1)
    with freezelint.watch() as w:
        for _ in range(3):
            h = model.body(torch.randn(5, 4))
            loss = (model.head(h) / temperature).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    codes = [f.code for f in w.report.findings]
    assert "FZ503" in codes, w.report.render_text()
    [f] = [f for f in w.report.findings if f.code == "FZ503"]
    assert f.target == "aux" and "functional_call" not in " ".join(w.report.notes)
    assert any(n.startswith("SGD also trains 1 tensor that belongs to no module of the model (temperature, "
                            "shape [1])") for n in w.report.notes), w.report.notes


def test_a_part_given_as_the_model_is_not_said_to_take_no_part():
    torch.manual_seed(0)
    model = nn.Module()
    model.enc = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8)).requires_grad_(False)
    model.head = nn.Linear(8, 2)
    opt = torch.optim.Adam(model.head.parameters(), lr=1e-3)
    model.train()
    with freezelint.watch(model=model.enc) as w:
        for _ in range(3):
            loss = F.cross_entropy(model.head(model.enc(torch.randn(8, 8))), torch.randint(0, 2, (8,)))
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert [f.code for f in w.report.findings] == ["FZ502"], w.report.render_text()
    [note] = [n for n in w.report.notes if "belong" in n]
    assert note == ("Adam trains 2 tensors that belong to no module of the model (shapes [2, 8], [2]): they got "
                    "gradients and were not judged"), note


# --- FZ502: momentum=0 keeps the running statistics, train mode still uses the batch's -------------

def test_a_frozen_batchnorm_with_momentum_0_says_what_moved_and_what_harm_is_left():
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8, momentum=0.0), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten()).requires_grad_(False)
    model = nn.Sequential(backbone, nn.Linear(8, 4))
    opt = torch.optim.SGD(model[1].parameters(), lr=0.1)
    model.train()
    with freezelint.watch() as w:
        for _ in range(3):
            loss = F.cross_entropy(model(torch.randn(8, 3, 8, 8)), torch.randint(0, 4, (8,)))
            opt.zero_grad()
            loss.backward()
            opt.step()
    audited = freezelint.audit(model, opt, batch=torch.randn(8, 3, 8, 8))
    for report in (w.report, audited):
        [f] = report.findings
        assert (f.code, f.target) == ("FZ502", "0.1"), report.render_text()
        assert "statistics moved" not in f.message
        assert f.message.startswith(
            "0.1 (BatchNorm2d) has all parameters frozen and runs in train mode: only num_batches_tracked moved over "
            "2 steps (momentum=0 keeps running_mean and running_var), yet in train mode it normalises each batch "
            "with that batch's own mean and variance, not its running statistics"), f.message
        assert "momentum=0 does not freeze it" in f.message
        assert f.advice.startswith("put it in eval()"), f.advice


def test_a_frozen_batchnorm_with_momentum_still_says_its_statistics_moved():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model[:2].requires_grad_(False)
    report = freezelint.audit(model, torch.optim.SGD(model[2].parameters(), lr=0.1))
    [f] = report.findings
    assert f.code == "FZ502" and "running statistics moved (up to" in f.message, report.render_text()


def test_a_batchnorm_with_momentum_0_whose_eval_train_undid_says_what_moved_and_what_harm_is_left():
    # FZ201, not FZ502: the layer was put in eval() and the loop's model.train() undid it
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=0.0), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    model[:2].requires_grad_(False)
    model[1].eval()
    opt = torch.optim.SGD(model[3].parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(3):
            model.train()
            model(torch.randn(2, 3, 8, 8)).sum().backward()
            opt.step()
            opt.zero_grad()
    [f] = w.report.findings
    assert (f.code, f.target) == ("FZ201", "1"), w.report.render_text()
    assert "statistics moved" not in f.message
    assert ("switched it back and only num_batches_tracked moved over 2 steps (the running mean and variance did "
            "not), yet in train mode it normalises each batch with that batch's own statistics") in f.message


# --- FZ302: Parameters swapped in a layer that stays, not a layer replaced --------------------------

def _three():
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))


def _steps(model, opt, swap):
    with freezelint.watch() as w:
        swap()
        for _ in range(3):
            loss = F.cross_entropy(model(torch.randn(8, 16)), torch.randint(0, 4, (8,)))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w.report


def test_load_state_dict_assign_after_the_optimizer_is_fz302_worded_as_a_swap():
    torch.manual_seed(0)
    ckpt, model = _three().state_dict(), _three()
    model[0].requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    report = _steps(model, opt, lambda: model.load_state_dict(ckpt, assign=True))
    [f] = report.findings
    assert (f.code, f.target) == ("FZ302", "2"), report.render_text()
    assert "the layer was replaced" not in f.message
    assert f.message == ("2 (Linear) has 2 trainable parameters (2.weight, 2.bias) in no param group: no layer was "
                         "replaced, but after the optimizer was built load_state_dict(..., assign=True) put new "
                         "Parameter objects, the checkpoint's tensors, in their place, so the optimizer still holds "
                         "the old ones, which no forward uses, and the new ones are never trained"), f.message
    assert f.advice.startswith("load the state dict before building the optimizer, or without assign=True")


def test_a_parameter_assigned_after_the_optimizer_is_fz302_worded_as_a_swap():
    torch.manual_seed(0)
    model = _three()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def swap():
        model[2].weight = nn.Parameter(torch.randn(4, 32))

    report = _steps(model, opt, swap)
    [f] = report.findings
    assert (f.code, f.target) == ("FZ302", "2"), report.render_text()
    assert f.message.startswith("2 (Linear) has 1 trainable parameter (2.weight) in no param group: no layer was "
                                "replaced, but after the optimizer was built a new Parameter object was assigned in "
                                "its place (`layer.weight = nn.Parameter(...)`), so the optimizer still holds the old "
                                "one"), f.message
    assert f.advice.startswith("assign the new Parameters before building the optimizer")


def test_a_layer_replaced_after_the_optimizer_keeps_its_words():
    torch.manual_seed(0)
    model = _three()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def swap():
        model[2] = nn.Linear(32, 4)

    report = _steps(model, opt, swap)
    [f] = report.findings
    assert f.code == "FZ302" and "the layer was replaced after the optimizer was built, so" in f.message, \
        report.render_text()  # the watch saw the layer replaced: no "or its Parameters were swapped"
    assert f.advice.startswith("build the optimizer after replacing layers, or")


_EITHER = ("the layer was replaced after the optimizer was built (or its Parameters were swapped for new ones after "
           "it was built: by load_state_dict(..., assign=True) or `layer.weight = nn.Parameter(...)`; nothing left "
           "on the model tells the two apart), so the new one is never trained")


def _assigned_before(watching):
    """A model whose last layer's Parameters load_state_dict(assign=True) swapped after the optimizer
    was built, judged by audit() or by a watch opened after the swap: neither saw it happen."""
    torch.manual_seed(0)
    ckpt, model = _three().state_dict(), _three()
    model[0].requires_grad_(False)
    opt = torch.optim.SGD(model[2].parameters(), lr=0.1)
    model.load_state_dict(ckpt, assign=True)
    if watching:
        return _steps(model, opt, lambda: None)
    return freezelint.audit(model, opt, batch=torch.randn(8, 16), loss_fn=lambda out, _: out.pow(2).mean())


@pytest.mark.parametrize("watching", [False, True], ids=["audit", "watch opened after"])
def test_a_swap_nothing_saw_is_not_called_a_replaced_layer(watching):
    report = _assigned_before(watching)
    fz302 = [f for f in report.findings if f.code == "FZ302"]
    assert [f.target for f in fz302] == ["2"], report.render_text()
    assert _EITHER in fz302[0].message, fz302[0].message
    assert fz302[0].advice.startswith("build the optimizer after replacing layers or loading with assign=True, or")


def test_a_layer_replaced_by_another_shape_is_surely_replaced_in_audit():
    torch.manual_seed(0)
    model = _three()
    model[0].requires_grad_(False)
    opt = torch.optim.SGD(model[2].parameters(), lr=0.1)
    model[2] = nn.Linear(32, 6)  # more classes: no swap keeps the layer and changes the shapes
    report = freezelint.audit(model, opt, batch=torch.randn(8, 16), loss_fn=lambda out, _: out.pow(2).mean())
    [f] = [f for f in report.findings if f.code == "FZ302"]
    assert "the layer was replaced after the optimizer was built, so the new one" in f.message, f.message
    # the same shapes: audit() cannot tell a replaced layer from swapped Parameters, and says so
    model = _three()
    model[0].requires_grad_(False)
    opt = torch.optim.SGD(model[2].parameters(), lr=0.1)
    model[2] = nn.Linear(32, 4)
    report = freezelint.audit(model, opt, batch=torch.randn(8, 16), loss_fn=lambda out, _: out.pow(2).mean())
    [f] = [f for f in report.findings if f.code == "FZ302"]
    assert _EITHER in f.message, f.message


# --- FZ201: a teacher frozen whole needs no train() call -----------------------------------------

def _cnn(width):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))


@pytest.mark.parametrize("teacher_in_optimizer", [False, True])
def test_fz201_on_a_teacher_frozen_whole_says_to_stop_calling_its_train(teacher_in_optimizer):
    torch.manual_seed(0)
    teacher, student = _cnn(16), _cnn(8)
    teacher.eval().requires_grad_(False)
    held = [*student.parameters(), *(teacher.parameters() if teacher_in_optimizer else ())]
    opt = torch.optim.SGD(held, lr=1e-2)
    with freezelint.watch() as w:
        for _ in range(3):
            for m in (student, teacher):
                m.train()
            x = torch.randn(8, 3, 8, 8)
            with torch.no_grad():
                t = teacher(x)
            loss = F.kl_div(F.log_softmax(student(x), -1), F.softmax(t, -1), reduction="batchmean")
            opt.zero_grad()
            loss.backward()
            opt.step()
    [f] = [f for f in w.report.findings if f.code == "FZ201"]
    assert re.search(r"teacher\.train\(\), " + _SITE + r"switched it back", f.message), w.report.render_text()
    if teacher_in_optimizer:  # not frozen whole in the sense that matters: an optimizer holds it
        assert f.advice.startswith("re-apply .eval() to it after every teacher.train()"), f.advice
    else:
        assert f.advice.startswith(
            "stop calling teacher.train(): teacher is frozen whole (no parameter of it trains, none is in an "
            "optimizer), so keep it in eval(); or override its train() to keep it in eval()"), f.advice


# --- FZ505 on a transformers pooler the loss never reads -----------------------------------------

def _bert_head_loop(pooling: bool):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16)
    encoder = transformers.BertModel(config, add_pooling_layer=pooling)
    head = nn.Linear(16, 2)
    opt = torch.optim.AdamW([*encoder.parameters(), *head.parameters()], lr=1e-3)
    with freezelint.watch() as w:
        for _ in range(3):
            ids = torch.randint(0, 64, (4, 8))
            cls = encoder(input_ids=ids).last_hidden_state[:, 0]  # the first token, not pooler_output
            loss = F.cross_entropy(head(cls), torch.randint(0, 2, (4,)))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w.report


def test_an_unused_transformers_pooler_is_named_with_the_way_to_leave_it_out():
    report = _bert_head_loop(pooling=True)
    [f] = report.findings
    assert (f.code, f.target) == ("FZ505", "encoder.pooler.dense"), report.render_text()
    assert ("pooler is BertModel's pooler, which BertModel.forward runs at every call to compute pooler_output, "
            "and the loss does not use pooler_output") in f.message, f.message
    assert f.advice.startswith("if that is meant, build the model without it (`add_pooling_layer=False`"), f.advice
    assert "(`encoder.pooler.requires_grad_(False)`)" in f.advice, f.advice
    assert _bert_head_loop(pooling=False).ok  # built without it: nothing to report


class _PooledNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.pooler, self.head = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 2)

    def forward(self, x):
        h = self.body(x)
        return self.head(h), self.pooler(h)


def test_a_module_called_pooler_outside_transformers_keeps_the_general_words():
    torch.manual_seed(0)
    model = _PooledNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(3):
            logits, _ = model(torch.randn(4, 8))  # the pooled output unused
            loss = F.cross_entropy(logits, torch.randint(0, 2, (4,)))
            opt.zero_grad()
            loss.backward()
            opt.step()
    [f] = w.report.findings
    assert f.code == "FZ505" and "(pooler) ran, but the loss does not depend on its output" in f.message, f.message
    assert "add_pooling_layer" not in f.advice


# --- FZ503: one parameter left out of the optimizer is "it", several are "they", a group of them "they" ---------

def _fz503(model: nn.Module, trained: nn.Module) -> list:
    torch.manual_seed(0)
    report = freezelint.audit(model, torch.optim.SGD(trained.parameters(), lr=0.1), steps=2)
    return [f for f in report.findings if f.code == "FZ503"]


def test_fz503_says_it_for_one_parameter_and_they_for_several():
    one = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2, bias=False))
    [f] = _fz503(one, one[0])
    text = f"{f.message} {f.advice}"
    assert f.target == "2.weight" and "its .grad accumulates" in text and "it was unfrozen" in text, text
    assert "unfreeze it before" in text and not re.search(r"\b(they|them|their)\b", text), text

    several = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    [f] = _fz503(several, several[0])
    text = f"{f.message} {f.advice}"
    assert "their .grad accumulates" in text and "they were unfrozen" in text and "unfreeze them before" in text


def test_fz503_on_many_single_parameter_layers_groups_them_and_says_them():
    # eight bias-free layers, each one parameter left out: one grouped finding over eight parameters
    layers = [nn.Linear(4, 4, bias=False) for _ in range(8)]
    model = nn.Sequential(nn.Linear(4, 4), *layers)
    found = _fz503(model, model[0])
    assert len(found) == 1 and found[0].count == 8, [str(f) for f in found]
    assert "unfreeze them before" in found[0].advice and "freeze them" in found[0].advice, found[0].advice
    assert not re.search(r"\b(freeze|add) it\b", found[0].advice), found[0].advice
    assert "advice_many" not in freezelint.audit(model, torch.optim.SGD(model[0].parameters(), lr=0.1),
                                                 steps=2).to_dict()["findings"][0]


def test_fz502_says_put_it_in_eval_for_one_module_and_them_for_several():
    def stats_found(n_norms: int):
        torch.manual_seed(0)
        layers = [m for _ in range(n_norms) for m in (nn.Linear(4, 4), nn.BatchNorm1d(4))]
        model = nn.Sequential(*layers, nn.Linear(4, 2))
        model[:-1].requires_grad_(False)
        report = freezelint.audit(model, torch.optim.SGD(model[-1].parameters(), lr=0.1), batch=torch.randn(6, 4))
        return [f for f in report.findings if f.code == "FZ502"]

    [one] = stats_found(1)
    assert one.advice.startswith("put it in eval(), again after every train() that reaches it"), one.advice
    [two] = stats_found(2)
    assert two.advice.startswith("put them in eval(), again after every train() that reaches them"), two.advice


@pytest.mark.parametrize("norm, frozen_bn", [(nn.BatchNorm1d, False), (nn.BatchNorm2d, True)])
def test_fz201_offers_frozen_batchnorm2d_only_for_batchnorm2d(norm, frozen_bn):
    # FrozenBatchNorm2d takes 4-D input only: for a BatchNorm1d it is no stand-in
    torch.manual_seed(0)
    four_d = norm is nn.BatchNorm2d
    body = nn.Sequential(nn.Conv2d(3, 4, 1) if four_d else nn.Linear(3, 4), norm(4))
    model = nn.Sequential(body, nn.Flatten(), nn.LazyLinear(2) if four_d else nn.Linear(4, 2))
    x = torch.randn(6, 3, 2, 2) if four_d else torch.randn(6, 3)
    model(x)
    body.requires_grad_(False)
    body.eval()
    opt = torch.optim.SGD(model[2].parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(3):
            model.train()
            F.cross_entropy(model(x), torch.zeros(6, dtype=torch.long)).backward()
            opt.step()
            opt.zero_grad()
    [f] = [f for f in w.report.findings if f.code == "FZ201"]
    assert ("FrozenBatchNorm2d" in f.advice) is frozen_bn, f.advice
    assert f.advice.startswith("re-apply .eval() to it after every model.train(): override train() in the model")
    assert not f.advice.endswith((" or", " or ", ";")), f.advice
