"""FZ401 stays silent on three loads whose keys cannot miss, and only there: the same submodule of
the model the receiver was configured from (diffusers' `controlnet.blocks.load_state_dict(
transformer.blocks.state_dict(), strict=False)`, `transformer` a parameter), a copy between two
models of one class built in the same pass of a loop (audiocraft's test), and a snapshot of the receiver's own entries stored on it and
restored (diffusers' `transformer._transformer_norm_layers`). Each near-miss that reopens the prefix
hazard still fires; the torch tests show the facts the exemptions rest on."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source


def _rows(code: str) -> list[int]:
    source = textwrap.dedent(code).lstrip()
    compile(source, "x.py", "exec")
    return [d.row for d in check_source(source, "pipeline.py", select=["FZ401"])]


SAME_PATH = """
    import torch
    from peft import get_peft_model


    class ControlNet:
        @classmethod
        def from_transformer(cls, transformer, num_layers=4, lora_config=None):
            config = dict(transformer.config)
            config["num_layers"] = num_layers
            controlnet = cls.from_config(config)
            controlnet.blocks.load_state_dict(transformer.blocks.state_dict(), strict=False)
            return controlnet
    """


def test_the_same_submodule_of_a_parameter_model_is_silent():
    assert _rows(SAME_PATH) == []


@pytest.mark.parametrize("old, new", [
    # another submodule: its keys need not be these
    ("controlnet.blocks.load_state_dict(transformer.blocks", "controlnet.blocks.load_state_dict(transformer.layers"),
    # through a wrapper: a different object
    ("transformer.blocks.state_dict()", "transformer.module.blocks.state_dict()"),
    # the whole model into a part of it
    ("transformer.blocks.state_dict()", "transformer.state_dict()"),
    # LoRA injected in place: `q.weight` is now `q.base_layer.weight`
    ("config = dict(transformer.config)", "config = dict(get_peft_model(transformer, lora_config).config)"),
    # nothing ties the receiver to the source: its `blocks` need not be the same
    ("controlnet = cls.from_config(config)", "controlnet = cls.from_config({})"),
], ids=["other_path", "module_path", "whole_model", "peft_source", "not_configured_from_the_source"])
def test_near_misses_of_the_same_path_still_fire(old, new):
    assert old in SAME_PATH
    assert _rows(SAME_PATH.replace(old, new)) == [11]


LOOP = """
    from audiocraft.modules.transformer import StreamingTransformer


    def test_cross_attention():
        for norm_first in [True, False]:
            m = StreamingTransformer(16, 4, 2, cross_attention=False, norm_first=norm_first)
            m_cross = StreamingTransformer(16, 4, 2, cross_attention=True, norm_first=norm_first)
            m_cross.load_state_dict(m.state_dict(), strict=False)
            assert m_cross is not m
    """


def test_siblings_built_in_the_same_pass_of_a_loop_are_silent():
    assert _rows(LOOP) == []


@pytest.mark.parametrize("old, new", [
    # the source built once, before the loop: a later pass may see it changed
    ("    for norm_first in [True, False]:\n        m = StreamingTransformer(16, 4, 2, cross_attention=False, "
     "norm_first=norm_first)\n",
     "    m = StreamingTransformer(16, 4, 2, cross_attention=False, norm_first=True)\n"
     "    for norm_first in [True, False]:\n"),
    # built only on some passes
    ("        m = StreamingTransformer(", "        if norm_first:\n            m = StreamingTransformer("),
], ids=["source_outside_the_loop", "source_built_on_some_passes"])
def test_loop_near_misses_still_fire(old, new):
    code = textwrap.dedent(LOOP)
    assert old in code
    changed = code.replace(old, new)
    assert [d.row for d in check_source(changed, "t.py", select=["FZ401"])] != []


SNAPSHOT = """
    import torch.nn as nn


    class NormLoader:
        def _save_norm(self, transformer, keys):
            own = transformer.state_dict()
            return {k: own[k].clone() for k in keys}

        def _save_norm_loop(self, transformer, state_dict):
            own = transformer.state_dict()
            saved = {}
            for key in state_dict.keys():
                saved[key] = own[key].detach().clone()
            return saved

        def load_norm(self, transformer, keys, state_dict):
            transformer._norm_layers = self._save_norm(transformer, keys)
            transformer._norm_backup = self._save_norm_loop(transformer=transformer, state_dict=state_dict)

        def unload(self, transformer: nn.Module):
            if transformer._norm_layers:
                transformer.load_state_dict(transformer._norm_layers, strict=False)
                transformer._norm_layers = None
            transformer.load_state_dict(transformer._norm_backup, strict=False)
    """


def test_a_snapshot_of_the_receivers_own_entries_restored_is_silent():
    assert _rows(SNAPSHOT) == []


@pytest.mark.parametrize("old, new", [
    # `get` raises nothing for a key the transformer lacks
    ("return {k: own[k].clone() for k in keys}", "return {k: own.get(k) for k in keys}"),
    # the values of another dict: a key the transformer lacks is kept
    ("return {k: own[k].clone() for k in keys}", "return {k: keys[k].clone() for k in keys}"),
    # read under a key other than the one stored
    ("saved[key] = own[key].detach().clone()", "saved['module.' + key] = own[key].detach().clone()"),
    # stored on another object than the one it was taken from
    ("transformer._norm_layers = self._save_norm(transformer, keys)",
     "transformer._norm_layers = self._save_norm(self.text_encoder, keys)"),
    # one store of foreign keys spoils the attribute everywhere
    ("transformer._norm_layers = None", "transformer._norm_layers = dict(keys)"),
], ids=["get", "other_dict", "renamed_key", "other_module", "foreign_store"])
def test_snapshot_near_misses_still_fire(old, new):
    assert old in SNAPSHOT
    assert _rows(SNAPSHOT.replace(old, new)) == ([24] if "_loop" in old or "saved[" in old else [22])


class TestTheFacts:
    """What the exemptions rest on, on torch itself."""

    torch = pytest.importorskip("torch")

    @staticmethod
    def _model(n):
        from torch import nn
        m = nn.Module()
        m.blocks = nn.ModuleList(nn.Linear(4, 4) for _ in range(n))
        m.head = nn.Linear(4, 2)
        return m

    def test_the_same_submodule_of_a_bigger_model_loads_its_first_blocks(self):
        torch = self.torch
        transformer, controlnet = self._model(4), self._model(2)
        result = controlnet.blocks.load_state_dict(transformer.blocks.state_dict(), strict=False)
        assert result.missing_keys == []
        assert result.unexpected_keys == ["2.weight", "2.bias", "3.weight", "3.bias"]
        assert torch.equal(controlnet.blocks[1].weight, transformer.blocks[1].weight)

    def test_the_whole_model_into_a_submodule_loads_nothing(self):
        torch = self.torch
        transformer, controlnet = self._model(4), self._model(2)
        before = controlnet.blocks[0].weight.detach().clone()
        result = controlnet.blocks.load_state_dict(transformer.state_dict(), strict=False)  # no error
        assert len(result.missing_keys) == len(controlnet.blocks.state_dict())
        assert torch.equal(controlnet.blocks[0].weight, before)

    def test_a_snapshot_of_own_entries_restores_them(self):
        torch = self.torch
        model = self._model(2)
        own = model.state_dict()
        snapshot = {k: own[k].clone() for k in ("head.weight", "head.bias")}
        with torch.no_grad():
            model.head.weight.zero_()
        result = model.load_state_dict(snapshot, strict=False)
        assert result.unexpected_keys == []
        assert torch.equal(model.head.weight, snapshot["head.weight"])
        with pytest.raises(KeyError):
            {k: own[k].clone() for k in ("module.head.weight",)}  # a foreign key fails when taken


REPLACEMENT = """
    import torch.nn as nn

    from mylib.attention import MultiHeadAttention, RelPositionMultiHeadAttention


    def change_attention_model(layers, model, d_model, n_heads):
        for m in layers:
            if model == "rel_pos":
                new_attn = RelPositionMultiHeadAttention(n_head=n_heads, n_feat=d_model)
            else:
                new_attn = MultiHeadAttention(n_head=n_heads, n_feat=d_model)
            new_attn.load_state_dict(m.self_attn.state_dict(), strict=False)
            m.self_attn = new_attn
    """


def test_a_replacement_of_another_class_stays_reported():
    """Built to replace `m.self_attn`, but of a class the code does not tie to the old one's."""
    assert _rows(REPLACEMENT) == [12]


def test_a_replacement_of_another_class_can_load_nothing():
    torch = pytest.importorskip("torch")
    from torch import nn

    class LoraLinear(nn.Module):
        def __init__(self, linear, r):
            super().__init__()
            self.base_layer = nn.Linear(linear.in_features, linear.out_features)
            self.lora_a = nn.Linear(linear.in_features, r, bias=False)

    old = nn.Linear(4, 4)
    new = LoraLinear(old, 2)
    before = new.base_layer.weight.detach().clone()
    result = new.load_state_dict(old.state_dict(), strict=False)  # no error
    assert sorted(result.unexpected_keys) == ["bias", "weight"]
    assert torch.equal(new.base_layer.weight, before)
