"""Trial 35's watch findings: an lr=0 group a multiplying scheduler keeps at 0, expectations on
modules without parameters, the tree's optimizer field, and weights moved with a zero gradient."""
import torch
from torch import nn

import freezelint


def codes(report):
    return [f.code for f in report.findings]


def bn_steps(eval_bn: bool, **expect):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4, affine=False), nn.Linear(4, 2))
    if eval_bn:
        model[1].eval()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with freezelint.watch(**expect) as w:
        for _ in range(2):
            model(torch.randn(8, 4)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
    return w.report


def test_a_glob_naming_a_buffers_only_module_holds_where_its_buffers_stayed():
    for pattern in ("1*", "1"):
        report = bn_steps(True, expect_frozen=[pattern])
        assert report.ok, report.render_text()


def test_a_buffers_only_module_whose_buffers_moved_fails_expect_frozen():
    report = bn_steps(False, expect_frozen=["1*"])
    assert codes(report) == ["FZ506"], report.render_text()
    assert "names modules without parameters whose buffers changed: 1.running_mean" in report.findings[0].message


def test_expect_trainable_on_a_buffers_only_module_says_it_holds_no_parameters():
    report = bn_steps(True, expect_trainable=["1*"])
    assert [f.message for f in report.findings] == ["expect_trainable pattern names a module that holds no parameters"]
