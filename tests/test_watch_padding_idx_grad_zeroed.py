"""A "freeze" by `p.grad.zero_()` after backward of an nn.Embedding built with padding_idx=0, under
SGD with momentum and weight decay: its first row (the padding row) is zeros, in the weights and in
the momentum buffer, so a look at the first elements alone tells nothing and must not clear it."""
import torch
from torch import nn

import freezelint
from freezelint.runtime.runner import compiled_graphs


def embedding_steps(zeroed: bool, padding_idx=0, steps=3):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(50, 32, padding_idx=padding_idx), nn.Flatten(), nn.Linear(4 * 32, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x, y = torch.randint(1, 50, (8, 4)), torch.randint(0, 2, (8,))
    with freezelint.watch(steps=steps) as w:
        for _ in range(steps):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            if zeroed:
                model[0].weight.grad.zero_()
            opt.step()
    return w.report


def test_an_embedding_with_a_padding_row_frozen_by_zeroing_its_grad_is_fz505():
    for padding_idx in (0, None):
        report = embedding_steps(True, padding_idx)
        [f] = report.findings
        assert (f.code, f.target) == ("FZ505", "0.weight"), (padding_idx, report.render_text())
        if compiled_graphs():  # another test compiled in this process: grads are counted at every step
            continue
        assert "SGD's momentum buffer is a multiple of the weights" in f.message, f.message
        assert [r.name for r in report.params if r.grad_zeroed] == ["0.weight"]


def test_an_embedding_with_a_padding_row_that_trains_is_clean():
    report = embedding_steps(False)
    assert report.ok and not any(r.grad_zeroed for r in report.params), report.render_text()
