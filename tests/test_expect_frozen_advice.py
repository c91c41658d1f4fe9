"""FZ506 on expect_frozen patterns, where "freeze it with requires_grad_(False)" alone would
mislead: a tied weight named by one of its names only (GPT-2's body frozen, its lm_head, which is
transformer.wte, trained: freezing it freezes the head too, so untie them), and a part that ran in
eval() only, which the script took for a freeze."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


class TinyLM(nn.Module):
    def __init__(self, tie: bool):
        super().__init__()
        self.body = nn.ModuleDict({"wte": nn.Embedding(20, 8), "mix": nn.Linear(8, 8)})
        self.lm_head = nn.Linear(8, 20, bias=False)
        if tie:
            self.lm_head.weight = self.body["wte"].weight

    def forward(self, ids):
        return self.lm_head(torch.tanh(self.body["mix"](self.body["wte"](ids))))


def _frozen_body(tie: bool):
    torch.manual_seed(0)
    model = TinyLM(tie)
    model.body.requires_grad_(False)
    model.lm_head.requires_grad_(True)  # tied: unfreezes body.wte.weight as well
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    return model, opt


def _loss(model):
    ids = torch.randint(0, 20, (3, 5))
    return nn.functional.cross_entropy(model(ids).flatten(0, 1), ids.flatten())


def _watched(tie: bool, pattern: str = "body"):
    model, opt = _frozen_body(tie)
    with freezelint.watch(steps=2, expect_frozen=[pattern]) as w:
        for _ in range(2):
            opt.zero_grad()
            _loss(model).backward()
            opt.step()
    return w.report


def test_watch_a_tied_weight_named_by_one_name_is_advised_to_untie():
    (f,) = _watched(tie=True).findings
    assert f.code == "FZ506" and f.target == "body", f
    assert ("it is trainable (requires_grad=True) as one tensor with lm_head.weight (tied weights), which the "
            "pattern does not name: freezing it freezes lm_head.weight too") in f.message, f.message
    assert f.advice.startswith("untie the weights (for a transformers model, tie_word_embeddings=False"), f.advice
    assert "freeze it with requires_grad_(False)" not in f.advice


def test_audit_gives_the_same_advice():
    model, opt = _frozen_body(tie=True)
    def loss_fn(out, batch):
        return nn.functional.cross_entropy(out.flatten(0, 1), batch.flatten())

    report = freezelint.audit(model, opt, steps=1, batch=torch.randint(0, 20, (3, 5)), loss_fn=loss_fn,
                              expect_frozen=["body"])
    (f,) = [f for f in report.findings if f.code == "FZ506"]
    assert "as one tensor with lm_head.weight (tied weights)" in f.message and f.advice.startswith("untie"), f


def test_a_pattern_that_names_every_name_of_the_tied_weight_keeps_the_plain_advice():
    (f,) = _watched(tie=True, pattern="*weight").findings
    assert f.code == "FZ506" and "tied weights" not in f.message, f.message
    assert f.advice == "freeze it with requires_grad_(False)", f.advice


def test_untied_head_with_a_frozen_body_is_clean():
    assert _watched(tie=False).ok


class AE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(6, 4), nn.Dropout(0.1), nn.ReLU())
        self.decoder = nn.Linear(4, 6)

    def forward(self, x):
        return self.decoder(self.encoder(x))


def _eval_as_freeze(validate: bool):
    torch.manual_seed(0)
    model = AE()
    model.encoder.eval()  # taken for a freeze
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with freezelint.watch(steps=2, expect_frozen=["encoder"]) as w:
        for _ in range(2):
            x = torch.randn(5, 6)
            opt.zero_grad()
            nn.functional.mse_loss(model(x), x).backward()
            opt.step()
            if validate:  # a validation pass: the encoder also ran in train mode
                model.train()
                model(x)
                model.encoder.eval()
    (f,) = w.report.findings
    return f


def test_a_part_expected_frozen_that_ran_in_eval_is_told_eval_freezes_nothing():
    f = _eval_as_freeze(validate=False)
    assert f.code == "FZ506" and f.target == "encoder", f
    assert f.message.endswith("all 2 are trainable (requires_grad=True), though run in eval(): eval() switches "
                              "dropout and normalisation to inference and freezes nothing"), f.message
    assert f.advice == "freeze them with requires_grad_(False) as well as eval()", f.advice


def test_a_part_that_also_ran_in_train_mode_keeps_the_plain_words():
    f = _eval_as_freeze(validate=True)
    assert f.code == "FZ506" and "eval()" not in f.message + f.advice, f
