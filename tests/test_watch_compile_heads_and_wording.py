"""The watch on real setups: FZ505 under torch.compile and on heads the loss ignores, FZ503 under Lightning's
BackboneFinetuning, FZ504 once per optimizer, and the wording of numbers and grouped findings."""

from __future__ import annotations

import sys
import warnings

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402
from freezelint.runtime import findings as F  # noqa: E402
from freezelint.runtime.report import ModuleRecord, ParamRecord  # noqa: E402


class Heads(nn.Module):
    """A body and three heads; the loss uses the classifier only (the APTOS script: the regressor
    and ordinal heads that inference combines are never trained)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 8)
        self.classifier = nn.Linear(8, 3)
        self.regressor = nn.Linear(8, 1)
        self.ordinal = nn.Linear(8, 4)

    def forward(self, x):
        h = self.body(x).relu()
        return self.classifier(h), self.regressor(h), self.ordinal(h)


def _train(model, opt, steps=3, watch_steps=2):
    with freezelint.watch(steps=watch_steps) as w, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.compile's notes on the watch's global hooks
        for _ in range(steps):
            opt.zero_grad()
            c_out = model(torch.randn(4, 8))[0]
            c_out.sum().backward()
            opt.step()
    return w.report


def _compiled(model):
    torch._dynamo.reset()
    return torch.compile(model, backend="aot_eager")  # AOTAutograd's backward, no C compiler


# ---------------------------------------------------------------- FZ505 with zero grads (compiled)
def test_compiled_heads_the_loss_ignores_get_zero_grads_and_are_fz505_of_their_own():
    torch.manual_seed(0)
    model = Heads()
    report = _train(_compiled(model), torch.optim.Adam(model.parameters(), lr=1e-2))
    assert model.regressor.weight.grad is not None  # what the compiled backward does: zeros, not None
    (f,) = report.findings
    assert f.code == "FZ505" and f.target == "regressor, ordinal", report.render_text()
    assert set(f.names) == {f"{m}.{k}" for m in ("regressor", "ordinal") for k in ("weight", "bias")}
    assert "their gradient was zero at every step" in f.message and "the loss does not depend on them" in f.message
    assert "a compiled graph (torch.compile) hands out zeros where eager autograd leaves None" in f.message
    assert "use_reentrant" not in f.advice  # no checkpoint cause for a grad that came
    assert {p.name: p.grad for p in report.params}["regressor.weight"] == "zero"


def test_eager_heads_the_loss_ignores_are_fz505_targeted_at_the_heads():
    torch.manual_seed(0)
    model = Heads()
    report = _train(model, torch.optim.Adam(model.parameters(), lr=1e-2))
    (f,) = report.findings
    assert f.code == "FZ505" and f.target == "regressor, ordinal", report.render_text()  # not (model)
    assert ".grad stayed None at every step" in f.message and "left out of the loss" in f.message
    # the watch saw their forwards: the cause it names is the loss, not a forward that never ran
    assert "their modules (regressor, ordinal) ran, but the loss does not depend on their output" in f.message


def test_near_miss_compiled_model_whose_loss_uses_every_head_is_clean():
    class Used(Heads):
        def forward(self, x):
            a, b, c = super().forward(x)
            return (a.sum() + b.sum() + c.sum()).reshape(1),

    torch.manual_seed(0)
    model = Used()
    report = _train(_compiled(model), torch.optim.Adam(model.parameters(), lr=1e-2))
    assert report.ok, report.render_text()
    assert all(p.grad == "nonzero" for p in report.params)  # counted (compiled), and nonzero


class Lora(nn.Module):
    """LoRA's start: B is zero, so A's gradient is zero at the first step only."""

    def __init__(self):
        super().__init__()
        self.base = nn.Linear(8, 8).requires_grad_(False)
        self.lora_A = nn.Linear(8, 2, bias=False)
        self.lora_B = nn.Linear(2, 8, bias=False)
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)), None


@pytest.mark.parametrize("watch_steps", [1, 2])
def test_near_miss_compiled_lora_with_b_zero_at_the_start_is_clean(watch_steps):
    # one step: A's grad is zero and A does not move, as for an ignored head; too little to tell,
    # so no FZ505 on one step. Two steps: A moves at the second.
    torch.manual_seed(0)
    model = Lora()
    opt = torch.optim.SGD([model.lora_A.weight, model.lora_B.weight], lr=0.1)
    report = _train(_compiled(model), opt, steps=watch_steps, watch_steps=watch_steps)
    assert report.ok, report.render_text()
    assert model.lora_A.weight.grad is not None



# -------------------------------------- compiled, and moved anyway by weight decay or momentum
def _adamw_no_decay_on_biases(model):
    named = list(model.named_parameters())
    return torch.optim.AdamW([{"params": [p for n, p in named if n.endswith("weight")], "weight_decay": 0.01},
                              {"params": [p for n, p in named if n.endswith("bias")], "weight_decay": 0.0}],
                             lr=1e-2)


@pytest.mark.parametrize("make_opt", [
    lambda m: torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.01),
    _adamw_no_decay_on_biases,  # the heads' weights move, their biases do not
    lambda m: torch.optim.SGD(m.parameters(), lr=1e-2, momentum=0.9, weight_decay=1e-4),
], ids=["adamw", "adamw-no-decay-on-biases", "sgd-momentum-decay"])
def test_compiled_heads_the_loss_ignores_moved_by_weight_decay_are_fz505(make_opt):
    torch.manual_seed(0)
    model = Heads()
    before = model.regressor.weight.detach().clone()
    report = _train(_compiled(model), make_opt(model))
    assert not torch.equal(before, model.regressor.weight)  # decay moved it: "unchanged" cannot see it
    (f,) = report.findings
    assert f.code == "FZ505" and f.target == "regressor, ordinal", report.render_text()
    assert set(f.names) == {f"{m}.{k}" for m in ("regressor", "ordinal") for k in ("weight", "bias")}
    assert "yet no gradient reached them over 2 steps" in f.message and "unchanged" not in f.message
    assert "weight decay or momentum moves them anyway" in f.message
    grads = {p.name: p.grad for p in report.params}
    assert grads["regressor.weight"] == "zero" and grads["classifier.weight"] == "nonzero"


def test_audit_of_a_compiled_model_finds_a_head_moved_by_weight_decay():
    torch.manual_seed(0)
    model = Heads()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = freezelint.audit(_compiled(model), torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01),
                                  batch=torch.randn(4, 8), loss_fn=lambda out, batch: out[0].sum())
    (f,) = report.findings
    assert f.code == "FZ505" and f.target == "regressor, ordinal", report.render_text()
    assert "no gradient reached them" in f.message


def test_near_miss_compiled_lora_under_adamw_with_decay_is_clean():
    # lora_A's grad is zero at the first step only (B starts at zero) while decay moves it: the
    # count at the second step clears it
    torch.manual_seed(0)
    model = Lora()
    opt = torch.optim.AdamW([model.lora_A.weight, model.lora_B.weight], lr=0.1, weight_decay=0.01)
    report = _train(_compiled(model), opt)
    assert report.ok, report.render_text()
    assert {p.name: p.grad for p in report.params}["lora_A.weight"] == "nonzero"


def test_near_miss_compiled_module_with_one_zero_grad_under_decay_is_clean():
    # a WGAN critic: its last bias cancels between the real and fake terms (grad exactly zero at
    # every step) while its weight learns: not a module the loss ignores
    class Critic(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(8, 8)
            self.out = nn.Linear(8, 1)

        def forward(self, x):
            score = self.out(self.body(x).relu())
            return (score[:2].mean() - score[2:].mean()).reshape(1), None

    torch.manual_seed(0)
    model = Critic()
    report = _train(_compiled(model), torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01))
    grads = {p.name: p.grad for p in report.params}
    assert grads["out.bias"] == "zero" and grads["out.weight"] == "nonzero", grads
    assert report.ok, report.render_text()


def test_eager_steps_do_not_count_trainable_grads(monkeypatch):
    # the count is for compiled graphs only: an eager fine-tune pays no pass over its grads
    counted = []
    real = torch.count_nonzero
    monkeypatch.setattr(torch, "count_nonzero", lambda t, *a, **k: counted.append(t.shape) or real(t, *a, **k))
    monkeypatch.setattr("freezelint.runtime.watch.compiled_graphs", lambda: False)
    torch.manual_seed(0)
    model = Heads()
    report = _train(model, torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01))
    assert [f.code for f in report.findings] == ["FZ505"]  # None grads: eager's own proof
    assert counted == []

def test_fz505_zero_grad_records_need_two_steps_in_step_findings():
    def rec(name, grad, changed=False):
        return ParamRecord(name, name.rpartition(".")[0], (2,), "float32", True, 0, changed, None, grad, True)

    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    params = [rec("body.weight", "nonzero", True), rec("head.weight", "zero"), rec("head.bias", "zero")]
    mods = [ModuleRecord(m, "Linear", "trainable", "train", 2, 0, 0, 0, "all") for m in ("body", "head")]

    def judged(steps):
        return F.step_findings(model, opt, params, [], mods, {}, steps, True, False, True)

    (f,) = judged(2)
    assert f.code == "FZ505" and f.target == "head" and "zero at every step" in f.message
    assert judged(1) == []  # LoRA's A at its first step
    # moved (weight decay) with a zero grad at every step: the same finding, worded for a change
    moved = [params[0], rec("head.weight", "zero", True), rec("head.bias", "zero")]
    (g,) = F.step_findings(model, opt, moved, [], mods, {}, 2, True, False, True)
    assert g.target == "head" and "no gradient reached them" in g.message
    assert F.step_findings(model, opt, moved, [], mods, {}, 1, True, False, True) == []
    # nothing trained at all (a flat loss): not a part left out of it
    params[0] = ParamRecord("body.weight", "body", (2,), "float32", True, 0, False, None, "zero", True)
    assert judged(2) == []


def test_fz505_on_a_module_known_to_have_run_says_the_loss_ignores_its_output():
    def rec(name):
        return ParamRecord(name, name.rpartition(".")[0], (2,), "float32", True, 0, False, None, "none", False)

    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    params = [rec(f"{m}.{k}") for m in ("regressor", "ordinal") for k in ("weight", "bias")]
    mods = [ModuleRecord(m, "Linear", "trainable", "train", 2, 0, 0, 0, "all") for m in ("regressor", "ordinal")]
    (f,) = F.step_findings(model, opt, params, [], mods, {}, 2, True, False, True,
                           ran=frozenset({"regressor", "ordinal"}))
    assert f.target == "regressor, ordinal"
    assert "their modules (regressor, ordinal) ran, but the loss does not depend on their output" in f.message
    assert "not used in the forward pass" not in f.message
    # not known to have run: every cause is named
    (g,) = F.step_findings(model, opt, params, [], mods, {}, 2, True, False, True)
    assert "not used in the forward pass" in g.message and "ran, but" not in g.message

def test_near_miss_a_critic_whose_last_bias_gets_exactly_zero_grads_is_clean():
    # a WGAN critic's loss, mean(D(real)) - mean(D(fake)): the last bias's grad is 1 - 1 = 0 at
    # every step while the weight trains; zeros on part of a module are structural, not FZ505
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.SGD(critic.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(3):
            opt.zero_grad()
            (critic(torch.randn(5, 4)).mean() - critic(torch.randn(5, 4) + 1).mean()).backward()
            opt.step()
    assert critic[2].bias.grad is not None and not critic[2].bias.grad.any()
    assert {p.name: p.grad for p in w.report.params}["2.bias"] == "zero"
    assert w.report.ok, w.report.render_text()


def test_near_miss_a_student_distilled_from_its_own_copy_has_zero_grads_everywhere_and_no_fz505():
    # the loss is flat for every parameter at the start (teacher == student): no part is left out of it
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    teacher = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2)).requires_grad_(False)
    teacher.load_state_dict(student.state_dict())
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    with freezelint.watch() as w:
        for _ in range(3):
            x = torch.randn(6, 4)
            (student(x) - teacher(x)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    assert all(p.grad == "zero" for p in w.report.params if p.name.startswith("student.")), w.report.render_text()
    assert not [f for f in w.report.findings if f.code == "FZ505"], w.report.render_text()


# ---------------------------------------------------------------- FZ503 under BackboneFinetuning
def _backbone_module(docs: bool):
    L = pytest.importorskip("lightning.pytorch")

    class M(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU())
            self.head = nn.Linear(16, 3)

        def training_step(self, batch, _):
            x, y = batch
            return nn.functional.cross_entropy(self.head(self.backbone(x)), y)

        def configure_optimizers(self):
            params = filter(lambda p: p.requires_grad, self.parameters()) if docs else self.head.parameters()
            return torch.optim.Adam(params, lr=1e-3)

    return L, M()


@pytest.mark.parametrize("docs", [False, True])
def test_backbone_finetuning_leaves_batchnorm_trainable_and_a_head_only_optimizer_leaves_it_out(docs):
    L, module = _backbone_module(docs)
    from lightning.pytorch.callbacks import BackboneFinetuning

    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(16, 6), torch.randint(0, 3, (16,)))
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        callbacks=[BackboneFinetuning(unfreeze_backbone_at_epoch=1, train_bn=False)])
    with freezelint.watch() as w, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, torch.utils.data.DataLoader(data, batch_size=4))
    if docs:  # the near-miss: Lightning's documented optimizer takes the BatchNorm layers
        assert w.report.ok, w.report.render_text()
        return
    (f,) = w.report.findings
    assert f.code == "FZ503" and f.target == "backbone.1", w.report.render_text()
    assert "(BackboneFinetuning) froze backbone with `BaseFinetuning.freeze(..., train_bn=True)`" in f.advice
    assert "filter(lambda p: p.requires_grad, self.parameters())" in f.advice and "train_bn=False" in f.advice
    assert "make_trainable" not in f.advice


# ---------------------------------------------------------------- FZ504 once; numbers
def test_an_optimizer_over_parameters_frozen_after_its_first_step_is_one_fz504_with_lr_as_written():
    # a full-model step, then the model frozen and an adapter added beside it (PEFT
    # after the optimizer): one FZ504, not one on the optimizer and one on its group
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    opt = torch.optim.AdamW(body.parameters(), lr=0.0022500000000000003)
    adapter = nn.Linear(2, 2)
    model = nn.Sequential(body, adapter)
    with freezelint.watch(steps=3) as w:
        for k in range(3):
            if k == 1:
                body.requires_grad_(False)
            opt.zero_grad(set_to_none=False)
            model(torch.randn(3, 4)).sum().backward()
            opt.step()
    fz504 = [f for f in w.report.findings if f.code == "FZ504"]
    assert len(fz504) == 1, w.report.render_text()
    (f,) = fz504
    assert "AdamW lr=0.00225 weight_decay=0.01 betas=(0.9, 0.999)" in f.message, f.message
    assert "0.0022500000000000003" not in w.report.render_text()
    assert "by its last steps" in f.message and "requires_grad]`" in f.advice and "get_peft_model" in f.advice


def test_near_miss_an_optimizer_holding_frozen_and_trainable_parameters_keeps_its_group_fz504():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(3, 4)).sum().backward()
    opt.step()  # state for every parameter, then the first layer frozen
    model[0].requires_grad_(False)
    opt.zero_grad()
    with freezelint.watch() as w:
        for _ in range(2):
            opt.zero_grad(set_to_none=False)
            model(torch.randn(3, 4)).sum().backward()
            opt.step()
    (f,) = [f for f in w.report.findings if f.code == "FZ504"]
    assert f.target == "0 in param_groups[0]" and "every parameter" not in f.message, w.report.render_text()


# ---------------------------------------------------------------- wording
def test_grouped_findings_count_what_they_name_and_give_one_example():
    class Parts(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(4, 4)
            self.a, self.b, self.c, self.d = (nn.Linear(4, 4) for _ in range(4))

        def forward(self, x):
            return self.head(x)

    torch.manual_seed(0)
    model = Parts()
    opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
    report = freezelint.audit(model, opt, batch=torch.randn(2, 4))
    (f,) = [f for f in report.findings if f.code == "FZ503"]
    assert f.message.startswith("8 parameters, the same way: a.weight, a.bias, b.weight and 5 more — e.g. a.weight, "
                                "a.bias: requires_grad=True"), f.message
    assert "alike (" not in f.message and "the first" not in f.message


def test_fz502_on_one_module_is_singular():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model[1].requires_grad_(False)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    report = freezelint.audit(model, opt, batch=torch.randn(3, 4))
    (f,) = report.findings
    assert f.code == "FZ502" and "1 (BatchNorm1d) has all parameters frozen, but runs in train mode" in f.message, f.message


@pytest.mark.parametrize("case", ["built_before", "base_part", "near_miss"])
def test_lora_adapters_left_out_of_the_optimizer_name_peft_as_the_cause(case):
    peft = pytest.importorskip("peft")
    from collections import OrderedDict

    torch.manual_seed(0)
    base = nn.Sequential(OrderedDict(fc1=nn.Linear(4, 8), act=nn.ReLU(), fc2=nn.Linear(8, 2)))
    opt = torch.optim.SGD(base.parameters(), lr=0.1) if case == "built_before" else None
    model = peft.get_peft_model(base, peft.LoraConfig(target_modules=["fc1"], r=2))
    inner = model.base_model.model
    inner.fc2.requires_grad_(True)
    if case == "base_part":  # after get_peft_model, but over a part of the base model only
        opt = torch.optim.SGD(inner.fc2.parameters(), lr=0.1)
    elif case == "near_miss":  # the adapters in, fc2 (a base layer) left out: not PEFT's doing
        opt = torch.optim.SGD([p for n, p in model.named_parameters() if "lora_" in n], lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with freezelint.watch() as w:
            for _ in range(2):
                model(torch.randn(5, 4)).pow(2).mean().backward()
                opt.step()
                opt.zero_grad()
    fz503 = [f for f in w.report.findings if f.code == "FZ503"]
    said = ["they are PEFT's adapters, which get_peft_model adds as new parameters" in f.message for f in fz503]
    if case == "near_miss":
        assert said == [False] and all("lora_" not in n for n in fz503[0].names), w.report.render_text()
        return
    adapters = [f for f in fz503 if all("lora_" in n for n in f.names)]
    assert len(adapters) == 1 and "build the optimizer after get_peft_model" in adapters[0].advice, \
        w.report.render_text()
    assert "they are PEFT's adapters, which get_peft_model adds as new parameters" in adapters[0].message


@pytest.mark.parametrize("built", ["before_adapter", "after_adapter"])
def test_adapters_added_in_place_by_add_adapter_name_that_call_not_get_peft_model(built):
    """A model's own add_adapter (transformers'; diffusers' UNet has the same) injects the LoRA layers
    in place: no PeftModel, no get_peft_model in the script. An optimizer over the base model built
    before it holds only frozen weights and leaves the adapters out, and the advice names add_adapter."""
    pytest.importorskip("peft")
    transformers = pytest.importorskip("transformers")
    from peft import LoraConfig

    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=16, num_hidden_layers=2,
                                   num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=8)
    model = transformers.LlamaForCausalLM(cfg)
    model.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1) if built == "before_adapter" else None
    model.add_adapter(LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    if built == "after_adapter":  # the script's order: a near miss, nothing to say
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    ids = torch.randint(0, 16, (2, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with freezelint.watch() as w:
            for _ in range(2):
                model(input_ids=ids, labels=ids).loss.backward()
                opt.step()
                opt.zero_grad()
    if built == "after_adapter":
        assert w.report.findings == [], w.report.render_text()
        return
    # the adapters of both layers are one mistake: one finding on the model, not one per layer
    (f,) = [f for f in w.report.findings if f.code == "FZ503"]
    assert f.target == "model" and len(f.names) == 8 and all("lora_" in n for n in f.names), w.report.render_text()
    assert "PEFT's adapters, which add_adapter adds as new parameters" in f.message, f.message
    assert f.advice.startswith("build the optimizer after add_adapter,") and "get_peft_model" not in f.advice
    (whole,) = [f for f in w.report.findings if f.code == "FZ504"]
    assert "for PEFT, after add_adapter)" in whole.advice and "get_peft_model" not in whole.advice, whole.advice


def test_adapters_left_out_in_several_blocks_of_the_model_are_one_finding():
    """diffusers' UNet holds its LoRA layers in its down, mid and up blocks: an optimizer built before
    unet.add_adapter leaves all of them out, one mistake with one fix, so one FZ503 on the model
    rather than one per block."""
    pytest.importorskip("peft")
    from peft import LoraConfig, inject_adapter_in_model  # what a model's add_adapter calls

    class Blocks(nn.Module):
        def __init__(self):
            super().__init__()
            self.down, self.mid, self.up = (nn.Sequential(nn.Linear(4, 4)) for _ in range(3))

        def forward(self, x):
            return self.up(self.mid(self.down(x)))

    torch.manual_seed(0)
    model = Blocks().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model = inject_adapter_in_model(LoraConfig(r=2, target_modules=["down.0", "mid.0", "up.0"]), model)
    with freezelint.watch() as w:
        for _ in range(2):
            model(torch.randn(3, 4)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    (f,) = [f for f in w.report.findings if f.code == "FZ503"]
    assert f.target == "(model)" and len(f.names) == 6, w.report.render_text()
    assert "PEFT's adapters, which add_adapter adds" in f.message, f.message


@pytest.mark.parametrize("loop", ["hf_trainer", "plain"])
def test_adapters_left_out_under_the_hf_trainer_say_a_trainer_given_peft_config_wraps_the_model_itself(
        loop, monkeypatch, tmp_path):
    """TRL's SFTTrainer given peft_config and `optimizers=(AdamW(model.parameters()), None)` calls
    get_peft_model after that optimizer was built: the script never calls it. Under the HF Trainer
    (TRL's trainers are made on it) the advice says so; a plain loop's does not."""
    peft = pytest.importorskip("peft")
    transformers = pytest.importorskip("transformers")
    if loop == "plain":
        monkeypatch.delitem(sys.modules, "transformers.trainer", raising=False)
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                                   num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=8)
    base = transformers.LlamaForCausalLM(cfg)
    opt = torch.optim.AdamW(base.parameters(), lr=0.1)
    model = peft.get_peft_model(base, peft.LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    ids = torch.randint(0, 16, (6,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with freezelint.watch() as w:
            if loop == "hf_trainer":
                args = transformers.TrainingArguments(output_dir=str(tmp_path), max_steps=2,
                                                      per_device_train_batch_size=2, report_to="none",
                                                      save_strategy="no", use_cpu=True)
                data = [{"input_ids": ids, "labels": ids}] * 4
                transformers.Trainer(model=model, args=args, train_dataset=data, optimizers=(opt, None)).train()
            else:
                for _ in range(2):
                    model(input_ids=ids[None], labels=ids[None]).loss.backward()
                    opt.step()
                    opt.zero_grad()
    (f,) = [f for f in w.report.findings if f.code == "FZ503"]
    assert f.advice.startswith("build the optimizer after get_peft_model,"), f.advice
    said = "a trainer given peft_config (TRL's) calls get_peft_model itself" in f.advice
    assert said == (loop == "hf_trainer"), f.advice
