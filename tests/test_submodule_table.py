"""The generated submodule table is current for the installed model libraries: what
scripts/gen_submodule_table.py records for a transformers class is what that class builds."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from freezelint.check import submodule_table
from freezelint.check.submodule_table import TABLE

GEN = Path(submodule_table.__file__).resolve().parents[2] / "scripts" / "gen_submodule_table.py"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_submodule_table_under_test", GEN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_class_the_generator_lists_has_an_entry():
    gen = _generator()
    for name in [*gen.TRANSFORMERS, *gen.AUTO]:
        assert f"transformers.{name}" in TABLE, name


def test_the_table_was_generated_from_the_installed_transformers():
    transformers = pytest.importorskip("transformers")
    said = re.search(r"transformers (\S+)\n", submodule_table.__doc__)
    assert said is not None and said.group(1) == transformers.__version__, \
        "run scripts/gen_submodule_table.py to regenerate freezelint/check/submodule_table.py"


@pytest.mark.filterwarnings("ignore::FutureWarning")  # a deprecated property read while looking for parts
@pytest.mark.parametrize("name", ["LlamaForCausalLM", "Qwen2_5_VLForConditionalGeneration",
                                  "T5ForConditionalGeneration", "MBartForConditionalGeneration"])
def test_a_transformers_entry_is_what_its_class_builds(name):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    gen = _generator()
    with torch.device("meta"):
        model = getattr(transformers, name)(transformers.AutoConfig.for_model(gen.TRANSFORMERS[name]))
    built = gen._paths(model, gen.HF_DEPTH)
    entry = TABLE[f"transformers.{name}"]
    assert {k: entry[k] for k in built} == built
    assert isinstance(model.get_submodule("lm_head"), torch.nn.Linear)
    assert "lm_head" in entry["modules"] and "lm_head.weight" not in entry["modules"]


def test_a_task_class_knows_its_wrapped_backbone_one_attribute_deeper():
    mbart = TABLE["transformers.MBartForConditionalGeneration"]
    assert "model.decoder.embed_tokens" in mbart["modules"]
    assert "model.decoder.layers" in mbart["seqs"]
    llama = TABLE["transformers.LlamaForCausalLM"]
    assert "model.layers" in llama["seqs"] and "model.layers.0" not in llama["modules"]  # items come from "seqs"
    assert "base_model.embed_tokens" in llama["modules"]  # PreTrainedModel.base_model is `model.model`
    assert "embeddings.cls_token" in TABLE["transformers.ViTModel"]["params"]
