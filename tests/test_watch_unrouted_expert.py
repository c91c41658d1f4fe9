"""An MoE expert no token was routed to, under a dense dispatch (every expert runs, a 0/1 mask picks
one output per token): autograd hands it an all-zero gradient, which weight decay moves past, as it
does a `p.grad.zero_()` after backward. The step cannot tell the two apart: the finding names both
readings and, for a member of a ModuleList, advises watching more steps."""
import torch
from torch import nn

import freezelint
from freezelint.runtime.runner import compiled_graphs


class DenseMoE(nn.Module):
    def __init__(self):
        super().__init__()
        self.router = nn.Linear(16, 4)
        self.experts = nn.ModuleList(nn.Linear(16, 16) for _ in range(4))
        with torch.no_grad():
            self.router.bias.copy_(torch.tensor([0.0, 0.0, 0.0, -50.0]))  # expert 3 is never picked

    def forward(self, x):
        pick = self.router(x).argmax(-1)
        outs = torch.stack([e(x) for e in self.experts], 1)
        return (outs * nn.functional.one_hot(pick, 4).float().unsqueeze(-1)).sum(1)


def moe_steps(make_opt, steps=3):
    torch.manual_seed(0)
    model = nn.Sequential(DenseMoE(), nn.Linear(16, 2))
    opt = make_opt(model.parameters())
    x, y = torch.randn(8, 16), torch.randint(0, 2, (8,))
    with freezelint.watch(steps=steps) as w:
        for _ in range(steps):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    return w.report


def test_an_unrouted_expert_moved_by_weight_decay_is_worded_for_routing_and_for_a_zeroed_grad():
    for make_opt in (lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, weight_decay=1e-4),
                     lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1)):
        report = moe_steps(make_opt)
        [f] = [f for f in report.findings if f.target == "0.experts.3"]
        assert f.code == "FZ505", report.render_text()
        if compiled_graphs():  # another test compiled in this process: grads are counted at every step
            continue
        assert "either the loss did not reach them in these steps" in f.message, f.message
        assert "as an expert no token was routed to under a dense mask" in f.message, f.message
        assert "`p.grad.zero_()`" in f.message and "which looks the same at the step" in f.message, f.message
        assert f.advice.startswith("if they are an expert or a head picked per step, watch more steps "
                                   "(`freezelint run --steps N`, `watch(steps=N)`)"), f.advice
        assert "freeze them with `requires_grad_(False)`" in f.advice, f.advice


def test_a_grad_zeroed_outside_a_module_list_is_not_advised_to_watch_more_steps():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, weight_decay=1e-2)
    with freezelint.watch(steps=3) as w:
        for _ in range(3):
            opt.zero_grad()
            nn.functional.cross_entropy(model(torch.randn(8, 8)), torch.randint(0, 2, (8,))).backward()
            for p in model[0].parameters():
                p.grad.zero_()
            opt.step()
    [f] = w.report.findings
    assert (f.code, f.target) == ("FZ505", "0"), w.report.render_text()
    if not compiled_graphs():
        assert "or something zeroes their gradient after backward (`p.grad.zero_()`" in f.message, f.message
        assert f.advice.startswith("if they are meant to stay frozen"), f.advice
