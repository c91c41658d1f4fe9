"""FZ111 at run time on a PEFT model in which nothing trains, the adapters included, while an
optimizer steps it: TRL's SFTTrainer given `PeftModel.from_pretrained(model, path)` (an adapter loaded
for inference, is_trainable=False) runs its steps, since gradient checkpointing's input grads give the
loss a graph and the Trainer's optimizer holds nothing; it trained nothing and the watch said OK."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

import freezelint  # noqa: E402


def _tiny(seed: int = 0):
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                                   num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=8)
    return transformers.LlamaForCausalLM(cfg)


def _lora():
    return peft.LoraConfig(r=2, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")


def _train(model, tmp_path):
    ids = torch.randint(0, 16, (6,))
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=2,
                                          report_to="none", save_strategy="no", use_cpu=True,
                                          gradient_checkpointing=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with freezelint.watch() as w:
            transformers.Trainer(model=model, args=args, train_dataset=[{"input_ids": ids, "labels": ids}] * 4).train()
    return w.report


@pytest.mark.parametrize("case", ["loaded_for_inference", "frozen_after_wrap", "loaded_trainable"])
def test_a_peft_model_frozen_whole_under_the_trainer_is_fz111(case, tmp_path):
    if case == "frozen_after_wrap":
        model = peft.get_peft_model(_tiny(), _lora())
        model.requires_grad_(False)
        model.enable_input_require_grads()  # what TRL does for a PEFT model under gradient checkpointing
    else:
        peft.get_peft_model(_tiny(), _lora()).save_pretrained(tmp_path / "adapter")
        model = peft.PeftModel.from_pretrained(_tiny(1), tmp_path / "adapter",
                                               is_trainable=case == "loaded_trainable")
        model.enable_input_require_grads()
    report = _train(model, tmp_path)
    fz111 = [f for f in report.findings if f.code == "FZ111"]
    if case == "loaded_trainable":  # the near miss: the adapters train
        assert report.ok and not fz111, report.render_text()
        return
    (f,) = fz111
    assert f.target == "(model)" and f.message.startswith("PeftModelForCausalLM holds PEFT adapters (2 layers: "), f
    assert "every parameter of it is frozen, the adapters included, so the optimizer steps train nothing" in f.message
    if case == "loaded_for_inference":
        assert "loaded for inference: PeftModel.from_pretrained and load_adapter load them frozen unless " \
               "is_trainable=True" in f.message, f.message
        assert f.advice.startswith("load the adapter with `PeftModel.from_pretrained(model, path, is_trainable=True)`")
    else:
        assert "a freeze after get_peft_model or add_adapter caught the adapters too" in f.message, f.message


def test_a_frozen_peft_reference_beside_a_trained_model_is_no_finding():
    """Near miss: a PEFT model frozen whole run under no_grad beside the model that trains (a reference
    or teacher with its adapter loaded for inference): something trains, so nothing to say."""
    ref = _tiny()
    ref = peft.get_peft_model(ref, _lora()).requires_grad_(False).eval()
    policy = _tiny(1)
    opt = torch.optim.AdamW(policy.parameters(), lr=0.01)
    ids = torch.randint(0, 16, (2, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with freezelint.watch() as w:
            for _ in range(2):
                with torch.no_grad():
                    target = ref(input_ids=ids).logits
                (policy(input_ids=ids).logits - target).pow(2).mean().backward()
                opt.step()
                opt.zero_grad()
    assert not [f for f in w.report.findings if f.code == "FZ111"], w.report.render_text()
