"""FZ403's text gate admits the forms of its mistake that its reading of the code finds: a key over
several lines (`model.state_dict()[\n k\n] = v`, `sd[\n k\n] = v`), a binding in parentheses over lines,
an annotated binding (`sd: dict = model.state_dict()`, read as a binding too), a receiver with a comma
in it (`copy.deepcopy(model, memo).state_dict()`); a dict kept (loaded) in the same forms stays silent."""

from __future__ import annotations

import copy

import pytest
import torch

from freezelint.check.engine import check_source

HEAD = "import copy\n\nimport torch\n\n\ndef load(model, pretrained):\n"
TAIL = "    for p in model.parameters():\n        p.requires_grad = False\n"


def _rows(body: str) -> list[int]:
    return [d.row for d in check_source(HEAD + body + TAIL, "train.py", select=["FZ403"])]


@pytest.mark.parametrize("body, row", [
    ("    for k, v in pretrained.items():\n        model.state_dict()[\n            k\n        ] = v\n", 8),
    ("    sd = model.state_dict()\n    for k in pretrained:\n        sd[\n            k\n        ] = pretrained[k]\n", 9),
    ("    sd = (\n        model.state_dict()\n    )\n    for k in pretrained:\n        sd[k] = pretrained[k]\n", 11),
    ("    sd: dict = model.state_dict()\n    for k in pretrained:\n        sd[k] = pretrained[k]\n", 9),
    ("    sd = copy.deepcopy(model, {}).state_dict()\n    for k in pretrained:\n        sd[k] = pretrained[k]\n", 9),
    ("    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n    opt.state_dict()[\n        'state'\n    ] = {}\n", 8),
])
def test_each_form_of_the_write_is_reported(body, row):
    assert _rows(body) == [row]


@pytest.mark.parametrize("body", [
    "    sd: dict = model.state_dict()\n    for k in pretrained:\n        sd[k] = pretrained[k]\n"
    "    model.load_state_dict(sd)\n",
    "    sd = (\n        model.state_dict()\n    )\n    for k in pretrained:\n        sd[\n            k\n        ] = pretrained[k]\n"
    "    model.load_state_dict(sd)\n",
    "    for k in pretrained:\n        model.state_dict()[\n            k\n        ].copy_(pretrained[k])\n",
])
def test_the_same_forms_that_load_are_silent(body):
    assert _rows(body) == []


def test_an_annotated_dict_written_and_dropped_loads_nothing():
    """What the finding says, on torch: the entries written into the annotated dict reach no parameter."""
    model = torch.nn.Linear(2, 2)
    before = copy.deepcopy(model.state_dict())
    sd: dict = model.state_dict()
    for k in sd:
        sd[k] = torch.ones_like(sd[k])
    assert all(torch.equal(model.state_dict()[k], before[k]) for k in before)
