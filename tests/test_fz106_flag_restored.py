"""FZ106 where the flag is switched off and switched back in one function (`m.training = False`, run
`m`, `m.training = True`): fixing the second store alone to `m.train(True)` puts every submodule in
training even when the whole model runs in eval(), so Dropout stays on at inference. The pair is fixed
together, saving the mode first, never as safe (the restore gives every submodule the saved flag,
so one kept in eval() on purpose would train again), the same whether or not the rest of the project says
what `m` is; where the pair is ambiguous neither store gets a fix and the message says what to write."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest
import torch

from freezelint.check.engine import check_text

from conftest import write

ENCODER = """
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        return self.dropout(self.lin(x))
"""

SEQ = """

class Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()

    def forward(self, x):
        emb = self.encoder(x)
        # a second pass without noise
        self.encoder.training = False  # deterministic
        det = self.encoder(x)
        self.encoder.training = True
        return emb, det
"""

FIXED_FORWARD = """
    def forward(self, x):
        emb = self.encoder(x)
        # a second pass without noise
        was_training = self.encoder.training
        self.encoder.eval()  # deterministic
        det = self.encoder(x)
        self.encoder.train(was_training)
        return emb, det
"""

SOURCE = textwrap.dedent(ENCODER).lstrip() + textwrap.dedent(SEQ)


def fz106(text: str, fix: str | None = None):
    return check_text(text, "model.py", frozenset({"FZ106"}), fix=fix)


def run_model(text: str, mode: str) -> tuple[bool, bool, bool]:
    """Build the file's Seq in `mode` on real torch modules and call it twice: (outputs equal,
    the encoder's Dropout in training afterwards, the encoder in training afterwards)."""
    space: dict = {}
    exec(compile(text, "model.py", "exec"), space)
    torch.manual_seed(0)
    model = getattr(space["Seq"](), mode)()
    x = torch.ones(1, 8)
    a, _ = model(x)
    b, _ = model(x)
    return torch.equal(a, b), model.encoder.dropout.training, model.encoder.training


def test_the_fixed_pair_keeps_an_eval_model_deterministic_and_a_training_one_training():
    assert fz106(SOURCE, fix="safe").fixed == 0  # never applied as safe
    out = fz106(SOURCE, fix="unsafe")
    assert out.fixed == 2 and out.new_text is not None
    # as written: the flags below the encoder are left alone, but the encoder's own is set to True in eval()
    assert run_model(SOURCE, "eval") == (True, False, True)
    assert run_model(out.new_text, "eval") == (True, False, False)  # train(True) here leaked training mode
    same, dropout_on, encoder_on = run_model(out.new_text, "train")
    assert (same, dropout_on, encoder_on) == (False, True, True)
    # and the second pass really ran without dropout: det is the plain linear output
    space: dict = {}
    exec(compile(out.new_text, "model.py", "exec"), space)
    model = space["Seq"]().train()
    _, det = model(torch.ones(1, 8))
    assert torch.equal(det, model.encoder.lin(torch.ones(1, 8))) and model.encoder.dropout.training
    assert out.new_text == SOURCE.replace(textwrap.dedent(SEQ).split("    def forward")[1],
                                          FIXED_FORWARD.split("    def forward")[1])
    assert fz106(out.new_text).diagnostics == []


def test_both_findings_say_what_to_write_and_share_one_fix():
    found = fz106(SOURCE).diagnostics
    assert [(d.row, d.fix["applicability"]) for d in found] == [(22, "unsafe"), (24, "unsafe")]
    assert found[0].message.endswith(
        "; line 24 sets it back: save the mode and restore it, `was_training = self.encoder.training` and "
        "`self.encoder.eval()` here, `self.encoder.train(was_training)` at line 24")
    assert found[1].message.endswith(
        "; it sets back the flag set at line 22: save the mode and restore it, `was_training = "
        "self.encoder.training` and `self.encoder.eval()` at line 22, `self.encoder.train(was_training)` here; "
        "`self.encoder.train(True)` would put every submodule in training mode even when the model runs in "
        "eval mode")
    assert found[0].fix == found[1].fix


@pytest.mark.parametrize("newline,indent", [("\n", "    "), ("\r\n", "    "), ("\n", "\t"), ("\r\n", "\t")])
def test_the_fix_edits_applied_as_text_give_what_fix_writes(newline, indent):
    """The edits an editor applies (JSON, the language server): the first line becomes two, with the
    line's own indentation and the file's line ends."""
    source = SOURCE.replace("    ", indent).replace("\n", newline)
    edits = fz106(source).diagnostics[0].fix["edits"]
    assert [e["content"] for e in edits] == [f"was_training = self.encoder.training{newline}{indent * 2}"
                                             "self.encoder.eval()", "self.encoder.train(was_training)"]
    lines = source.splitlines(keepends=True)

    def at(loc: dict) -> int:
        return sum(len(x) for x in lines[: loc["row"] - 1]) + loc["column"] - 1

    text = source
    for e in sorted(edits, key=lambda e: at(e["location"]), reverse=True):
        text = text[: at(e["location"])] + e["content"] + text[at(e["end_location"]):]
    assert text == fz106(source, fix="unsafe").new_text


def test_the_same_safety_with_and_without_the_project(cli, tmp_path):
    """Checked with its package the encoder's class is known from the other file; checked alone
    only from how the file uses it. The pair's fix is unsafe both ways (it was safe only with the
    package, and then wrote `train(True)`)."""
    seq = "from pkg.layers import Encoder\nimport torch.nn as nn\n" + textwrap.dedent(SEQ)
    (tmp_path / "proj" / "pyproject.toml").parent.mkdir()
    (tmp_path / "proj" / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    write(tmp_path / "proj" / "pkg" / "__init__.py", "")
    write(tmp_path / "proj" / "pkg" / "layers.py", ENCODER)
    write(tmp_path / "proj" / "pkg" / "seq.py", seq)
    (tmp_path / "alone").mkdir()
    shutil.copy(tmp_path / "proj" / "pkg" / "seq.py", tmp_path / "alone" / "seq.py")

    def found(where: str) -> list[tuple[int, str, str]]:
        out = cli(tmp_path / where, "check", "--no-cache", "--select", "FZ106", "--format", "json", ".").out
        return [(d["location"]["row"], d["fix"]["applicability"], d["message"]) for d in json.loads(out)]

    with_project, alone = found("proj"), found("alone")
    assert [(row, safe) for row, safe, _ in with_project] == [(13, "unsafe"), (15, "unsafe")]
    assert [(row, safe) for row, safe, _ in alone] == [(13, "unsafe"), (15, "unsafe")]
    assert not any("is used as an nn.Module" in m for _, _, m in with_project)
    assert all(m.startswith("`self.encoder` is used as an nn.Module") for _, _, m in alone)
    cli(tmp_path / "proj", "check", "--no-cache", "--select", "FZ106", "--fix", "--unsafe-fixes", ".")
    cli(tmp_path / "alone", "check", "--no-cache", "--select", "FZ106", "--fix", "--unsafe-fixes", ".")
    assert (tmp_path / "proj" / "pkg" / "seq.py").read_text() == (tmp_path / "alone" / "seq.py").read_text()
    assert "self.encoder.train(was_training)" in (tmp_path / "alone" / "seq.py").read_text()


AMBIGUOUS = """
import torch.nn as nn


class Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5))

    def guarded(self, x):
        self.encoder.training = False
        try:
            return self.encoder(x)
        finally:
            self.encoder.training = True

    def twice(self, x):
        self.encoder.training = False
        a = self.encoder(x)
        self.encoder.training = True
        b = self.encoder(x)
        self.encoder.training = False
        c = self.encoder(x)
        self.encoder.training = True
        return a, b, c

    def resume(self):
        self.encoder.training = True  # no earlier switch in this function
"""


def test_an_ambiguous_pair_gets_no_fix_and_a_lone_restore_keeps_its_own():
    """Restored in a `finally` (another block), or switched twice: neither store of the pair gets
    a fix, since half of one would leave the other wrong. A lone `training = True` keeps `train(True)`."""
    text = textwrap.dedent(AMBIGUOUS).lstrip()
    found = [(d.row, d.fix and d.fix["applicability"], d.message.partition("keep theirs; ")[2])
             for d in fz106(text).diagnostics]
    assert found[:2] == [
        (10, None, "line 14 sets it back: save the mode and restore it, `was_training = self.encoder.training` "
                   "and `self.encoder.eval()` here, `self.encoder.train(was_training)` at line 14"),
        (14, None, "it sets back the flag set at line 10: save the mode and restore it, `was_training = "
                   "self.encoder.training` and `self.encoder.eval()` at line 10, `self.encoder.train(was_training)` "
                   "here; `self.encoder.train(True)` would put every submodule in training mode even when the "
                   "model runs in eval mode")]
    assert [(row, fix) for row, fix, _ in found[2:6]] == [(17, None), (19, None), (21, None), (23, None)]
    assert "the flag set at line 21" in found[5][2]
    assert found[6] == (27, "safe", "call `self.encoder.train(True)`")
    out = fz106(text, fix="unsafe")
    assert out.fixed == 1 and out.new_text == text.replace("        self.encoder.training = True  # no",
                                                           "        self.encoder.train(True)  # no")


def test_the_saved_name_is_one_the_function_does_not_use_and_a_reverse_pair():
    """`was_training` taken: `encoder_was_training`. Switched on for a while (`True` then `False`):
    `train()` then `train(saved)`, since `train(False)` would put a training model's submodules in eval."""
    text = textwrap.dedent("""
        import torch.nn as nn

        encoder = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5))


        def probe(x, was_training):
            encoder.training = True
            y = encoder(x)
            encoder.training = False
            return y, was_training
        """).lstrip()
    out = fz106(text, fix="unsafe")
    assert out.fixed == 2
    assert "    encoder_was_training = encoder.training\n    encoder.train()\n    y = encoder(x)\n" \
           "    encoder.train(encoder_was_training)\n" in out.new_text
    message = fz106(text).diagnostics[1].message
    assert message.endswith("`encoder.train(False)` would put every submodule in eval mode even when the model "
                            "runs in training mode")
    space: dict = {}
    exec(compile(out.new_text, "probe.py", "exec"), space)
    space["encoder"].eval()
    space["probe"](torch.ones(1, 8), None)
    assert not space["encoder"].training and not space["encoder"][1].training
