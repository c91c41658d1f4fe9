"""FZ303 on `x.part.requires_grad = True` where the part's kind is not known (a loaded model): a
Parameter's flag (the unfreeze the message describes) or a Module's plain attribute (nothing at all);
the advice covers both."""
import textwrap

from freezelint.check.engine import check_source


def messages(code: str) -> list[str]:
    return [f.message for f in check_source(textwrap.dedent(code), "train.py") if f.code == "FZ303"]


LOADED = """
import torch

model = torch.load("model.pt")
model.encoder.requires_grad = False
opt = torch.optim.AdamW(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-4)
for epoch in range(10):
    if epoch == 5:
        model.encoder.requires_grad = True
    train_one_epoch(model, opt)
"""


def test_an_unfreeze_of_a_part_of_unknown_kind_says_what_to_do_if_it_is_a_module():
    [m] = messages(LOADED)
    assert m.startswith("`model.encoder.requires_grad = True` unfreezes parameters after the optimizer was built")
    assert m.endswith("; if `model.encoder` is an nn.Module, this line unfreezes nothing (a plain attribute): call "
                      "`model.encoder.requires_grad_(True)`, then add the param group"), m


def test_a_method_call_or_a_known_parameter_gets_no_such_clause():
    for unfreeze in ("model.encoder.requires_grad_(True)", "model.encoder.weight.requires_grad = True"):
        [m] = messages(LOADED.replace("model.encoder.requires_grad = True", unfreeze))
        assert "is an nn.Module" not in m, m
