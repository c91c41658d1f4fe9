"""FZ111: the static claim (a task model's new head stays frozen under get_peft_model without
task_type or modules_to_save) checked against real peft, and the rule on public code's form."""

from __future__ import annotations

import textwrap
import warnings

import pytest

from freezelint.check.engine import check_source


def _codes(src: str) -> list[tuple[int, str]]:
    return [(d.row, d.code) for d in check_source(textwrap.dedent(src), "train.py", select=["FZ111"])]


@pytest.mark.parametrize("config,head_trains", [
    ("LoraConfig(r=2, target_modules=['query', 'value'])", False),  # what FZ111 reports
    ("LoraConfig(r=2, target_modules=['query', 'value'], task_type='SEQ_CLS')", True),  # its fix
    ("LoraConfig(r=2, target_modules=['query', 'value'], modules_to_save=['classifier'])", True),  # the other
    ("IA3Config(target_modules=['query', 'value'], feedforward_modules=[])", False),
])
def test_peft_leaves_the_new_head_frozen_exactly_where_fz111_says(config, head_trains):
    pytest.importorskip("peft")
    transformers = pytest.importorskip("transformers")
    import peft

    src = f"""
    from peft import IA3Config, LoraConfig, get_peft_model
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification(cfg)
    model = get_peft_model(model, {config})
    """
    assert bool(_codes(src)) is not head_trains, src
    cfg = transformers.BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=16, num_labels=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = eval(f"peft.get_peft_model(transformers.BertForSequenceClassification(cfg), peft.{config})")
    trained = [n for n, p in model.named_parameters() if "classifier" in n and p.requires_grad]
    assert bool(trained) is head_trains, trained


def test_a_public_helper_that_freezes_the_body_and_forgets_the_head():
    # the form found in public code: the base frozen by hand, then LoRA without a task type
    src = """
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification

    def create_peft_model(args):
        model = AutoModelForSequenceClassification.from_pretrained(args.model_name, num_labels=args.num_labels)
        for param in model.base_model.parameters():
            param.requires_grad = False
        lora_config = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout)
        model = get_peft_model(model, lora_config)
        return model
    """
    [d] = check_source(textwrap.dedent(src), "train.py", select=["FZ111"])
    assert d.row == 10
    assert "AutoModelForSequenceClassification puts on the pretrained body (`classifier`)" in d.message
    assert 'task_type="SEQ_CLS"' in d.message and "LoraConfig" in d.message


@pytest.mark.parametrize("src", [
    # the model comes from elsewhere: its class is not known
    """
    from peft import LoraConfig, get_peft_model

    def wrap(model):
        return get_peft_model(model, LoraConfig(r=8))
    """,
    # the config comes from a helper
    """
    from peft import get_peft_model
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
    model = get_peft_model(model, make_config())
    """,
    # task_type given through a variable: set, whatever it is
    """
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained("bert-base-uncased")
    model = get_peft_model(model, LoraConfig(r=8, task_type=args.task_type))
    """,
    # target_modules read from settings: may name the head
    """
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
    model = get_peft_model(model, LoraConfig(r=8, target_modules=args.targets))
    """,
    # rebound on one branch to something else: which model is not known
    """
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
    if args.distill:
        model = Student()
    model = get_peft_model(model, LoraConfig(r=8))
    """,
    # prompt tuning: another matter
    """
    from peft import PromptTuningConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
    model = get_peft_model(model, PromptTuningConfig(num_virtual_tokens=8))
    """,
    # a get_peft_model that is not peft's
    """
    from transformers import AutoModelForSequenceClassification
    from mylib import get_peft_model, LoraConfig

    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
    model = get_peft_model(model, LoraConfig(r=8))
    """,
])
def test_near_misses(src):
    assert _codes(src) == []


def test_a_method_chain_and_a_module_alias_are_followed():
    src = """
    import peft as pe
    from transformers import AutoModelForSequenceClassification as Seq

    base = Seq.from_pretrained("bert-base-uncased").to("cuda")
    cfg = pe.LoraConfig(r=8, target_modules=["query", "value"])
    model = pe.get_peft_model(base, cfg)
    """
    assert _codes(src) == [(7, "FZ111")]


# ------------------------------------------------------------------ at run time, on the live model
def _peft_bert(**config):
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    transformers = pytest.importorskip("transformers")
    import peft

    cfg = transformers.BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=16, num_labels=3)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return peft.get_peft_model(transformers.BertForSequenceClassification(cfg), peft.LoraConfig(r=2, **config))


def _watched(model, steps=2):
    import torch

    import freezelint

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    with freezelint.watch(steps=steps) as w:
        for _ in range(steps):
            model(input_ids=torch.randint(0, 50, (2, 5)), labels=torch.tensor([0, 2])).loss.backward()
            opt.step()
            opt.zero_grad()
    return w.report


def test_the_watch_reports_a_peft_head_left_frozen():
    report = _watched(_peft_bert(target_modules=["query", "value"]))
    (f,) = report.findings
    assert f.code == "FZ111" and f.target == "base_model.model.classifier", report.render_text()
    assert "BertForSequenceClassification" in f.message and 'task_type="SEQ_CLS"' in f.advice


def test_audit_reports_a_peft_head_left_frozen():
    model = _peft_bert(target_modules=["query", "value"])  # skips without torch, peft, transformers
    import torch

    import freezelint

    batch = {"input_ids": torch.randint(0, 50, (2, 5)), "labels": torch.tensor([0, 2])}
    report = freezelint.audit(model, torch.optim.AdamW([p for p in model.parameters() if p.requires_grad]),
                              batch=batch, loss_fn=lambda out, b: out.loss)
    assert [f.code for f in report.findings] == ["FZ111"], report.render_text()


@pytest.mark.parametrize("config", [
    {"target_modules": ["query", "value"], "task_type": "SEQ_CLS"},  # a trained copy of the head
    {"target_modules": ["query", "value"], "modules_to_save": ["classifier"]},
    {"target_modules": ["query", "value", "classifier"]},  # LoRA on the head itself: it trains
])
def test_near_miss_a_peft_head_that_trains(config):
    report = _watched(_peft_bert(**config))
    assert report.ok, report.render_text()


def test_near_miss_a_peft_head_unfrozen_by_hand():
    model = _peft_bert(target_modules=["query", "value"])
    model.base_model.model.classifier.requires_grad_(True)
    report = _watched(model)
    assert report.ok, report.render_text()


# ----------------------- the head's trained copy frozen again by a "lora"-only loop after get_peft_model
@pytest.mark.parametrize("kept, fires", [(("lora",), True), (("lora", "modules_to_save"), False)])
def test_a_lora_only_loop_freezes_the_heads_trained_copy_at_run_time(kept, fires):
    """task_type makes PEFT train a copy of the head (classifier.modules_to_save.default); a loop that
    then keeps only names with "lora" freezes it too (two public scripts)."""
    model = _peft_bert(target_modules=["query", "value"], task_type="SEQ_CLS")
    for name, p in model.named_parameters():
        p.requires_grad = any(k in name for k in kept)
    assert not fires or not any(p.requires_grad for p in model.base_model.model.classifier.modules_to_save.parameters())
    report = _watched(model)
    if fires:
        (f,) = report.findings
        assert f.code == "FZ111" and f.target == "base_model.model.classifier.modules_to_save", report.render_text()
        assert '"modules_to_save" in name' in f.advice
    else:
        assert report.ok, report.render_text()


def test_a_lora_only_loop_after_get_peft_model_statically():
    src = """
        from peft import LoraConfig, TaskType, get_peft_model
        from transformers import BertForSequenceClassification

        def get_lora_model():
            bert = BertForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=3)
            peft_config = LoraConfig(task_type=TaskType.SEQ_CLS, r=8, target_modules=["query", "value"])
            model = get_peft_model(bert, peft_config)
            for name, param in model.named_parameters():
                if "lora" in name:
                    param.requires_grad = True
                else:
                    param.requires_grad = False
            return model
        """
    assert _codes(src) == [(9, "FZ111")]
    # a task_type for another task trains no copy of this head; a model bound again is another model
    assert _codes(src.replace("TaskType.SEQ_CLS", "TaskType.CAUSAL_LM")) == []
    assert _codes(src.replace("    for name, param", "    model = other(model)\n    for name, param")) == []
