"""FZ401: library loaders that load non-strictly and hand back the missing and unexpected keys
unread (peft's `set_peft_model_state_dict`; given `strict=False`, peft's `set_base_model_state_dict`,
timm's `load_checkpoint`, transformers' `load_sharded_checkpoint`): a call that drops what they return
drops the only evidence that nothing loaded (alpaca-lora's resume from `adapter_model.bin`)."""

from __future__ import annotations

import textwrap
import warnings

import pytest

from freezelint.check.engine import check_source

CODE = """
    import torch
    from peft import set_peft_model_state_dict


    def resume(model, path):
        adapters_weights = torch.load(path)
        set_peft_model_state_dict(model, adapters_weights)
    """


def _found(code: str):
    source = textwrap.dedent(code).lstrip()
    compile(source, "x.py", "exec")
    return [(d.row, d.message) for d in check_source(source, "finetune_lib_loaders.py", select=["FZ401"])]


def test_a_dropped_adapter_load_is_reported_with_what_to_check():
    found = _found(CODE)
    assert [row for row, _ in found] == [7]
    message = found[0][1]
    assert message.startswith("peft's `set_peft_model_state_dict(...)` loads non-strictly (`strict=False`)")
    assert "this call drops them" in message
    assert "no adapter key (`lora_`) is in `missing_keys`" in message


@pytest.mark.parametrize("imports, call", [
    ("from peft import set_peft_model_state_dict as load_adapter", "load_adapter(model, adapters_weights)"),
    ("import peft.utils.save_and_load as sl", "sl.set_peft_model_state_dict(model, adapters_weights)"),
    ("from peft.utils import set_peft_model_state_dict", "_ = set_peft_model_state_dict(model, adapters_weights)"),
    ("from peft import set_base_model_state_dict", "set_base_model_state_dict(model, adapters_weights, False)"),
    ("import timm", "timm.models.load_checkpoint(model, path, strict=False)"),
    ("from timm.models._helpers import load_checkpoint", "load_checkpoint(model, path, True, 'cpu', False)"),
    ("from transformers.trainer_utils import load_sharded_checkpoint",
     "load_sharded_checkpoint(model, path, strict=False)"),
    # older homes: transformers 4.x defined it in modeling_utils; trainer and peft_model import them
    ("from transformers.modeling_utils import load_sharded_checkpoint",
     "load_sharded_checkpoint(model, path, strict=False)"),
    ("import transformers.trainer as tr", "tr.load_sharded_checkpoint(model, path, False)"),
    ("from peft.peft_model import set_peft_model_state_dict", "set_peft_model_state_dict(model, adapters_weights)"),
], ids=["alias", "module_alias", "underscore", "base_positional", "timm_dotted", "timm_positional", "sharded",
        "sharded_4x", "sharded_trainer", "peft_model"])
def test_every_spelling_is_reported(imports, call):
    code = f"{imports}\n\n\ndef resume(model, path, adapters_weights):\n    {call}\n"
    assert [row for row, _ in _found(code)] == [5]


@pytest.mark.parametrize("imports, call", [
    # the result is looked at
    ("from peft import set_peft_model_state_dict",
     "res = set_peft_model_state_dict(model, adapters_weights)\n    assert not res.unexpected_keys"),
    # strict by default: a mismatch raises
    ("from peft import set_base_model_state_dict", "set_base_model_state_dict(model, adapters_weights)"),
    ("from timm.models import load_checkpoint", "load_checkpoint(model, path)"),
    ("from timm.models import load_checkpoint", "load_checkpoint(model, path, strict=True)"),
    ("from transformers.trainer_utils import load_sharded_checkpoint", "load_sharded_checkpoint(model, path)"),
    ("from transformers.modeling_utils import load_sharded_checkpoint", "load_sharded_checkpoint(model, path)"),
    # not the library's function: a project's own of the same name, and accelerate's (it logs)
    ("from utils import set_peft_model_state_dict", "set_peft_model_state_dict(model, adapters_weights)"),
    ("from accelerate import load_checkpoint_in_model", "load_checkpoint_in_model(model, path, strict=False)"),
], ids=["checked", "base_strict", "timm_default", "timm_strict", "sharded_default", "sharded_4x_default",
        "project_own", "accelerate"])
def test_near_misses_are_silent(imports, call):
    code = f"{imports}\n\n\ndef resume(model, path, adapters_weights):\n    {call}\n"
    assert _found(code) == []


ROUND_TRIP = """
    import torch
    from peft import get_peft_model_state_dict, set_peft_model_state_dict


    def add_teacher(model, other, name):
        student = get_peft_model_state_dict(model)
        zeros = {k: torch.zeros_like(v) for k, v in student.items()}
        set_peft_model_state_dict(model, zeros, adapter_name=name)
    """


@pytest.mark.parametrize("old, new, rows", [
    ("", "", []),  # peft's own keys of the same model, mapped back by its loader
    ("set_peft_model_state_dict(model, zeros", "set_peft_model_state_dict(other, zeros", [8]),  # another model
    ("    zeros = {k:", "    model = other\n    zeros = {k:", [9]),  # rebound between
    ("{k: torch.zeros_like(v)", "{'module.' + k: torch.zeros_like(v)", [8]),  # renamed keys
    ("get_peft_model_state_dict(model)", "torch.load(name)", [8]),  # from a file
], ids=["own_keys", "other_model", "rebound", "renamed", "from_file"])
def test_a_round_trip_of_peft_own_keys_is_silent(old, new, rows):
    code = textwrap.dedent(ROUND_TRIP)
    assert old in code
    assert [row for row, _ in _found(code.replace(old, new))] == rows


class TestTheFacts:
    torch = pytest.importorskip("torch")
    peft = pytest.importorskip("peft")

    def test_mismatched_adapter_keys_load_nothing_and_only_the_result_says_so(self):
        from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
        from torch import nn
        torch = self.torch

        torch.manual_seed(0)
        trained = get_peft_model(nn.Sequential(nn.Linear(4, 4)), LoraConfig(r=2, target_modules=["0"]))
        for name, p in trained.named_parameters():
            if "lora_B" in name:
                nn.init.ones_(p)  # lora_B starts at zero: make the trained adapter differ from a fresh one
        saved = {"module." + k: v for k, v in get_peft_model_state_dict(trained).items()}  # a DDP prefix

        model = get_peft_model(nn.Sequential(nn.Linear(4, 4)), LoraConfig(r=2, target_modules=["0"]))
        lora_b = next(p for n, p in model.named_parameters() if "lora_B" in n)
        before = lora_b.detach().clone()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # peft itself says nothing
            result = set_peft_model_state_dict(model, saved)
        assert torch.equal(lora_b, before)  # nothing loaded
        assert result.unexpected_keys and all(k.startswith("module.") for k in result.unexpected_keys)
        assert any("lora_B" in k for k in result.missing_keys)
