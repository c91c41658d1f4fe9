"""FZ113 at run time: a module whose `train` or `eval` was overwritten with a value."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from freezelint import audit  # noqa: E402
from freezelint.runtime.errors import AuditUsageError  # noqa: E402
from freezelint.runtime.findings import live_findings  # noqa: E402


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.body(x))


def _model():
    torch.manual_seed(0)
    model = Net()
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def test_audit_names_fz113_in_one_line_instead_of_torchs_type_error():
    model, opt = _model()
    model.head.train = False
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(AuditUsageError) as raised:
        audit(model, opt, batch=torch.randn(4, 4))
    text = str(raised.value)
    assert "\n" not in text
    assert text.startswith("FZ113: `train` on head, a Linear, was overwritten with False, so model.train() raises "
                           "TypeError")
    assert "call `.train(False)`" in text and "call_train=False" in text
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # refused before any step
    assert vars(model.head)["train"] is False  # nothing undone behind the user's back


def test_audit_without_its_own_train_reports_the_finding():
    model, opt = _model()
    model.head.train = False
    model.body.eval = True
    report = audit(model, opt, batch=torch.randn(4, 4), call_train=False)
    found = {(f.code, f.target) for f in report.findings if f.code == "FZ113"}
    assert found == {("FZ113", "head"), ("FZ113", "body")}
    head = next(f for f in report.findings if f.code == "FZ113" and f.target == "head")
    assert head.message.startswith("`train` on this Linear was overwritten with False instead of being called, so its "
                                "mode stayed as it was")
    assert "call `.train(False)`" in head.advice
    assert not report.ok


def test_an_overwritten_eval_alone_lets_the_audit_run_and_is_reported():
    model, opt = _model()
    model.head.eval = True  # breaks model.head.eval() only: the audit's model.train() still works
    report = audit(model, opt, batch=torch.randn(4, 4))
    assert [f.target for f in report.findings if f.code == "FZ113"] == ["head"]


def test_a_callable_over_train_is_a_monkeypatch_not_a_finding():
    model, opt = _model()
    model.body[1].train = lambda mode=True: nn.Module.train(model.body[1], False)  # keep BN in eval
    assert [f for f in live_findings(list(model.named_modules()), []) if f.code == "FZ113"] == []


def test_the_watch_reports_it_with_its_findings():
    import freezelint

    model, opt = _model()
    model.body.train = False  # the loop below never calls model.train(): nothing raises, the mode never changed
    with freezelint.watch() as w:
        for _ in range(4):
            model(torch.randn(4, 4)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    (report,) = w.reports
    assert [(f.code, f.target) for f in report.findings if f.code == "FZ113"] == [("FZ113", "body")], \
        report.render_text()


def test_the_cli_refusal_says_what_a_command_line_user_can_do(tmp_path, cli):
    """`freezelint audit` has no call_train: its line names what the command line offers instead."""
    from conftest import write

    write(tmp_path / "probe.py", """
        import torch, torch.nn as nn

        def make():
            model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
            model[2].train = False
            return model, torch.optim.SGD(model.parameters(), lr=0.1), torch.randn(4, 4)
    """)
    r = cli(tmp_path, "audit", "probe.py:make")
    assert r.code == 2 and r.out == "" and r.err.count("\n") == 1, r.err
    assert r.err.startswith("freezelint: error: FZ113: `train` on 2, a Linear, was overwritten with False"), r.err
    assert "call_train" not in r.err
    assert "fix it in the model the factory builds, or gate the real loop with `freezelint run`" in r.err
