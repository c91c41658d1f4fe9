"""FZ102 on the parts of transformers task classes the generated table knows (`model.lm_head` of a
LlamaForCausalLM, `model.encoder` of a T5), and the message names the model the part belongs to."""

from __future__ import annotations

import textwrap

from freezelint.check.engine import check_source


def _found(code: str) -> list[tuple[int, str]]:
    return [(d.row, d.message) for d in check_source(textwrap.dedent(code).lstrip(), select=["FZ102"])]


def test_a_part_of_a_causal_lm_is_named_with_its_class():
    found = _found("""
        from transformers import LlamaForCausalLM, Qwen2_5_VLForConditionalGeneration, T5ForConditionalGeneration

        llm = LlamaForCausalLM.from_pretrained("meta-llama/Llama-3.2-1B")
        llm.lm_head.requires_grad = False
        llm.model.requires_grad = False
        llm.model.embed_tokens.weight.requires_grad = False  # a Parameter: correct
        vlm = Qwen2_5_VLForConditionalGeneration.from_pretrained("Qwen/Qwen2.5-VL-3B-Instruct")
        vlm.lm_head.requires_grad = False
        t5 = T5ForConditionalGeneration.from_pretrained("t5-small")
        t5.encoder.requires_grad = False
        t5.shared.weight.requires_grad = False
        """)
    assert [row for row, _ in found] == [4, 5, 8, 10]
    assert found[0][1].startswith("`llm.lm_head` is an nn.Module (`lm_head` of `transformers.LlamaForCausalLM`): "
                                  "`llm.lm_head.requires_grad = False` sets an attribute autograd never reads")
    assert "(`lm_head` of `transformers.Qwen2_5_VLForConditionalGeneration`)" in found[2][1]
    assert "(`encoder` of `transformers.T5ForConditionalGeneration`)" in found[3][1]


def test_a_helper_given_the_model_names_every_class_it_may_be():
    found = _found("""
        from transformers import Qwen2VLForConditionalGeneration, Qwen2_5_VLForConditionalGeneration

        def set_model(model_args, model):
            if model_args.tune_mm_llm:
                model.lm_head.requires_grad = True
            else:
                model.lm_head.requires_grad = False

        def train(model_args):
            if "qwen2.5" in model_args.model_name_or_path.lower():
                model = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_args.model_name_or_path)
            else:
                model = Qwen2VLForConditionalGeneration.from_pretrained(model_args.model_name_or_path)
            set_model(model_args, model)
        """)
    assert [row for row, _ in found] == [5, 7]
    assert ("`model.lm_head` is an nn.Module (`lm_head` of `transformers.Qwen2VLForConditionalGeneration` and "
            "`transformers.Qwen2_5_VLForConditionalGeneration`): ") in found[0][1]


def test_a_helper_whose_argument_is_rebound_to_an_unknown_model_stays_silent():
    # `model = get_peft_model(model, ...)` on another branch: what `model` holds is not one
    # class the table knows everywhere in `train` (names are inferred per scope, not per branch)
    assert _found("""
        from peft import get_peft_model
        from transformers import Qwen2_5_VLForConditionalGeneration

        def set_model(model):
            model.lm_head.requires_grad = False

        def train(name, lora_config):
            model = Qwen2_5_VLForConditionalGeneration.from_pretrained(name)
            if lora_config is not None:
                model = get_peft_model(model, lora_config)
            else:
                set_model(model)
        """) == []


def test_a_wrapped_model_built_in_init_and_frozen_in_a_method():
    found = _found("""
        import torch.nn as nn
        from transformers import MBartForConditionalGeneration

        class Translator(nn.Module):
            def __init__(self, source):
                super().__init__()
                self.model = MBartForConditionalGeneration.from_pretrained(source)

            def share_embeddings(self):
                self.model.lm_head.weight = self.model.model.decoder.embed_tokens.weight
                self.model.lm_head.requires_grad = False
                self.model.model.decoder.embed_tokens.requires_grad = False
        """)
    assert [row for row, _ in found] == [11, 12]
    assert "(`model.decoder.embed_tokens` of `transformers.MBartForConditionalGeneration`)" in found[1][1]


def test_other_factories_are_named_as_calls():
    found = _found("""
        import timm
        import torchvision
        from transformers import AutoModelForCausalLM

        resnet = torchvision.models.resnet18(weights=None)
        resnet.layer1.requires_grad = False
        vit = timm.create_model("vit_base_patch16_224", pretrained=True)
        vit.blocks.requires_grad = False
        lm = AutoModelForCausalLM.from_pretrained("gpt2")
        lm.lm_head.requires_grad = False
        resnet.requires_grad = False
        """)
    assert [row for row, _ in found] == [6, 8, 10, 11]
    assert "(`layer1` of `torchvision.models.resnet18()`)" in found[0][1]
    assert '(`blocks` of `timm.create_model("vit_base_patch16_224")`)' in found[1][1]
    assert "(`lm_head` of the models `transformers.AutoModelForCausalLM` builds)" in found[2][1]
    assert found[3][1].startswith("`resnet` is an nn.Module: ")  # the whole model: nothing to add
