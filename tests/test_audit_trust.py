"""The auditor on models as people build them (issue 19, issue 14 point 4): not-materialised
models, tied and wrapped names, several optimizers, patterns, readable reports, ignore/strict,
the factory loader, and the public API's argument checks."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
torchvision = pytest.importorskip("torchvision")

from conftest import run_subprocess  # noqa: E402
from freezelint import AuditUsageError, FreezeAuditError, assert_frozen, audit  # noqa: E402
from test_audit import assert_same, state_of  # noqa: E402


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


# ---------------------------------------------------------------- 1. not-materialised models
def test_meta_device_model_is_refused_before_anything_is_touched():
    with torch.device("meta"):
        model = torchvision.models.resnet18(weights=None, num_classes=4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = torch.get_rng_state().clone()
    with pytest.raises(AuditUsageError, match=r"meta device \(first: conv1.weight\).*to_empty"):
        audit(model, opt)
    assert not opt.state and all(p.is_meta and p.grad is None for p in model.parameters())
    assert torch.equal(torch.get_rng_state(), rng)


def test_lazy_model_is_refused_with_what_to_do_and_left_lazy():
    model = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = torch.get_rng_state().clone()
    with pytest.raises(AuditUsageError, match=r"uninitialised lazy.*model\(batch\)"):
        audit(model, opt)
    assert isinstance(model[0].weight, nn.parameter.UninitializedParameter) and not opt.state
    assert torch.equal(torch.get_rng_state(), rng)
    model(torch.randn(2, 5))  # materialised as the message says: the audit runs
    assert audit(model, torch.optim.Adam(model.parameters(), lr=1e-3)).ok


# ---------------------------------------------------------------- 2. tied parameters
def tiny_gpt2():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=40, n_positions=16)
    torch.manual_seed(0)
    return transformers.GPT2LMHeadModel(cfg)


def test_tied_head_is_one_parameter_with_all_its_names():
    model = tiny_gpt2()
    assert model.lm_head.weight is model.transformer.wte.weight
    model.transformer.wte.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    report = audit(model, opt, batch={"input_ids": torch.randint(0, 40, (2, 8))},
                   expect_frozen=["lm_head.weight", "lm_head"], expect_trainable="transformer.h")
    assert report.ok, str(report)
    wte = next(p for p in report.params if p.name == "transformer.wte.weight")
    assert wte.aliases == ["lm_head.weight"]
    head = next(m for m in report.modules if m.name == "lm_head")
    assert head.status == "frozen" and head.params == 1
    # a tied parameter that trains is judged once, under any of its names
    model.transformer.wte.requires_grad_(True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    report = audit(model, opt, batch={"input_ids": torch.randint(0, 40, (2, 8))}, expect_trainable=["lm_head"])
    assert report.ok, str(report)


# ---------------------------------------------------------------- 3. wrapper prefixes
def test_compiled_model_names_lose_orig_mod_and_prefixed_patterns_still_match():
    torch.manual_seed(0)
    inner = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
    inner[0].requires_grad_(False)
    model = torch.compile(inner, backend="eager")
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    report = audit(model, opt, expect_frozen=["0.*"], expect_trainable=["_orig_mod.2.weight", "2"])
    assert report.ok, str(report)
    assert [p.name for p in report.params] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert "_orig_mod" not in str(report)


def test_data_parallel_prefix_is_stripped_on_a_timm_model():
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    net = timm.create_model("resnet10t", pretrained=False, num_classes=3)
    net.requires_grad_(False)
    net.fc.requires_grad_(True)
    model = nn.DataParallel(net)  # no GPU: it calls the module as it is
    opt = torch.optim.SGD(net.fc.parameters(), lr=0.1)
    before = state_of(net, opt)
    report = audit(model, opt, expect_frozen=["conv1", "module.layer1"], expect_trainable=["fc"])
    assert_same(before, state_of(net, opt))
    assert not [p.name for p in report.params if p.name.startswith("module.")]
    assert {"conv1", "module.layer1"}.isdisjoint({f.target for f in report.findings if f.code == "FZ506"}), \
        str(report)


# ---------------------------------------------------------------- 4. several optimizers
class GAN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.G = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
        self.D = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def forward(self, z):
        return self.D(self.G(z))


def pix2pix_step(model, optimizers, batch):
    """pix2pix's order: D is frozen with requires_grad during the generator's step."""
    opt_g, opt_d = optimizers.values() if isinstance(optimizers, dict) else optimizers
    z, real = batch
    fake = model.G(z)
    model.D.requires_grad_(True)
    opt_d.zero_grad()
    loss_d = (model.D(fake.detach()) - 1).pow(2).mean() + model.D(real).pow(2).mean()
    loss_d.backward()
    opt_d.step()
    model.D.requires_grad_(False)
    opt_g.zero_grad()
    model.D(fake).pow(2).mean().backward()
    opt_g.step()


def gan():
    torch.manual_seed(0)
    model = GAN()
    opts = {"G": torch.optim.Adam(model.G.parameters(), lr=1e-3),
            "D": torch.optim.Adam(model.D.parameters(), lr=1e-3)}
    batch = (torch.randn(4, 8), torch.randn(4, 4))
    return model, opts, batch


def test_gan_with_its_own_step_and_two_optimizers_is_clean_and_restored():
    model, opts, batch = gan()
    pix2pix_step(model, opts, batch)  # one real step first: both optimizers hold state
    model.D.requires_grad_(True)
    before = [state_of(model, o) for o in opts.values()]
    report = audit(model, opts, step_fn=pix2pix_step, batch=batch, expect_trainable=["G", "D"])
    assert report.ok, str(report)  # no FZ502 for D's BN, no FZ503/FZ504
    for o, b in zip(opts.values(), before):
        assert_same(b, state_of(model, o))
    assert all(p.requires_grad for p in model.D.parameters())
    assert {p.optimizer for p in report.params} == {"G", "D"}


def test_one_of_two_optimizers_misses_the_other_network_but_both_are_judged_apart():
    model, opts, batch = gan()
    pix2pix_step(model, opts, batch)  # D[0] trained once: D's Adam holds state for it
    model.D.requires_grad_(True)
    model.D[0].requires_grad_(False)  # then frozen, but left in D's optimizer: FZ504 names that optimizer
    rest = [p for n, p in model.D.named_parameters() if not n.startswith("0.")]

    def step(model, optimizers, batch):
        opt_g, opt_d = optimizers
        z, real = batch
        fake = model.G(z)
        opt_d.zero_grad()
        ((model.D(fake.detach()) - 1).pow(2).mean() + model.D(real).pow(2).mean()).backward()
        opt_d.step()
        for p in rest:
            p.requires_grad_(False)
        opt_g.zero_grad()
        model.D(fake).pow(2).mean().backward()
        opt_g.step()
        for p in rest:
            p.requires_grad_(True)

    report = audit(model, [opts["G"], opts["D"]], step_fn=step, batch=batch)
    fz504 = [f for f in report.findings if f.code == "FZ504"]
    assert [f.target for f in fz504] == ["D.0 in optimizers[1].param_groups[0]"], str(report)
    assert "optimizers[1] (Adam)" in fz504[0].message
    assert codes(report) == ["FZ504"], str(report)
    # the default loop steps every optimizer; G's alone leaves D trainable in no optimizer
    model.D[0].requires_grad_(True)
    assert "FZ503" in codes(audit(model, opts["G"], batch=batch[0]))
    assert audit(model, opts, batch=batch[0]).ok


# ---------------------------------------------------------------- 5. patterns
def test_a_string_pattern_is_one_pattern_and_unknown_names_come_with_the_nearest():
    model = torchvision.models.resnet18(weights=None, num_classes=3)
    model.requires_grad_(False)
    model.fc.requires_grad_(True)
    model.eval()
    opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
    assert audit(model, opt, expect_frozen="layer1", expect_trainable="fc", call_train=False).ok
    report = audit(model, opt, expect_frozen="layr1", call_train=False)
    (f,) = report.findings
    assert f.code == "FZ506" and "nearest names: layer1" in f.message, str(report)
    with pytest.raises(ValueError, match="expect_frozen patterns must be non-empty strings"):
        audit(model, opt, expect_frozen=[1])


# ---------------------------------------------------------------- 6. readable reports
def test_a_failed_expectation_says_what_the_steps_saw_and_what_to_do_for_each_cause():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    model[0].requires_grad_(False)
    opt = torch.optim.SGD(model[2].parameters(), lr=0.1)  # model[1] trainable, in no group
    report = audit(model, opt, batch=torch.randn(3, 4), expect_trainable=["0", "1"], expect_frozen=["2"])
    found = {f.target: f for f in report.findings if f.code == "FZ506"}
    assert "all 2 are frozen (requires_grad=False)" in found["0"].message
    assert "requires_grad_(True)" in found["0"].advice and "add_param_group" not in found["0"].advice
    assert "all 2 are in no param group" in found["1"].message and "add_param_group" in found["1"].advice
    assert "all 2 are trainable (requires_grad=True)" in found["2"].message
    mixed = audit(model, opt, batch=torch.randn(3, 4), expect_trainable=["*.weight"])
    (f,) = [f for f in mixed.findings if f.code == "FZ506"]
    assert "1 is frozen (requires_grad=False), 1 is in no param group" in f.message, f.message
    assert "requires_grad_(True)" in f.advice and "add_param_group" in f.advice
    # frozen but held by the optimizer (a tied head frozen with its embedding): unfreezing is all it takes
    held = audit(model, torch.optim.SGD(model.parameters(), lr=0.1), batch=torch.randn(3, 4), expect_trainable=["0"])
    (f,) = [f for f in held.findings if f.code == "FZ506"]
    assert "all 2 are frozen (requires_grad=False), in the optimizer" in f.message, f.message
    assert "holds them already" in f.advice and "give them to the optimizer" not in f.advice


def test_runtime_findings_name_the_static_rule_and_advise_for_the_cause_seen():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    opt = torch.optim.AdamW([{"params": model[0].parameters()}, {"params": model[1].parameters(), "lr": 0.0}])
    model(torch.randn(3, 4)).sum().backward()  # trained once, then frozen: AdamW keeps model[0]'s moments
    opt.step()
    opt.zero_grad()
    model[0].requires_grad_(False)
    report = audit(model, opt, batch=torch.randn(3, 4))
    found = {f.code: f for f in report.findings}
    assert "FZ301 in the code" in found["FZ504"].message
    assert "FZ505" not in found and "FZ304 in the code" in report.notes[0]  # lr=0: a note, not a finding


def test_many_findings_of_one_code_are_one_group_with_every_name_in_json():
    model = torchvision.models.resnet18(weights=None, num_classes=3)
    for m in model.modules():
        m.require_grad = False  # the misspelling, on every module
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    report = audit(model, opt)
    fz103 = [f for f in report.findings if f.code == "FZ103"]
    total = len(list(model.modules()))
    assert len(fz103) == 1 and fz103[0].count == total and fz103[0].target == "(model)"
    data = report.to_dict()
    entry = next(f for f in data["findings"] if f["code"] == "FZ103")
    assert entry["count"] == total and len(entry["names"]) == total and "layer4.1.conv2" in entry["names"]
    assert len(str(report).splitlines()) < 40
    report.verbose = True
    assert "layer4.1.conv2" in str(report)


def lora_llama(layers: int):
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    cfg = transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=layers,
                                   num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32)
    torch.manual_seed(0)
    base = transformers.LlamaForCausalLM(cfg)
    return peft.get_peft_model(base, peft.LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))


def test_a_32_layer_lora_report_fits_in_40_lines_and_verbose_shows_all():
    model = lora_llama(32)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    report = audit(model, opt, batch={"input_ids": torch.randint(0, 64, (2, 8))})
    text = str(report)
    assert len(text.splitlines()) <= 40, text
    # the 32 blocks read alike kind by kind: one line says how (the frozen base layers, the adapters)
    assert "Linear (128: lora_A, lora_B) trainable" in text and "base_layer" in text, text
    report.verbose = True
    assert len(str(report).splitlines()) > 200


def test_piped_cli_output_is_never_cut(tmp_path, cli):
    factory = tmp_path / "wide.py"
    factory.write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class AVeryLongModuleNameThatNeedsTheWholeLine(nn.Module):
            def __init__(self):
                super().__init__()
                self.an_equally_long_attribute_name_for_a_submodule = nn.Linear(4, 2)
                self.frozen_part_with_a_long_name_too = nn.Linear(4, 4)

            def forward(self, x):
                return self.an_equally_long_attribute_name_for_a_submodule(self.frozen_part_with_a_long_name_too(x))

        def make():
            model = AVeryLongModuleNameThatNeedsTheWholeLine()
            opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            model(torch.randn(3, 4)).sum().backward()  # trained once before its freeze: momentum kept
            opt.step()
            opt.zero_grad()
            model.frozen_part_with_a_long_name_too.requires_grad_(False)
            return model, opt
    """))
    # the one run whose stdout must be a real pipe; the exit codes below are main()'s, in-process
    proc = run_subprocess(tmp_path, "audit", f"{factory}:make")
    assert proc.code == 0, proc.err  # FZ504 is a warning: printed, not failing
    assert "FZ504" in proc.out
    longest = max(len(line) for line in proc.out.splitlines())
    assert longest > 120 and "an_equally_long_attribute_name_for_a_submodule" in proc.out
    assert all(line == line.rstrip() for line in proc.out.splitlines())
    strict = cli(tmp_path, "audit", f"{factory}:make", "--strict")
    assert strict.code == 1
    ignored = cli(tmp_path, "audit", f"{factory}:make", "--strict", "--ignore", "FZ504", "--format", "json")
    assert ignored.code == 0, ignored.out
    data = json.loads(ignored.out)
    assert data["ok"] is True and data["findings"][0]["ignored"] is True
    bad = cli(tmp_path, "audit", f"{factory}:make", "--ignore", "FZ999")
    assert bad.code == 2 and bad.err.count("\n") == 1 and "FZ999" in bad.err


# ---------------------------------------------------------------- 7. ignore
def test_ignore_accepts_a_known_warning_in_audit_and_the_fixture():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(3, 4)).sum().backward()  # trained once before its freeze: momentum kept
    opt.step()
    opt.zero_grad()
    model[0].requires_grad_(False)
    report = audit(model, opt)
    assert codes(report) == ["FZ504"] and not report.ok
    accepted = audit(model, opt, ignore=["FZ504"])
    assert accepted.ok and codes(accepted) == ["FZ504"] and "(ignored)" in str(accepted)
    with pytest.raises(FreezeAuditError):
        assert_frozen(model, opt, frozen=["0"])
    assert assert_frozen(model, opt, frozen=["0"], ignore=["FZ504"]).ok
    assert not assert_frozen(model, opt, frozen=["0"], strict=False).ok  # a warning: printed, passes
    with pytest.raises(ValueError, match="ignore"):
        audit(model, opt, ignore=["FZ999"])


# ---------------------------------------------------------------- 8. the factory loader
def test_factory_file_with_a_dataclass_and_postponed_annotations_loads(tmp_path, cli):
    (tmp_path / "dc.py").write_text(textwrap.dedent("""
        from __future__ import annotations

        import pickle
        import typing
        from dataclasses import dataclass

        import torch
        from torch import nn

        @dataclass
        class Config:
            width: int = 4

        def make():
            cfg = pickle.loads(pickle.dumps(Config()))
            assert typing.get_type_hints(Config) == {"width": int}
            model = nn.Linear(cfg.width, 2)
            return model, torch.optim.SGD(model.parameters(), lr=0.1)
    """))
    # in this process (torch imported already): the loader's work is the same in a fresh one
    proc = cli(tmp_path, "audit", f"{tmp_path / 'dc.py'}:make")
    assert proc.code == 0, proc.err
    from freezelint.runtime.cli import loaded

    with loaded(f"{tmp_path / 'dc.py'}:make") as factory:
        name = factory.__module__
        assert name in sys.modules
    assert name not in sys.modules


# ---------------------------------------------------------------- 9. the smaller points
def test_frozen_bn_stats_size_leaves_the_step_counter_out_and_fz201_names_call_train():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=3)
    model.requires_grad_(False)
    model.fc.requires_grad_(True)
    opt = torch.optim.SGD(model.fc.parameters(), lr=0.1)
    (fz502,) = [f for f in audit(model, opt).findings if f.code == "FZ502"]
    assert "(up to 2)" not in fz502.message
    model.eval()
    (fz201,) = [f for f in audit(model, opt).findings if f.code == "FZ201"]
    assert "(up to 2)" not in fz201.message and "call_train=False" in fz201.advice


def test_one_step_on_a_fresh_lora_adapter_meets_expect_trainable():
    model = lora_llama(2)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    report = audit(model, opt, steps=1, batch={"input_ids": torch.randint(0, 64, (2, 8))},
                   expect_trainable=["*lora_A*", "*lora_B*"], expect_frozen=["*base_layer*"])
    assert report.ok, str(report)
    assert not any(p.changed for p in report.params if "lora_A" in p.name)  # lora_B was zero: exact zero grad


def test_one_usage_error_type():
    from freezelint.runtime import inputs, runner
    from freezelint.runtime.cli import AuditCliError

    assert inputs.InputError is AuditUsageError is runner.AuditUsageError
    assert issubclass(AuditCliError, AuditUsageError)
    with pytest.raises(AuditUsageError, match="pass batch="):
        model = nn.Sequential(nn.Bilinear(2, 2, 2))
        audit(model, torch.optim.SGD(model.parameters(), lr=1))


# ---------------------------------------------------------------- 10. argument checks
def test_public_api_rejects_nonsense_arguments(tmp_path):
    from freezelint import check_paths, check_source

    with pytest.raises(ValueError, match="FZ999"):
        check_source("x = 1\n", select=["FZ999"])
    assert check_source("m.require_grad = False\n", select="FZ103") != []  # a str is one selector
    with pytest.raises(ValueError, match="fix must be None, 'safe' or 'unsafe'"):
        check_paths([str(tmp_path)], fix="bogus")
    with pytest.raises(ValueError, match="jobs"):
        check_paths([str(tmp_path)], jobs=0)
    model = nn.Linear(2, 2)
    with pytest.raises(AuditUsageError, match="step_fn must be callable"):
        audit(model, torch.optim.SGD(model.parameters(), lr=1), step_fn=3)
    with pytest.raises(AuditUsageError, match="loss_fn must be callable"):
        audit(model, torch.optim.SGD(model.parameters(), lr=1), loss_fn="mse")
    with pytest.raises(AuditUsageError, match="autocast_dtype must be a torch.dtype"):
        audit(model, torch.optim.SGD(model.parameters(), lr=1), autocast_dtype="bf16")
    for bad in (object(), "cpu", True):
        with pytest.raises(AuditUsageError, match="scaler must be a torch.amp.GradScaler"):
            audit(model, torch.optim.SGD(model.parameters(), lr=1), scaler=bad)


def test_a_failed_synthetic_step_says_where_it_failed_and_asks_only_for_what_was_not_given():
    model = nn.Sequential(nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def broken(out, batch):
        raise KeyError("labels")

    with pytest.raises(AuditUsageError) as e:
        audit(model, opt, loss_fn=broken)
    assert "failed in your loss_fn (KeyError: 'labels')" in str(e.value) and "and your loss_fn: pass batch=" in str(e.value)
    assert "loss_fn=..." not in str(e.value)
    with pytest.raises(AuditUsageError, match="failed in the backward of the loss .*scalar outputs"):
        audit(model, opt, loss_fn=lambda out, batch: out)

    class Flaky(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.calls = nn.Linear(4, 2), 0

        def forward(self, x):
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("second call")
            return self.lin(x)

    flaky = Flaky()
    with pytest.raises(AuditUsageError, match=r"failed inside Flaky at step 2 of 2, after the first ran \(RuntimeError: "
                                              r"second call\).*and loss_fn=\.\.\."):
        audit(flaky, torch.optim.SGD(flaky.parameters(), lr=0.1))
    with pytest.raises(AuditUsageError, match="optimizers\\[1\\] is a str"):
        audit(model, [torch.optim.SGD(model.parameters(), lr=1), "adam"])


# ---------------------------------------------------------------- issue 14, point 4
def test_head_replaced_after_the_optimizer_is_a_finding_not_a_usage_error():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    model.requires_grad_(False)
    model.fc = nn.Linear(512, 10)
    opt = torch.optim.SGD(model.fc.parameters(), lr=0.1, momentum=0.9)
    model.fc = nn.Linear(512, 10)  # replaced after the optimizer was built
    report = audit(model, opt)
    fz302 = [f for f in report.findings if f.code == "FZ302"]
    assert [f.target for f in fz302] == ["fc"], str(report)
    assert "no longer in the model (2: [10, 512], [10])" in fz302[0].message
    assert "replaced after the optimizer was built" in fz302[0].message
    # an optimizer built for a copy of the whole model is still a usage error
    other = torchvision.models.resnet18(weights=None)
    with pytest.raises(AuditUsageError, match="none of this model"):
        audit(model, torch.optim.SGD(other.parameters(), lr=0.1))


def test_detection_model_that_needs_targets_says_to_pass_batch_and_loss_fn():
    torch.manual_seed(0)
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, num_classes=3)
    model.eval()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    before = state_of(model, opt)
    with pytest.raises(AuditUsageError) as caught:
        audit(model, opt)
    message = str(caught.value)
    assert "\n" not in message and "batch=" in message and "loss_fn=" in message
    assert "FasterRCNN" in message and "targets should not be none" in message
    assert isinstance(caught.value.__cause__, AssertionError)
    assert_same(before, state_of(model, opt))


def test_peft_modules_to_save_expectation_is_judged_on_the_copy_that_trains():
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    cfg = transformers.BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=32, num_labels=3)
    torch.manual_seed(0)
    base = transformers.BertForSequenceClassification(cfg)
    model = peft.get_peft_model(base, peft.LoraConfig(r=2, target_modules=["query", "value"],
                                                      modules_to_save=["classifier"]))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    batch = {"input_ids": torch.randint(0, 64, (2, 8))}
    report = audit(model, opt, batch=batch, expect_trainable=["base_model.model.classifier",
                                                              "base_model.model.classifier.weight"])
    assert report.ok, str(report)
    # the original is still there by its own name, frozen by design
    report = audit(model, opt, batch=batch, expect_frozen=["base_model.model.classifier.original_module"])
    assert report.ok, str(report)
    report = audit(model, opt, batch=batch, expect_frozen=["base_model.model.classifier"])
    assert codes(report) == ["FZ506"]
    # the names as the user wrote them, without PEFT's `base_model.model.` (as modules_to_save names it)
    report = audit(model, opt, batch=batch, expect_trainable=["classifier", "*lora_A*"],
                   expect_frozen=["classifier.original_module", "bert.embeddings"])
    assert report.ok, str(report)
    assert {r.name for r in report.params if r.changed} >= {"classifier.modules_to_save.default.weight"}
    assert not any(r.name.startswith("base_model") for r in report.params)
    assert codes(audit(model, opt, batch=batch, expect_frozen=["classifier"])) == ["FZ506"]


def test_the_module_tree_shows_the_modes_the_audited_steps_ran_in():
    class KeepsBnFrozen(nn.Sequential):
        def train(self, mode=True):
            super().train(mode)
            self[1].eval()
            return self

    for make, call_train, modes in [(nn.Sequential, True, ["train", "train", "train"]),
                                    (nn.Sequential, False, ["eval", "eval", "eval"]),
                                    (KeepsBnFrozen, True, ["train", "eval", "train"])]:
        torch.manual_seed(0)
        model = make(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).eval()
        report = audit(model, torch.optim.SGD(model.parameters(), lr=0.1), call_train=call_train)
        assert [m.mode for m in report.modules if m.name] == modes, (make, call_train)
        assert not model.training  # given back


def test_a_step_that_diverges_gives_json_without_nan_tokens():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    report = audit(model, torch.optim.SGD(model.parameters(), lr=1e30), steps=3, batch=torch.randn(8, 4) * 1e10)
    text = json.dumps(report.to_dict(), allow_nan=False)  # strict JSON: no NaN / Infinity tokens
    unsized = [r for r in json.loads(text)["params"] + json.loads(text)["buffers"] if "delta" in r]
    assert unsized and all(r["max_abs_delta"] is None and r["delta"] in ("nan", "inf") for r in unsized)
    assert any(r.max_abs_delta != r.max_abs_delta for r in report.params + report.buffers)  # the records keep it
