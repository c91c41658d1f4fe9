"""FZ112: a model deep-copied after it was frozen whole, and the copy trained (a public distillation
script: the student is `copy.deepcopy(teacher)` with a new head, so only the head trains)."""

from __future__ import annotations

import textwrap

import pytest

from freezelint.check.engine import check_source

SCRIPT = textwrap.dedent("""
    import copy

    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4)).eval()
    teacher.requires_grad_(False)


    def make_student(teacher):
        student = copy.deepcopy(teacher)
        student[2] = nn.Linear(4, 8)
        return student


    student = make_student(teacher)
    before = student[0].weight.detach().clone()
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-2)
    for _ in range(3):
        x = torch.randn(2, 4)
        with torch.no_grad():
            target = teacher(x)
        loss = nn.functional.mse_loss(student(x)[:, :4], target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
""")


def test_a_copy_through_a_helper_is_reported_and_torch_shows_the_body_frozen():
    [d] = check_source(SCRIPT, "train.py", select=["FZ112"])
    assert d.row == 18 and d.message.startswith(
        "`student = make_student(teacher)` copies `teacher` after it was frozen (frozen at line 9)")
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(compile(SCRIPT, "train.py", "exec"), ns)
    student = ns["student"]
    assert not student[0].weight.requires_grad and torch.equal(ns["before"], student[0].weight)  # never trained
    assert student[2].weight.requires_grad  # the new head alone trains


@pytest.mark.parametrize("change", [
    ("teacher.requires_grad_(False)\n\n", "\n\n"),  # never frozen
    ("student = make_student(teacher)\n", "student = make_student(teacher)\nstudent.requires_grad_(True)\n"),
    ("    return student\n", "    student.requires_grad_(True)\n    return student\n"),
    ("optimizer = torch.optim.AdamW(student.parameters(), lr=1e-2)\n", "optimizer = None\n"),  # not trained
    # the name holds another, trainable model by the copy
    ("student = make_student(teacher)\n", "teacher = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))\n"
                                          "student = make_student(teacher)\n"),
])
def test_near_misses(change):
    old, new = change
    assert old in SCRIPT
    assert check_source(SCRIPT.replace(old, new), "train.py", select=["FZ112"]) == []


def test_a_copy_moved_to_a_device_is_the_same_copy():
    moved = SCRIPT.replace("student = make_student(teacher)\n", "student = make_student(teacher).to('cpu')\n")
    [d] = check_source(moved, "train.py", select=["FZ112"])
    assert d.message.startswith("`student = make_student(teacher).to('cpu')` copies `teacher` after it was frozen")
