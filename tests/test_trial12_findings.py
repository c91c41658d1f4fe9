"""Trial 12 (diffusers, speech, LLM, detection scripts): what it found in the checker."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source


def _found(src: str, code: str):
    return [d for d in check_source(textwrap.dedent(src), "train.py", select=[code])]


# ------------------------------------------------- FZ102: a processor called like a layer is no Module
WAV2VEC2 = """
from torch import nn
from transformers import {extractor}, Wav2Vec2Config, Wav2Vec2Model


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.processor = {built}
        self.model = Wav2Vec2Model(Wav2Vec2Config())
        self.processor.requires_grad = False
        self.model.requires_grad = False
        self.classifier = nn.Linear(32, 7)

    def forward(self, x):
        values = self.processor(x, return_tensors="pt", sampling_rate=16000).input_values[0]
        return self.classifier(self.model(values).last_hidden_state.mean(1))
"""


@pytest.mark.parametrize("extractor,built", [
    ("Wav2Vec2FeatureExtractor", "Wav2Vec2FeatureExtractor(sampling_rate=16000)"),
    ("Wav2Vec2Processor", 'Wav2Vec2Processor.from_pretrained("facebook/wav2vec2-base")'),
    ("AutoTokenizer", 'AutoTokenizer.from_pretrained("bert-base-uncased")'),
])
def test_fz102_skips_a_processor_the_forward_calls(extractor, built):
    found = _found(WAV2VEC2.format(extractor=extractor, built=built), "FZ102")
    assert [(d.row, d.message.split("`")[1]) for d in found] == [(12, "self.model")]
    assert found[0].fix["applicability"] == "safe"  # a transformers model class: a Module for sure


def test_fz102_on_an_attribute_known_only_as_called_offers_no_safe_fix():
    src = """
    from torch import nn

    class Net(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.encoder = build_encoder(cfg)  # unknown: a Module only because forward() calls it
            self.encoder.requires_grad = False

        def forward(self, x):
            return self.encoder(x)
    """
    (d,) = _found(src, "FZ102")
    assert d.fix["applicability"] == "unsafe"
