"""The note on norm layers kept in eval() with the statistics they were created with, beside
layers that hold learned ones (findings.untouched_norms): each counter is read once, a 0-d one
without a view, a 1-element one as before, and what cannot be read still says nothing."""

import torch
import torch.nn as nn

from freezelint.runtime.findings import untouched_norms
from freezelint.runtime.report import ModuleRecord


def _model(learned: int = 1):
    m = nn.Sequential(nn.BatchNorm1d(3), nn.BatchNorm1d(3), nn.Linear(3, 3))
    with torch.no_grad():
        m[0].num_batches_tracked.fill_(learned)
        m[0].running_mean.fill_(0.5)
    return m


def _records(m: nn.Module, eval_names=("0", "1")):
    return [ModuleRecord(n, type(x).__name__, "frozen", "eval" if n in eval_names else "train")
            for n, x in m.named_modules()]


def test_fresh_layer_in_eval_beside_a_learned_one_is_noted():
    m = _model()
    notes = untouched_norms(list(m.named_modules()), _records(m))
    assert len(notes) == 1 and notes[0].startswith("1 is in eval() with the statistics it was created with")


def test_counter_of_one_element_is_read_as_a_scalar():
    m = _model()
    m[1].num_batches_tracked = torch.zeros(1, dtype=torch.long)  # saved as shape (1,) by some checkpoints
    assert len(untouched_norms(list(m.named_modules()), _records(m))) == 1


def test_nothing_said_where_no_layer_learned_or_the_fresh_one_trains_or_a_counter_is_unreadable():
    m = _model(learned=0)
    assert untouched_norms(list(m.named_modules()), _records(m)) == []
    m = _model()
    assert untouched_norms(list(m.named_modules()), _records(m, eval_names=("0",))) == []
    m = _model()
    m[1].num_batches_tracked = torch.zeros(2, dtype=torch.long)  # no scalar: not read
    assert untouched_norms(list(m.named_modules()), _records(m)) == []
    m = _model()
    m[1].num_batches_tracked = torch.zeros((), dtype=torch.long, device="meta")  # no data: left out
    assert untouched_norms(list(m.named_modules()), _records(m)) == []  # one layer left: nothing to compare


def test_the_note_says_first_that_it_is_no_finding_and_why_a_fresh_model_shows_it():
    """A model built with weights=None, one layer of which trained in the window (the watch examples'
    layer4), shows this note too: a reader must not take it for a remaining problem."""
    m = _model()
    note = untouched_norms(list(m.named_modules()), _records(m))[0]
    assert "Not a finding: a model built without pretrained weights (weights=None) never loaded statistics" in note
    assert note.index("Not a finding") < note.index("leave it in train mode")  # the advice is for real checkpoints
    assert "With a real checkpoint, it was frozen before it saw any data" in note
