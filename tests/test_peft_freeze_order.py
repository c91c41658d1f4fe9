"""FZ111's order cases, each snippet both checked and run on real peft: a part unfrozen by hand
before get_peft_model / add_adapter is frozen again by it (peft's `_mark_only_adapters_as_trainable`
on a model without adapters), and a whole-model unfreeze after add_adapter makes the adapter run a
full fine-tune."""

from __future__ import annotations

import textwrap
import warnings

import pytest

from freezelint.check.engine import check_source


def _rows(src: str) -> list[int]:
    return [d.row for d in check_source(textwrap.dedent(src), "train.py", select=["FZ111"])]


def _trainable(src: str, name: str) -> list[str]:
    """Run the snippet and list the parameters of `name` that require grad after it."""
    return [n for n, p in _run(src)[name].named_parameters() if p.requires_grad]


def _run(src: str) -> dict:
    """Run the snippet (tiny models: `cfg` is a small CLIP text config); its namespace."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    transformers = pytest.importorskip("transformers")
    cfg = transformers.CLIPTextConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=16, max_position_embeddings=16, projection_dim=8,
                                      bos_token_id=1, eos_token_id=2)
    ns = {"cfg": cfg}
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(textwrap.dedent(src), ns)
    return ns


# ------------------------------------------------ a part unfrozen before PEFT, frozen again by it
_BEFORE = """
import torch.nn as nn
from peft import LoraConfig, get_peft_model

model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 2))
for name, p in model.named_parameters():
    p.requires_grad = name.startswith("2.")  # train the head
model = get_peft_model(model, LoraConfig(r=2, target_modules=["0", "1"]))
"""


def test_an_unfreeze_before_get_peft_model_is_undone():
    assert _rows(_BEFORE) == [8]
    trained = _trainable(_BEFORE, "model")
    assert trained and all("lora_" in n for n in trained), trained  # the head is frozen again


@pytest.mark.parametrize("src, head", [
    # the unfreeze moved after the wrap: the head trains
    (_BEFORE.replace('    p.requires_grad = name.startswith("2.")  # train the head\n', "    pass\n")
     + "model.base_model.model[2].requires_grad_(True)\n", "base_model.model.2.weight"),
    # modules_to_save names it: PEFT trains a copy
    (_BEFORE.replace('target_modules=["0", "1"]', 'target_modules=["0", "1"], modules_to_save=["2"]'),
     "base_model.model.2.modules_to_save.default.weight"),
])
def test_near_misses_where_the_head_trains(src, head):
    assert _rows(src) == []
    assert head in _trainable(src, "model")


def test_open_clips_locking_loop_then_lora():
    """The public form (an open_clip fork): resblocks >= N unfrozen by name under a flag, then
    LoRA through get_peft_model; the requires_grad filter of the optimizer keeps LoRA only."""
    src = """
    import torch
    from peft import LoraConfig, get_peft_model

    def main(args, model):
        if args.lock_image:
            for k, v in model.named_parameters():
                if "visual.transformer.resblocks." in k:
                    nr = int(k.replace("visual.transformer.resblocks.", "").split(".")[0])
                    if nr >= args.unlocked:
                        v.requires_grad = True
                    else:
                        v.requires_grad = False
                elif "visual" in k:
                    v.requires_grad = False
        if not args.local_model_is_lora:
            config = LoraConfig(r=args.rank, target_modules=["qkv", "proj"])
            model = get_peft_model(model, config)
        named = list(model.named_parameters())
        return torch.optim.AdamW([p for n, p in named if p.requires_grad], lr=args.lr)
    """
    [d] = check_source(textwrap.dedent(src), "train.py", select=["FZ111"])
    assert d.row == 18 and "line 11" in d.message and "modules_to_save" in d.message, d.message
    # an unfreeze after the wrap (of anything) may be the fix: silent
    assert _rows(src.replace("        named = list", "        model.unfreeze_later().requires_grad_(True)\n"
                                                   "        named = list")) == []
    # the config may name the blocks in modules_to_save
    assert _rows(src.replace("target_modules=", "modules_to_save=args.keep, target_modules=")) == []
    assert _rows(src.replace("LoraConfig(r=args.rank", "LoraConfig(**args.lora")) == []


def test_add_adapter_undoes_an_unfreeze_before_it_too():
    src = """
    from peft import LoraConfig
    from transformers import CLIPTextModel

    text_encoder = CLIPTextModel(cfg)
    text_encoder.requires_grad_(False)
    text_encoder.final_layer_norm.requires_grad_(True)
    text_encoder.add_adapter(LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    """
    assert _rows(src) == [8]
    assert not any("final_layer_norm" in n for n in _trainable(src, "text_encoder"))


def test_a_second_adapter_keeps_what_was_trainable():
    """peft restores the trainability of existing parameters when the model holds adapters
    already: the unfreeze between two add_adapter calls stands."""
    src = """
    from peft import LoraConfig
    from transformers import CLIPTextModel

    text_encoder = CLIPTextModel(cfg)
    text_encoder.add_adapter(LoraConfig(r=2, target_modules=["q_proj"]), adapter_name="a")
    text_encoder.final_layer_norm.requires_grad_(True)
    text_encoder.add_adapter(LoraConfig(r=2, target_modules=["v_proj"]), adapter_name="b")
    """
    assert _rows(src) == []
    assert "final_layer_norm.weight" in _trainable(src, "text_encoder")


@pytest.mark.parametrize("src", [
    # all of it unfrozen before (a reset): PEFT's freeze is what is meant
    """
    from peft import LoraConfig, get_peft_model

    model.requires_grad_(True)
    model = get_peft_model(model, LoraConfig(r=8, target_modules=["q"]))
    """,
    # a part outside the model PEFT wraps
    """
    from peft import LoraConfig, get_peft_model

    model.head.requires_grad_(True)
    model.backbone = get_peft_model(model.backbone, LoraConfig(r=8, target_modules=["q"]))
    """,
    # not peft's
    """
    from mylib import LoraConfig, get_peft_model

    model.head.requires_grad_(True)
    model = get_peft_model(model, LoraConfig(r=8))
    """,
    # the config comes from elsewhere: it may hold modules_to_save
    """
    from peft import get_peft_model

    model.head.requires_grad_(True)
    model = get_peft_model(model, make_config())
    """,
    # on self: another method may unfreeze it again
    """
    from peft import LoraConfig, get_peft_model

    class Trainer:
        def __init__(self, model):
            self.model = model
            self.model.head.requires_grad_(True)
            self.model = get_peft_model(self.model, LoraConfig(r=8, target_modules=["q"]))
    """,
    # a model bound again between the two
    """
    from peft import LoraConfig, get_peft_model

    model.head.requires_grad_(True)
    model = build_student()
    model = get_peft_model(model, LoraConfig(r=8, target_modules=["q"]))
    """,
])
def test_near_misses_before(src):
    assert _rows(src) == []


# ----------------------------------------------- a whole-model unfreeze after PEFT undoes its freeze
_AFTER = """
import torch
from peft import LoraConfig
from transformers import CLIPTextModel

text_encoder = CLIPTextModel(cfg)
text_encoder.add_adapter(LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
text_encoder.train()
text_encoder.requires_grad_(True)
optimizer = torch.optim.AdamW(text_encoder.parameters(), lr=1e-4)
"""


def test_requires_grad_true_after_add_adapter_trains_everything():
    """diffusers' amused script (--train_text_encoder --text_encoder_use_lora)."""
    [d] = check_source(textwrap.dedent(_AFTER), "train.py", select=["FZ111"])
    assert d.row == 9 and "line 7" in d.message and "full fine-tune" in d.message, d.message
    trained = _trainable(_AFTER, "text_encoder")
    assert len(trained) > 4 and "encoder.layers.0.mlp.fc1.weight" in trained  # base weights train


@pytest.mark.parametrize("unfreeze", [
    # the adapters only
    "for n, p in text_encoder.named_parameters():\n    if 'lora' in n:\n        p.requires_grad_(True)",
    "for n, p in text_encoder.named_parameters():\n    p.requires_grad = 'lora' in n",
    # all, then the base frozen again by name
    ("text_encoder.requires_grad_(True)\nfor n, p in text_encoder.named_parameters():\n"
     "    if 'lora' not in n:\n        p.requires_grad = False"),
    # a part meant to train besides the adapters
    "text_encoder.final_layer_norm.requires_grad_(True)",
])
def test_near_misses_after(unfreeze):
    src = _AFTER.replace("text_encoder.requires_grad_(True)", unfreeze)
    assert _rows(src) == []
    trained = _trainable(src, "text_encoder")
    assert "encoder.layers.0.mlp.fc1.weight" not in trained and any("lora_" in n for n in trained), trained


def test_the_peft_model_returned_unfrozen_whole():
    src = """
    from peft import LoraConfig, get_peft_model

    def build(base):
        model = get_peft_model(base, LoraConfig(r=8, target_modules=["q"]))
        model.base_model.model.requires_grad_(True)
        return model
    """
    assert _rows(src) == [6]


@pytest.mark.parametrize("src", [
    # AdapterHub's add_adapter (a name, not a peft config): another API
    """
    model.add_adapter("sst-2")
    model.requires_grad_(True)
    """,
    # the optimizer was built before the unfreeze (FZ303's ground, not a full fine-tune)
    """
    import torch
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(model, LoraConfig(r=8, target_modules=["q"]))
    opt = torch.optim.AdamW(filter(lambda p: p.requires_grad, model.parameters()))
    model.requires_grad_(True)
    """,
    # the optimizer takes the adapters by name
    """
    import torch
    from peft import LoraConfig

    unet.add_adapter(LoraConfig(r=8, target_modules=["to_q"]))
    unet.requires_grad_(True)
    opt = torch.optim.AdamW([p for n, p in unet.named_parameters() if "lora" in n])
    """,
    # exclusive arms: LoRA on one, a full fine-tune on the other
    """
    from peft import LoraConfig

    if args.lora:
        unet.add_adapter(LoraConfig(r=8, target_modules=["to_q"]))
    else:
        unet.requires_grad_(True)
    """,
])
def test_near_misses_after_statically(src):
    assert _rows(src) == []


def test_inject_adapter_in_model_counts_as_well():
    src = """
    from peft import LoraConfig, inject_adapter_in_model

    model = inject_adapter_in_model(LoraConfig(r=8, target_modules=["q"]), model)
    model.requires_grad_(True)
    """
    assert _rows(src) == [5]

