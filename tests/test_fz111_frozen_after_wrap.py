"""FZ111: the whole model frozen after get_peft_model / add_adapter freezes the adapters PEFT just
made trainable (peft's `_mark_only_adapters_as_trainable` ran first; the freeze after it reaches the
LoRA layers too). Each snippet is both checked and run on real peft."""

from __future__ import annotations

import textwrap
import types
import warnings

import pytest

from freezelint.check.engine import check_source


def _found(src: str) -> list:
    return check_source(textwrap.dedent(src), "train.py", select=["FZ111"])


def _rows(src: str) -> list[int]:
    return [d.row for d in _found(src)]


def _trainable(src: str, name: str = "model", **names) -> list[str]:
    """Run the snippet (`cfg` a tiny CLIP text config) and list the parameters of `name` that
    require grad after it."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    transformers = pytest.importorskip("transformers")
    cfg = transformers.CLIPTextConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=16, max_position_embeddings=16, projection_dim=8,
                                      bos_token_id=1, eos_token_id=2)
    ns = {"cfg": cfg, **names}
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(textwrap.dedent(src), ns)
    return [n for n, p in ns[name].named_parameters() if p.requires_grad]


_WRAPPED = """
from peft import LoraConfig, get_peft_model
from transformers import CLIPTextModel

model = CLIPTextModel(cfg)
model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
{after}
"""
_HEAD = "for p in model.base_model.model.final_layer_norm.parameters():\n    p.requires_grad = True"


def _wrapped(after: str) -> str:
    return _WRAPPED.format(after=after)


def test_the_whole_peft_model_frozen_then_one_part_unfrozen():
    """trial 33's repro: only the part unfrozen by hand trains, no adapter."""
    src = _wrapped("model.requires_grad_(False)\n" + _HEAD)
    [d] = _found(src)
    assert d.row == 7, d.row
    assert "line 6" in d.message and "LoRA adapters it made trainable included" in d.message, d.message
    assert "final_layer_norm.parameters()`, line 9" in d.message, d.message  # what alone trains
    assert "freeze before `get_peft_model(...)`" in d.message, d.message
    trained = _trainable(src)
    assert trained and all("final_layer_norm" in n for n in trained), trained


@pytest.mark.parametrize("freeze", [
    "for p in model.parameters():\n    p.requires_grad = False",
    "model.base_model.requires_grad_(False)",
    "model.model.requires_grad_(False)",  # PeftModel -> base_model (LoraModel) -> .model: all of it
    "model.base_model.model.requires_grad_(False)",
])
def test_every_spelling_of_the_whole_wrapped_model(freeze):
    src = _wrapped(freeze)
    assert _rows(src) == [7 if freeze.startswith("model.") else 8]
    assert "nothing of it trains" in _found(src)[0].message
    assert _trainable(src) == []


def test_the_model_given_to_peft_frozen_under_its_own_name():
    """get_peft_model injects the LoRA layers in place: the model it was given holds them too."""
    src = """
    from peft import LoraConfig, get_peft_model
    from transformers import CLIPTextModel

    base = CLIPTextModel(cfg)
    model = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj"]))
    base.requires_grad_(False)
    """
    assert _rows(src) == [7]
    assert _trainable(src) == []


def test_add_adapter_then_requires_grad_false():
    """transformers' (and diffusers') add_adapter: the freeze after it reaches the adapter too."""
    src = """
    from peft import LoraConfig
    from transformers import CLIPTextModel

    text_encoder = CLIPTextModel(cfg)
    text_encoder.add_adapter(LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    text_encoder.requires_grad_(False)
    """
    [d] = _found(src)
    assert d.row == 7 and "`text_encoder.add_adapter(...)` (line 6)" in d.message, d.message
    assert _trainable(src, "text_encoder") == []


def test_the_llava_script_freeze_under_flags():
    """The public form (a LLaVA fork, p-tuning after the LoRA wrap): the freeze sits under two flags;
    with them on, only the projector is unfrozen, and the adapters never train. A freeze under a flag
    is the mistake whenever the flag is on, as FZ111's whole-model unfreeze after the wrap is."""
    src = """
    import torch.nn as nn
    from peft import LoraConfig, get_peft_model

    def build(model, args):
        config = LoraConfig(r=2, target_modules=["0"], )
        model = get_peft_model(model, config)
        if args.use_ptuning:
            if args.tune_mm_mlp_adapter:
                model.requires_grad_(False)
                for p in model.base_model.model.mm_projector.parameters():
                    p.requires_grad = True
        return model

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 4))
            self.mm_projector = nn.Linear(4, 4)

    model = build(Net(), args)
    """
    [d] = _found(src)
    assert d.row == 10 and "mm_projector.parameters()`, line 12" in d.message, d.message
    on = types.SimpleNamespace(use_ptuning=True, tune_mm_mlp_adapter=True)
    trained = _trainable(src, args=on)
    assert trained and all("mm_projector" in n for n in trained), trained


def test_a_flag_on_the_path_without_peft_is_silent():
    src = """
    from peft import LoraConfig, get_peft_model

    def get_model(model, lora):
        if lora:
            model = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj"]))
        if not lora:
            model.requires_grad_(False)
        return model
    """
    assert _rows(src) == []
    # a flag of its own, with a part unfrozen after the freeze: the mistake whenever the flag is on
    unfrozen = src.replace("    return model", "        model.base_model.model.head.requires_grad_(True)\n    return model")
    assert _rows(unfrozen.replace("if not lora:", "if frozen:")) == [8]
    assert _rows(unfrozen) == []


def test_a_flag_that_asks_for_a_frozen_model_is_silent():
    """With nothing unfrozen after it, a freeze under a flag of its own is a frozen model asked for
    (a reference model, evaluation); run with the flag on, nothing trains, as the caller wants."""
    src = """
    from peft import LoraConfig, get_peft_model
    from transformers import CLIPTextModel

    def get_model(requires_grad=True):
        model = CLIPTextModel(cfg)
        model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"]))
        if not requires_grad:
            model.requires_grad_(False)
        return model

    model = get_model(requires_grad=False)
    """
    assert _rows(src) == []
    assert _trainable(src) == []
    # unconditional, it is reported
    assert _rows(src.replace("        if not requires_grad:\n            model", "        model")) == [8]


@pytest.mark.parametrize("after", [
    # unfrozen again by name
    'for n, p in model.named_parameters():\n    if "lora_" in n:\n        p.requires_grad = True',
    'for n, p in model.named_parameters():\n    p.requires_grad = "lora_" in n',
    # peft's adapter switch sets requires_grad=True on the active adapter
    'model.set_adapter("default")',
    # a part that holds adapters (the q_proj LoRA layers)
    ("for layer in model.base_model.model.encoder.layers:\n"
     "    layer.self_attn.q_proj.requires_grad_(True)\n    layer.self_attn.v_proj.requires_grad_(True)"),
])
def test_adapters_unfrozen_again_after_the_freeze(after):
    src = _wrapped("model.requires_grad_(False)\n" + _HEAD + "\n" + after)
    assert _rows(src) == []
    trained = _trainable(src)
    assert any("lora_A" in n for n in trained), trained


def test_print_trainable_parameters_is_no_unfreeze():
    src = _wrapped("model.requires_grad_(False)\n" + _HEAD + "\nmodel.print_trainable_parameters()")
    assert _rows(src) == [7]
    assert not any("lora_" in n for n in _trainable(src))


def test_a_freeze_before_the_wrap_is_silent():
    """diffusers' training scripts: freeze, then add_adapter (which leaves the adapter trainable)."""
    src = """
    from peft import LoraConfig
    from transformers import CLIPTextModel

    text_encoder = CLIPTextModel(cfg)
    text_encoder.requires_grad_(False)
    text_encoder.add_adapter(LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    """
    assert _rows(src) == []
    trained = _trainable(src, "text_encoder")
    assert trained and all("lora_" in n for n in trained), trained
    assert _rows(_WRAPPED.format(after="").replace("model = get_peft_model", "model.requires_grad_(False)\n"
                                                                            "model = get_peft_model")) == []


def test_a_part_without_adapters_frozen_after_the_wrap_is_silent():
    src = _wrapped("model.base_model.model.embeddings.requires_grad_(False)")
    assert _rows(src) == []
    assert any("lora_A" in n for n in _trainable(src))
    assert _rows(_wrapped("model.base_model.model.vision_tower.requires_grad_(False)")) == []
    assert _rows(_wrapped("model.base_model.model.encoder.layers[0].requires_grad_(False)")) == []


@pytest.mark.parametrize("src", [
    # merged into the weights: no adapters left to freeze
    _wrapped("model = model.merge_and_unload()\nmodel.requires_grad_(False)"),
    # a config for inference: PEFT leaves the adapters frozen itself
    _wrapped("model.requires_grad_(False)").replace('v_proj"]', 'v_proj"], inference_mode=True'),
    # a helper named for it may unfreeze them (loralib's mark_only_lora_as_trainable)
    _wrapped("model.requires_grad_(False)\nmark_only_lora_as_trainable(model)"),
    # requires_grad set from a value not read
    _wrapped("model.requires_grad_(False)\nfor p in model.parameters():\n    p.requires_grad = args.train"),
    # unfreezes on objects the rule does not follow
    _wrapped("model.requires_grad_(False)\nfor p in params:\n    p.requires_grad = True"),
    # a freeze picked by name (the base only)
    _wrapped('for n, p in model.named_parameters():\n    if "lora" not in n:\n        p.requires_grad = False'),
    # another model bound to the name between
    _wrapped("model = build_teacher()\nmodel.requires_grad_(False)"),
])
def test_near_misses_statically(src):
    assert _rows(src) == []


def test_a_wrap_of_a_model_built_in_the_call():
    """The model given to PEFT has no name of its own: the freeze of the PeftModel returned counts."""
    src = """
    from peft import LoraConfig, get_peft_model
    from transformers import CLIPTextModel

    model = get_peft_model(CLIPTextModel(cfg), LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    model.requires_grad_(False)
    for p in model.base_model.model.final_layer_norm.parameters():
        p.requires_grad = True
    """
    assert _rows(src) == [6]
    trainable = _trainable(src)
    assert trainable and not any("lora_" in n for n in trainable), trainable


def test_prepare_model_for_kbit_training_after_the_wrap():
    """peft's preparation freezes every parameter: after the wrap, the adapters with them."""
    src = _wrapped("model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)")
    src = src.replace("import LoraConfig, get_peft_model", "import LoraConfig, get_peft_model, prepare_model_for_kbit_training")
    [d] = _found(src)
    assert d.row == 7 and "call it before `get_peft_model(...)`" in d.message, d.message
    assert _trainable(src) == []
    before = src.replace("model = get_peft_model(", "model = prepare_model_for_kbit_training(model, "
                         "use_gradient_checkpointing=False)\nmodel = get_peft_model(", 1).rsplit("\n", 2)[0] + "\n"
    assert _found(before) == []
    assert _trainable(before) and all("lora_" in n for n in _trainable(before))
