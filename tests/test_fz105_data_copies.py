"""FZ105 on `.data`: `emb.weight.data.requires_grad = False` and `emb.weight.data[:, :2].requires_grad =
False` set the flag on a new tensor each time (a slice of one, for the second) and freeze nothing;
writing through `.data` (`p.data.copy_(...)`, `p.data = ...`) is no freeze and stays silent."""

from __future__ import annotations

import textwrap

import torch
import torch.nn as nn

from freezelint.check.engine import check_source

MISSES = """
import torch.nn as nn

class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.query_embedding = nn.Embedding(300, 4)
        self.query_embedding.weight.data[:, :2].requires_grad = False

emb = nn.Embedding(300, 4)
emb.weight.data.requires_grad = False
emb.weight.detach().requires_grad = False
for p in emb.parameters():
    p.data[:2].requires_grad = False
    p.data[0].requires_grad_(False)
"""


def _found(code: str) -> list[tuple[int, str]]:
    source = textwrap.dedent(code).lstrip()
    compile(source, "x.py", "exec")
    return [(d.row, d.message) for d in check_source(source, select=["FZ105"])]


def test_data_and_its_slices_are_reported():
    found = _found(MISSES)
    assert [row for row, _ in found] == [7, 10, 11, 13, 14]
    assert found[0][1].startswith("`self.query_embedding.weight.data[:, :2]` is a slice of "
                                  "`self.query_embedding.weight.data`, a new tensor separate from the parameter "
                                  "`self.query_embedding.weight`: setting requires_grad on it freezes nothing")
    assert found[1][1] == ("`emb.weight.data` is a new tensor each time `.data` is read, separate from the "
                           "parameter `emb.weight`: setting requires_grad on it freezes nothing; set it on the "
                           "parameter (`emb.weight.requires_grad = False`)")


def test_the_parameter_stays_trainable():
    """What the finding says, on a real Embedding: neither store reaches the Parameter."""
    emb = nn.Embedding(300, 4)
    emb.weight.data[:, :2].requires_grad = False
    emb.weight.data.requires_grad = False
    assert emb.weight.requires_grad and emb.weight.data is not emb.weight.data
    emb(torch.tensor([0, 1])).sum().backward()
    assert emb.weight.grad is not None and emb.weight.grad[:2, :2].abs().sum() > 0


def test_writes_through_data_and_other_fields_named_data_are_silent():
    assert _found("""
    import torch.nn as nn
    from torch.nn.utils.rnn import pack_padded_sequence

    emb = nn.Embedding(300, 4)
    emb.weight.data[:, :2].uniform_(0, 1)
    emb.weight.data = emb.weight.data.half()
    for p in emb.parameters():
        p.data.copy_(p.data.clamp(-1, 1))
    seq = pack_padded_sequence(inputs, lengths)
    seq.data[0].requires_grad = False  # PackedSequence.data is a field
    batch.data[:2].requires_grad = False  # an object the checker cannot tell
    """) == []
