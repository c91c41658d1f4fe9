"""What the runtime findings and notes say where the first wording was wrong or missed the cause:
a frozen Embedding with max_norm, tensors of no module, a BatchNorm with momentum=0, Parameters
swapped by load_state_dict(assign=True), a teacher's train() call."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import freezelint  # noqa: E402


# --- FZ501: a frozen Embedding built with max_norm renormalises the rows it looks up ---------------

class Clf(nn.Module):
    def __init__(self, bag: bool = False, max_norm: float | None = 1.0):
        super().__init__()
        table = torch.randn(100, 16) * 3  # rows well above max_norm
        kind = nn.EmbeddingBag if bag else nn.Embedding
        self.emb = kind.from_pretrained(table, freeze=True, max_norm=max_norm)
        self.head = nn.Linear(16, 2)

    def forward(self, ids):
        e = self.emb(ids)
        return self.head(e if isinstance(self.emb, nn.EmbeddingBag) else e.mean(1))


def _ids():
    return torch.randint(0, 100, (8, 6))


def _watched(model, steps_run=3, ema=None):
    opt = torch.optim.Adam(model.head.parameters(), lr=1e-3)
    with freezelint.watch() as w:
        for _ in range(steps_run):
            ids = _ids()
            loss = F.cross_entropy(model(ids), torch.randint(0, 2, (8,)))
            if ema is not None:
                with torch.no_grad():
                    loss = loss + 0 * ema(ids).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if ema is not None:
                with torch.no_grad():
                    for p, q in zip(model.parameters(), ema.parameters()):
                        q.mul_(0.9).add_(0.1 * p)
    return w.report


@pytest.mark.parametrize("bag", [False, True])
def test_a_frozen_embedding_with_max_norm_is_fz501_naming_the_cause_in_audit_and_watch(bag):
    torch.manual_seed(0)
    model = Clf(bag)
    audited = freezelint.audit(model, torch.optim.Adam(model.head.parameters()), batch=_ids(), exact=True)
    watched = _watched(model)
    kind = "EmbeddingBag" if bag else "Embedding"
    for report in (audited, watched):
        [f] = report.findings
        assert (f.code, f.target) == ("FZ501", "emb"), report.render_text()
        assert f.message.startswith("emb.weight: requires_grad=False, yet changed over 2 steps"), f.message
        assert (f"emb ({kind}, max_norm=1) renormalises the rows it looks up in place in every forward, frozen or "
                f"not") in f.message
        assert f.advice.startswith("build it with max_norm=None; if the vectors should be bounded, renormalise the "
                                   "table once before training (`with torch.no_grad(): emb.weight.copy_("
                                   "torch.renorm(emb.weight, 2, 0, 1))`)"), f.advice
    # one source of truth: the same words from the audit's synthetic steps and the loop's own (the audit,
    # which copied the weight, also sizes the change)
    a, b = audited.findings[0], watched.findings[0]
    assert (a.message.split("; ", 1)[1], a.advice) == (b.message.split("; ", 1)[1], b.advice)


def test_a_frozen_embedding_without_max_norm_stays_unchanged_and_clean():
    torch.manual_seed(0)
    report = _watched(Clf(max_norm=None))
    assert report.ok and not report.findings, report.render_text()


@pytest.mark.parametrize("inside", [False, True])
def test_an_ema_copy_with_a_max_norm_embedding_is_still_the_scripts_to_write(inside):
    # inside: the copy is a part of the judged model (SB3 keeps critic and critic_target in one policy)
    torch.manual_seed(0)
    student = Clf()
    student.emb.weight.requires_grad_(True)  # the student trains its table too
    ema = copy.deepcopy(student).requires_grad_(False)
    if inside:
        both = nn.Module()
        both.student, both.ema = student, ema
    opt = torch.optim.Adam(student.parameters(), lr=1e-3)
    with freezelint.watch() as w:
        for _ in range(3):
            ids = _ids()
            with torch.no_grad():
                target = ema(ids).softmax(-1)
            loss = F.cross_entropy(student(ids), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for p, q in zip(student.parameters(), ema.parameters()):
                    q.mul_(0.9).add_(0.1 * p)
    assert w.report.ok and not w.report.findings, w.report.render_text()
    if inside:
        assert "ema Clf · frozen · train · params changed 3/3" in w.report.render_text()
