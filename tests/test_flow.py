"""The flow layer's event lists: optimizer builds know the name they are assigned to, and
continue/break arms of a loop body are ordered as the loop runs them."""
from __future__ import annotations

import textwrap

import libcst as cst

from freezelint.check.facts import Facts
from freezelint.check.flow import OPT_BUILD, after, between, flows_of


def _flow(source: str, func: str):
    facts = Facts.of(cst.parse_module(textwrap.dedent(source)))
    return next(f for f in flows_of(facts).bodies if f.scope.kind == "function" and f.scope.func_name == func)


def _event(flow, code: str):
    return next(e for e in flow.events if cst.Module(body=[]).code_for_node(e.node).startswith(code))


def test_an_optimizer_build_knows_its_name_direct_or_through_a_helper():
    flow = _flow("""
        import torch

        def make(model):
            return torch.optim.SGD(model.parameters(), lr=0.1)

        def fit(model, head):
            opt = torch.optim.AdamW(model.parameters())
            other = make(head)
            opt, sched = torch.optim.SGD(model.parameters(), lr=1), None
        """, "fit")
    assert [e.detail.get("name") for e in flow.events if e.kind == OPT_BUILD] == ["opt", "other", None]


LOOP = """
    def fit(model, loader, epochs, freeze_bn, step):
        for epoch in range(epochs):
            step(model)
            if epoch < 3:
                model.train()
                continue
            freeze_bn(model)
            if epoch > 8:
                model.eval()
                break
            model.head.requires_grad_(False)
        model.requires_grad_(True)
    """


def test_continue_and_break_arms_in_the_order_the_loop_runs_them():
    flow = _flow(LOOP, "fit")
    train, run, frozen_bn = _event(flow, "model.train"), _event(flow, "step(model)"), _event(flow, "freeze_bn")
    evaluate, head, whole = _event(flow, "model.eval"), _event(flow, "model.head"), _event(flow, "model.requires_grad_")
    # continue: the rest of the body is skipped in this iteration, not in the next one
    assert after(train, frozen_bn) and after(train, run)
    assert frozen_bn not in between(flow, train, run)  # straight back to the loop's head
    # break: nothing of the loop runs after it; what follows the loop does, skipping the rest of the body
    assert not after(evaluate, head) and not after(evaluate, run) and after(evaluate, whole)
    assert head not in between(flow, evaluate, whole)
    assert after(head, evaluate) and after(run, train)  # an arm still follows the iteration before it


def test_a_continue_in_a_nested_loop_or_a_loop_else_is_its_own_loop():
    flow = _flow("""
        def fit(model, loader, epochs, step):
            for epoch in range(epochs):
                for x in loader:
                    if x is None:
                        model.eval()
                        break
                    step(model)
                model.train()
        """, "fit")
    evaluate, run, train = _event(flow, "model.eval"), _event(flow, "step(model)"), _event(flow, "model.train")
    assert after(evaluate, train) and after(evaluate, run)  # the outer loop comes back to the inner one
    assert not any(e is run for e in between(flow, evaluate, train))
