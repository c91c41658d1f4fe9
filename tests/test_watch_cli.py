"""`freezelint run`: a training script run in-process as __main__, judged and stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, run_subprocess, write

pytest.importorskip("torch")

SCRIPT = """
import sys
import torch
import torch.nn as nn

print("argv", sys.argv[1:], __name__)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
model[0].requires_grad_(False)
model[1].requires_grad_(False)
opt = torch.optim.SGD(model[3].parameters(), lr=0.1)
for i in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
    model.train()
    model[1].eval()
    if i == {fail_at}:
        raise ValueError("bad batch")
    model(torch.randn(5, 4)).pow(2).mean().backward()
    opt.step()
    opt.zero_grad()
open("finished.txt", "w").write("done")
"""


def script(tmp_path, fail_at: int = -1):
    return write(tmp_path / "train.py", SCRIPT.replace("{fail_at}", str(fail_at)))


def test_examples_real_loop_mistake_and_its_fixed_twin_exit_1_and_0(cli, tmp_path):
    bug = cli(tmp_path, "run", str(ROOT / "examples" / "watch" / "finetune_loop.py"))
    assert bug.code == 1, bug.err
    assert "FZ503 trainable-not-optimized [layer4]" in bug.out and "epoch 1" not in bug.out  # stopped
    fixed = cli(tmp_path, "run", str(ROOT / "examples" / "watch" / "finetune_loop_fixed.py"))
    assert fixed.code == 0, fixed.out + fixed.err
    assert fixed.out.startswith("freeze audit: OK — 2 steps")


def test_examples_unfreeze_at_epoch_1_is_caught_by_no_stop_in_a_later_window(cli, tmp_path):
    # the unfreeze after the first window (steps 1-2): only a later window can see it
    args = ("run", "--no-stop")
    bug = cli(tmp_path, *args, str(ROOT / "examples" / "watch" / "finetune_loop.py"), "--unfreeze-after", "3")
    assert bug.code == 1 and "epoch 1" in bug.out, bug.out + bug.err  # trained to the end
    first, later = bug.out.split("freeze audit:")[1:]
    assert first.startswith(" OK") and "FZ503 trainable-not-optimized [layer4]" in later
    assert "note: a later window, from step 4: before it, 15 parameters were newly trainable" in later
    fixed = cli(tmp_path, *args, str(ROOT / "examples" / "watch" / "finetune_loop_fixed.py"), "--unfreeze-after", "3")
    assert fixed.code == 0 and fixed.out.count("freeze audit: OK") == 2, fixed.out + fixed.err


def test_examples_distillation_teacher_left_in_train_mode_and_its_fixed_twin_exit_1_and_0(cli, tmp_path):
    bug = cli(tmp_path, "run", str(ROOT / "examples" / "watch" / "distill.py"))
    assert bug.code == 1, bug.out + bug.err
    assert "FZ502 frozen-stats-changed [20 modules] teacher.bn1" in bug.out and "step 2" not in bug.out
    fixed = cli(tmp_path, "run", str(ROOT / "examples" / "watch" / "distill_fixed.py"))
    assert fixed.code == 0, fixed.out + fixed.err
    assert "freeze audit: OK — 2 steps" in fixed.out and "teacher ResNet · frozen · eval" in fixed.out


def test_script_runs_as_main_with_its_arguments_and_stops_after_the_window(cli, tmp_path):
    script(tmp_path)
    r = cli(tmp_path, "run", "train.py", "5", "--steps", "9", "-m", "x")  # after the script: the script's
    assert r.code == 0, r.err
    assert "argv ['5', '--steps', '9', '-m', 'x'] __main__" in r.out and "freeze audit: OK — 2 steps" in r.out
    assert not (tmp_path / "finished.txt").exists()


def test_no_stop_lets_training_finish_and_prints_the_report_once(cli, tmp_path):
    script(tmp_path)
    r = cli(tmp_path, "run", "--no-stop", "--steps", "1", "train.py", "4")
    assert r.code == 0 and r.out.count("freeze audit: OK — 1 step") == 1, r.out + r.err
    assert (tmp_path / "finished.txt").exists()


def test_a_report_that_cannot_be_written_is_exit_2_and_checked_before_the_run(cli, tmp_path):
    # A CI gate must not pass without its report: a missing folder is refused before the script
    # runs; a write that fails after it (here: a folder where the file should be) is exit 2 too.
    script(tmp_path)
    r = cli(tmp_path, "run", "-o", str(tmp_path / "nowhere" / "r.json"), "train.py")
    assert r.code == 2 and "no such directory" in r.err and "argv" not in r.out, r.out + r.err
    (tmp_path / "taken").mkdir()
    r = cli(tmp_path, "run", "-o", str(tmp_path / "taken"), "train.py")
    assert r.code == 2 and "cannot write" in r.err, r.out + r.err


def test_a_script_that_swallows_the_stop_runs_on_and_says_so(cli, tmp_path):
    write(tmp_path / "train.py", SCRIPT.replace("{fail_at}", "-1").replace(
        "    opt.step()\n", "    try:\n        opt.step()\n    except:  # noqa: E722\n        print('skipped')\n"))
    r = cli(tmp_path, "run", "train.py", "4")
    assert r.code == 0 and "caught the stop" in r.err and "skipped" in r.out, r.out + r.err
    assert (tmp_path / "finished.txt").exists()  # it ran on to its end


def test_module_form_json_output_file_and_expectations(cli, tmp_path):
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "train.py", SCRIPT.replace("{fail_at}", "-1"))
    r = cli(tmp_path, "run", "--format", "json", "-o", "report.json", "--expect-trainable", "0",
            "--expect-frozen", "3", "-m", "pkg.train", "3", "--format", "text")
    assert r.code == 1, r.err
    assert "argv ['3', '--format', 'text'] __main__" in r.out
    report = json.loads((tmp_path / "report.json").read_text())
    assert [f["code"] for f in report["findings"]] == ["FZ506", "FZ506"]
    assert {f["target"] for f in report["findings"]} == {"0", "3"}


def test_a_report_file_is_never_cut_and_the_tree_shows_where_frozen_parameters_in_the_optimizer_are(cli, tmp_path):
    write(tmp_path / "train.py", """
import torch
import torch.nn as nn

class AVeryLongModuleNameThatNeedsTheWholeLineAndMoreOfItThanAnyTerminalHas(nn.Module):
    def __init__(self):
        super().__init__()
        self.frozen_part_with_a_long_name_that_goes_on_and_on_and_on = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
        self.an_equally_long_attribute_name_for_the_head_that_trains = nn.Linear(4, 2)

    def forward(self, x):
        return self.an_equally_long_attribute_name_for_the_head_that_trains(
            self.frozen_part_with_a_long_name_that_goes_on_and_on_and_on(x))

model = AVeryLongModuleNameThatNeedsTheWholeLineAndMoreOfItThanAnyTerminalHas()
opt = torch.optim.AdamW(model.parameters(), lr=0.1)
for i in range(4):
    if i == 1:  # frozen after a first step: AdamW keeps their moments, and zeroed grads reach them
        model.frozen_part_with_a_long_name_that_goes_on_and_on_and_on.requires_grad_(False)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    opt.zero_grad(set_to_none=False)
""")
    r = cli(tmp_path, "run", "--steps", "3", "-o", "report.txt", "train.py")
    text = (tmp_path / "report.txt").read_text()
    assert r.code == 1 and "FZ504" in text, r.err + text
    lines = text.splitlines()
    assert max(map(len, lines)) > 160 and any("trainable params in the optimizer" in line and "head_that_trains" in line for line in lines)
    # FZ504's target names the frozen part and its param group; in the tree, the module holding its
    # parameters carries the mark, on one line
    part = "frozen_part_with_a_long_name_that_goes_on_and_on_and_on"
    assert f"FZ504 frozen-in-optimizer [{part} in param_groups[0]]" in text
    (held,) = [line for line in lines if f"{part} " in line and not line.lstrip().startswith(("FZ", "note:"))]
    assert held.endswith("◀"), text


def test_a_failure_in_a_module_the_script_imports_names_that_line_too(cli, tmp_path):
    """The script's line, and the line of the user's own module below it where the error was
    raised; a library's frames (torch's) are not named."""
    write(tmp_path / "fl_failing_helpers" / "__init__.py", "def check(x):\n    raise ValueError('bad shape')\n")
    write(tmp_path / "train.py", """
import torch
from fl_failing_helpers import check
m = torch.nn.Linear(2, 2)
opt = torch.optim.SGD(m.parameters(), lr=0.1)
m(torch.randn(1, 2)).sum().backward()
opt.step()
if len(__import__("sys").argv) > 1:
    m(torch.randn(1, 3))
check(m)
""")
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 2 and r.err.strip() == ("freezelint: error: train.py raised ValueError: bad shape at train.py:9, "
                                             "in fl_failing_helpers/__init__.py:2 after 1 of 2 optimizer steps")
    r = cli(tmp_path, "run", "train.py", "torch")
    assert r.code == 2 and "(1x3 and 2x2) at train.py:8 after 1 of 2" in r.err, r.err


def test_script_that_fails_or_ends_before_the_window_is_exit_2_with_one_line(cli, tmp_path):
    script(tmp_path, fail_at=1)
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 2
    assert r.err.strip() == "freezelint: error: train.py raised ValueError: bad batch at train.py:15 after 1 of 2 " \
                            "optimizer steps"
    script(tmp_path)
    r = cli(tmp_path, "run", "--steps", "5", "train.py", "3")
    assert r.code == 2 and r.err.strip() == ("freezelint: error: train.py ended after 3 of 5 optimizer steps; run it "
                                             "for more steps, or watch fewer (--steps 3)")
    write(tmp_path / "exits.py", "import sys\nsys.exit(3)\n")
    r = cli(tmp_path, "run", "exits.py")
    assert r.code == 2 and "exits.py exited with status 3 after 0 of 2 optimizer steps (no optimizer step" in r.err


def test_bad_usage_is_one_line_and_exit_2(cli, tmp_path):
    for args, text in [(("run",), "run needs a script"), (("run", "missing.py"), "no such file: missing.py"),
                       (("run", "-m", "no_such_module_here"), "no module named 'no_such_module_here'"),
                       (("run", "--steps", "0", "x.py"), "--steps must be at least 1")]:
        r = cli(tmp_path, *args)
        assert r.code == 2 and text in r.err and len(r.err.strip().splitlines()) == 1, (args, r.err)


def ending(tmp_path, end: str, where=None):
    """The script with `end` after its training loop (reached only with --no-stop), in `where`."""
    return write((where or tmp_path) / "train.py", SCRIPT.replace("{fail_at}", "-1") + end + "\n")


@pytest.mark.parametrize("end, code, note", [
    ("sys.exit(3)", 3, ("freezelint: note: train.py exited with status 3 after a clean window; its status is the "
                        "exit code")),
    ("raise RuntimeError('disk full')", 1, ("freezelint: note: train.py raised RuntimeError: disk full at "
                                            "train.py:20 after a clean window; its status is the exit code")),
    ("sys.exit('disk full')", 1, ("disk full\nfreezelint: note: train.py exited with status 1 after a clean window; "
                                  "its status is the exit code")),
    ("sys.exit(0)", 0, ""), ("sys.exit(None)", 0, ""), ("sys.exit()", 0, ""), ("pass", 0, ""),
])
def test_no_stop_exits_with_the_scripts_own_status_after_a_clean_window(cli, tmp_path, end, code, note):
    # as `python train.py` (and `coverage run`) would exit; the report is printed all the same
    ending(tmp_path, end)
    r = cli(tmp_path, "run", "--no-stop", "--steps", "1", "train.py")
    assert r.code == code and r.out.count("freeze audit: OK — 1 step") == 1, r.out + r.err
    assert r.err.strip() == note
    assert (tmp_path / "finished.txt").exists()


def test_no_stop_findings_are_1_whatever_the_script_exits_with(cli, tmp_path):
    for end in ("sys.exit(3)", "raise RuntimeError('disk full')", "sys.exit(0)"):
        ending(tmp_path, end)
        r = cli(tmp_path, "run", "--no-stop", "--steps", "1", "--expect-frozen", "3", "train.py")
        assert r.code == 1 and "freeze audit: 1 finding" in r.out and "FZ506" in r.out, (end, r.out + r.err)
        assert ("the exit code is 1 for the findings" in r.err) == (end != "sys.exit(0)"), (end, r.err)


def test_without_no_stop_the_scripts_end_is_never_reached(cli, tmp_path):
    ending(tmp_path, "sys.exit(3)")
    r = cli(tmp_path, "run", "--steps", "1", "train.py")
    assert r.code == 0 and r.err == "" and not (tmp_path / "finished.txt").exists(), r.out + r.err


def test_ignore_and_select_decide_what_counts_and_ignored_findings_stay_listed(cli, tmp_path):
    script(tmp_path)
    expect = ("--expect-frozen", "3")
    for opts, code in [((), 1), (("--ignore", "FZ506"), 0), (("--ignore", "FZ505,FZ1"), 1),
                       (("--select", "FZ503"), 0), (("--select", "FZ5"), 1), (("--ignore", "fz50"), 0),
                       (("--select", "FZ201"), 0)]:  # a --select given to run means what it says
        r = cli(tmp_path, "run", *opts, *expect, "train.py")
        assert r.code == code and "FZ506 expectation-failed [3]" in r.out, (opts, r.out + r.err)
        assert ("freeze audit: OK (1 ignored)" in r.out and "(ignored)" in r.out) == (code == 0), (opts, r.out)
    r = cli(tmp_path, "run", "--no-stop", "--ignore", "FZ506", "--format", "json", *expect, "train.py", "2")
    report = json.loads(r.out)
    assert r.code == 0 and report["ok"] and report["findings"][0]["ignored"], r.out + r.err


def test_an_unknown_code_or_a_bad_config_is_one_line_before_the_script_runs(cli, tmp_path):
    script(tmp_path)
    for opts, text in [(("--ignore", "FZ999"), "unknown rule selector 'FZ999'"),
                       (("--select", "F5"), "unknown rule selector 'F5'"),
                       (("--config", "none.toml"), "config file not found: none.toml")]:
        r = cli(tmp_path, "run", *opts, "train.py")
        assert r.code == 2 and text in r.err and len(r.err.strip().splitlines()) == 1, (opts, r.err)
        assert "argv" not in r.out, opts
    write(tmp_path / "pyproject.toml", "[tool.freezelint]\nignore = ['FZ5O6']\n")
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 2 and "unknown rule selector 'FZ5O6'" in r.err and "argv" not in r.out, r.out + r.err
    write(tmp_path / "pyproject.toml", "[tool.freezelint]\nignor = ['FZ506']\n")
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 2 and "unknown key in [tool.freezelint]: ignor" in r.err and "argv" not in r.out, r.err


def test_the_config_above_the_script_applies_and_flags_layer_over_it(cli, tmp_path):
    proj = tmp_path / "proj"
    ending(tmp_path, "", where=proj)
    write(tmp_path / "other" / "pyproject.toml", "[tool.freezelint]\nignore = ['FZ506']\n")
    r = cli(tmp_path / "other", "run", "--expect-frozen", "3", str(proj / "train.py"))
    assert r.code == 1, r.out + r.err  # the cwd's config is not the script's
    write(proj / "pyproject.toml", "[tool.freezelint]\nignore = ['FZ506']\n")
    r = cli(tmp_path / "other", "run", "--expect-frozen", "3", str(proj / "train.py"))
    assert r.code == 0 and "FZ506" in r.out and "(ignored)" in r.out, r.out + r.err
    r = cli(tmp_path, "run", "--select", "FZ506", "--expect-frozen", "3", "proj/train.py")
    assert r.code == 1, r.out + r.err  # --select starts afresh, as in check
    r = cli(tmp_path, "run", "--config", "other/pyproject.toml", "--expect-frozen", "3", "proj/train.py")
    assert r.code == 0, r.out + r.err
    write(proj / "pyproject.toml", "[tool.freezelint]\nselect = ['FZ1', 'FZ2', 'FZ3']\nextend-select = ['FZ506']\n")
    r = cli(tmp_path, "run", "--expect-frozen", "3", "proj/train.py")
    assert r.code == 1, r.out + r.err
    # a selection written for check (static codes only) does not switch off what only a run finds
    write(proj / "pyproject.toml", "[tool.freezelint]\nselect = ['FZ1', 'FZ2', 'FZ3']\n")
    r = cli(tmp_path, "run", "--expect-frozen", "3", "proj/train.py")
    assert r.code == 1 and "(ignored)" not in r.out, r.out + r.err
    write(proj / "pyproject.toml", "[tool.freezelint]\nselect = ['FZ1', 'FZ2', 'FZ3']\nignore = ['FZ506']\n")
    r = cli(tmp_path, "run", "--expect-frozen", "3", "proj/train.py")
    assert r.code == 0 and "(ignored)" in r.out, r.out + r.err
    write(proj / "pyproject.toml", "[tool.freezelint]\nselect = ['FZ1', 'FZ501']\n")  # names a run-only code
    r = cli(tmp_path, "run", "--expect-frozen", "3", "proj/train.py")
    assert r.code == 0 and "(ignored)" in r.out, r.out + r.err


def test_module_form_reads_the_config_of_the_cwd(cli, tmp_path):
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "train.py", SCRIPT.replace("{fail_at}", "-1"))
    r = cli(tmp_path, "run", "--expect-frozen", "3", "-m", "pkg.train")
    assert r.code == 1, r.out + r.err
    write(tmp_path / "pyproject.toml", "[tool.freezelint]\nignore = ['FZ506']\n")
    r = cli(tmp_path, "run", "--expect-frozen", "3", "-m", "pkg.train")
    assert r.code == 0 and "(ignored)" in r.out, r.out + r.err


CHATTY = SCRIPT.replace("{fail_at}", "-1").replace("    opt.step()\n", "    opt.step()\n    print('step', i)\n")


def test_json_to_stdout_is_the_json_alone_the_scripts_prints_go_to_stderr(cli, tmp_path):
    import sys

    write(tmp_path / "train.py", CHATTY)
    stdout = sys.stdout
    for opts in [(), ("--no-stop",)]:
        r = cli(tmp_path, "run", *opts, "--format", "json", "train.py", "4")
        assert r.code == 0 and json.loads(r.out)["ok"], r.out + r.err
        assert "argv ['4'] __main__" in r.err and "step 0" in r.err, r.err
        assert ("step 3" in r.err) == bool(opts), r.err  # --no-stop ran to the end
    assert sys.stdout is stdout  # given back
    r = cli(tmp_path, "run", "train.py")  # text: the prints stay where they were
    assert r.code == 0 and "step 0" in r.out and "freeze audit: OK" in r.out and r.err == "", r.out + r.err


def test_the_report_goes_to_the_stdout_of_before_the_script_whatever_the_script_does_to_it(cli, tmp_path):
    import sys

    stdout, stderr = sys.stdout, sys.stderr
    # the script sends its prints to a log, then closes it: the report still reaches stdout
    write(tmp_path / "train.py", "import sys\nsys.stdout = open('log.txt', 'w')\n" + CHATTY)
    r = cli(tmp_path, "run", "--no-stop", "train.py", "3")
    assert r.code == 0 and "freeze audit: OK" in r.out, r.out + r.err
    assert "step 0" in (tmp_path / "log.txt").read_text() and "freeze audit" not in (tmp_path / "log.txt").read_text()
    # JSON: a script that closes its stdout (stderr, for the run) neither closes stderr nor loses the report
    write(tmp_path / "train.py", CHATTY + "sys.stdout.close()\nprint('after', file=sys.stderr)\n")
    r = cli(tmp_path, "run", "--no-stop", "--format", "json", "train.py", "3")
    assert r.code == 0 and json.loads(r.out)["ok"] and "after" in r.err, r.out + r.err
    assert sys.stdout is stdout and sys.stderr is stderr


def test_json_to_stdout_in_a_real_process_holds_child_and_descriptor_writes_off_stdout(tmp_path):
    # a child process and sys.__stdout__ write to descriptor 1, not through sys.stdout
    write(tmp_path / "train.py", CHATTY.replace("    print('step', i)\n", "    print('step', i)\n"
                                                "    os.system('echo child says ' + str(i))\n"
                                                "    sys.__stdout__.write('raw %d\\n' % i)\n").replace(
        "import sys\n", "import os, sys\n") + "print('bye')\nsys.exit(3)\n")
    r = run_subprocess(tmp_path, "run", "--no-stop", "--steps", "1", "--format", "json", "train.py", "3")
    assert r.code == 3 and json.loads(r.out)["ok"], r.out + r.err
    for text in ("argv ['3']", "step 2", "child says 0", "child says 2", "raw 1", "bye",
                 "train.py exited with status 3 after a clean window"):
        assert text in r.err, (text, r.err)
    r = run_subprocess(tmp_path, "run", "--format", "json", "train.py", "3")
    assert r.code == 0 and json.loads(r.out)["steps"] == 2 and "child says 0" in r.err, r.out + r.err


def test_a_script_that_ends_before_every_optimizer_completed_the_window_says_so(cli, tmp_path):
    # the critic steps every iteration, the generator every other: 4 iterations give it 2 of 3 steps
    write(tmp_path / "train.py", "import torch\nimport torch.nn as nn\n"
                                 "g, c = nn.Linear(2, 4), nn.Linear(4, 1)\n"
                                 "opt_g, opt_c = torch.optim.Adam(g.parameters()), torch.optim.SGD(c.parameters(), lr=0.1)\n"
                                 "for it in range(4):\n"
                                 "    c(g(torch.randn(3, 2)).detach()).mean().backward(); opt_c.step(); opt_c.zero_grad()\n"
                                 "    if it % 2:\n"
                                 "        c(g(torch.randn(3, 2))).mean().backward(); opt_g.step(); opt_g.zero_grad()\n")
    r = cli(tmp_path, "run", "--steps", "3", "train.py")
    # the steps seen are clean, but that is no verdict on 3 steps of each: 2, as for a script that
    # ends before the window, the report saying so too
    assert r.code == 2 and "freeze audit: OK" in r.out, r.out + r.err
    # named as the script names them, though it had ended when the window was judged
    assert "note: the watch ended before every optimizer had completed 3 steps (opt_c 4, opt_g 2)" in r.out, r.out
    assert "opt_c: SGD + opt_g: Adam" in r.out and "(2 models: g, c)" in r.out, r.out
    assert r.err == ("freezelint: note: train.py ended before every optimizer had completed 3 steps (opt_c 4, opt_g 2); "
                     "the report is of the steps seen; exit 2: lower --steps or train longer\n"), r.err
    # findings in the steps seen are findings: 1 (the critic's first layer left out of its optimizer)
    write(tmp_path / "train.py", (tmp_path / "train.py").read_text().replace(
        "c = nn.Linear(2, 4), nn.Linear(4, 1)", "c = nn.Linear(2, 4), nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))")
        .replace("SGD(c.parameters()", "SGD(c[1].parameters()"))
    r = cli(tmp_path, "run", "--steps", "3", "train.py")
    assert r.code == 1 and "FZ503" in r.out and r.err.endswith("the report is of the steps seen\n"), r.out + r.err


METHOD_LOOP = """
import json
import os
import sys
import types
import torch
import torch.nn as nn

class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU())
        self.head = nn.Linear(8, 2)

    def loss(self, x):  # the loop calls this, never forward
        return self.head(self.backbone(x)).pow(2).mean()

def train(cfg, opt, iters=4):
    for _ in range(iters):
        cfg.train.model.loss(torch.randn(5, 4)).backward()
        opt.step()
        opt.zero_grad()

def main():
    torch.manual_seed(0)
    cfg = types.SimpleNamespace(train=types.SimpleNamespace(model=Detector()))
    {model}
    cfg.train.model.backbone.requires_grad_(False)
    cfg.train.model.backbone[1].eval()
    with torch.no_grad():
        cfg.train.model.backbone(torch.randn(5, 4))  # a look at the features before training
    opt = torch.optim.SGD(cfg.train.model.head.parameters(), lr=0.1)
    if os.environ.get("WATCH_GIVEN"):
        import freezelint
        with freezelint.watch(model=cfg.train.model, expect_frozen="backbone") as w:
            train(cfg, opt)
        sys.stdout.write(json.dumps(w.report.to_dict(), default=str))
    else:
        train(cfg, opt)

main()
"""


def method_loop(tmp_path, visible: bool):
    """A loop calling `model.loss(x)`; the model in a variable of main(), or only in a config
    object two attributes down (nothing the watch looks at by itself names it)."""
    return write(tmp_path / "train.py", METHOD_LOOP.replace("{model}", "model = cfg.train.model" if visible else ""))


def test_a_loop_calling_a_method_of_the_model_is_judged_as_the_model_under_its_own_names(cli, tmp_path):
    method_loop(tmp_path, visible=True)
    r = cli(tmp_path, "run", "--expect-frozen", "backbone", "--expect-trainable", "head", "--format", "json",
            "train.py")
    assert r.code == 0, r.out + r.err
    assert {p["name"] for p in json.loads(r.out)["params"]} == {
        "backbone.0.weight", "backbone.0.bias", "backbone.1.weight", "backbone.1.bias", "head.weight", "head.bias"}


def test_model_names_the_model_as_watch_model_would(cli, tmp_path):
    method_loop(tmp_path, visible=False)
    unnamed = cli(tmp_path, "run", "--expect-frozen", "backbone", "train.py")
    assert unnamed.code == 1 and "FZ506" in unnamed.out  # the parts, by class: `backbone` names none of them
    named = cli(tmp_path, "run", "--model", "cfg.train.model", "--expect-frozen", "backbone", "--format", "json",
                "train.py")
    assert named.code == 0, named.out + named.err
    # the same script wrapping its loop in watch(model=...) itself: the same report
    p = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "WATCH_GIVEN": "1", "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr
    ran, watched = json.loads(named.out), json.loads(p.stdout)
    for report in (ran, watched):
        report.pop("extra_bytes")
    assert ran.pop("all_findings") == [{**f, "window": 0} for f in watched["findings"]]  # every window's, in run
    assert ran.pop("exit_code") == 0  # the process's status, which run's document holds and a report has not
    assert ran == watched


def test_model_not_found_or_not_a_module_is_one_line_and_exit_2_at_the_first_step(cli, tmp_path):
    script(tmp_path)
    for args, text in [(("--model", "nope"), "--model nope: train.py has no variable 'nope' at its first optimizer "
                                             "step"),
                       (("--model", "model.nope"), "--model model.nope: model (Sequential) has no attribute 'nope'"),
                       (("--model", "opt"), "--model opt: not an nn.Module but SGD"),
                       (("--no-stop", "--model", "i"), "--model i: not an nn.Module but int"),  # stops too
                       (("--model", "model[0]"), "--model takes a variable name or a dotted path (trainer.model), got "
                                                 "'model[0]'")]:
        r = cli(tmp_path, "run", *args, "train.py")
        assert r.code == 2 and r.err.strip() == f"freezelint: error: {text}", (args, r.err)
        assert not (tmp_path / "finished.txt").exists(), args
    r = cli(tmp_path, "run", "--model", "model", "train.py")
    assert r.code == 0 and "freeze audit: OK" in r.out, r.err


DEEPLAB = """
import torch
import torch.nn as nn
from torchvision.models import resnet18


class Seg(nn.Module):  # pytorch-deeplab-xception's shape: --freeze-bn puts BatchNorm in eval() in __init__
    def __init__(self, freeze_bn=False):
        super().__init__()
        self.backbone = resnet18(weights=None)
        self.backbone.fc = nn.Identity()
        self.head = nn.Linear(512, 3)
        if freeze_bn:
            self.freeze_bn()

    def forward(self, x):
        return self.head(self.backbone(x))

    def freeze_bn(self):
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()


torch.manual_seed(0)
model = Seg(freeze_bn=True)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
for epoch in range(3):
    model.train()
    {refreeze}
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 3, (4,))
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
"""


def test_an_eval_only_bn_freeze_in_init_that_the_epoch_loop_undoes_is_fz201_and_its_fixed_twin_ok(cli, tmp_path):
    write(tmp_path / "train.py", DEEPLAB.replace("{refreeze}", "pass"))
    bug = cli(tmp_path, "run", "train.py")
    assert bug.code == 1, bug.out + bug.err
    assert bug.out.splitlines()[1].startswith(
        "  FZ201 train-undoes-bn-freeze [20 modules] backbone.bn1, backbone.layer1.0.bn1, backbone.layer1.0.bn2 and "
        "17 more were put in eval() to keep their running statistics (their weight and bias left to train)")
    write(tmp_path / "train.py", DEEPLAB.replace("{refreeze}", "model.freeze_bn()  # after every train()"))
    fixed = cli(tmp_path, "run", "train.py")
    assert fixed.code == 0 and fixed.out.startswith("freeze audit: OK — 2 steps"), fixed.out + fixed.err


PART_TRAIN = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.backbone(x).flatten(1))


torch.manual_seed(0)
model = Net()
model.backbone.requires_grad_(False)
model.backbone.eval()  # the freeze
optimizer = torch.optim.SGD(model.head.parameters(), lr=0.1)
for epoch in range(3):
    {train}
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 3, (4,))
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
"""


def test_fz201_names_the_scripts_train_of_a_part_and_its_fixed_twin_is_ok(cli, tmp_path):
    write(tmp_path / "train.py", PART_TRAIN.replace("{train}", "model.backbone.train()"))
    bug = cli(tmp_path, "run", "train.py")
    assert bug.code == 1, bug.out + bug.err
    assert bug.out.splitlines()[1].startswith(
        "  FZ201 train-undoes-bn-freeze [backbone.1] backbone.1 was in eval() to freeze running statistics, but "
        "backbone.train(), called at train.py:21, switched it back and the statistics moved"), bug.out
    write(tmp_path / "train.py", PART_TRAIN.replace("{train}", "model.train()"))
    whole = cli(tmp_path, "run", "train.py")
    assert whole.code == 1 and "but model.train(), called at train.py:21, switched it back" in whole.out
    write(tmp_path / "train.py", PART_TRAIN.replace("{train}", "model.train(); model.backbone.eval()"))
    fixed = cli(tmp_path, "run", "train.py")
    assert fixed.code == 0 and fixed.out.startswith("freeze audit: OK — 2 steps"), fixed.out + fixed.err


REBUILT_OPTIMIZER = """
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
backbone, head = model[:2], model[3]
x, y = torch.randn(8, 4), torch.randn(8, 2)
steps = 0
for epoch in range(3):
    if epoch == 0:
        backbone.requires_grad_(False)
        EVAL
        optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
    elif epoch == 1:
        backbone.requires_grad_(True)
        backbone.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(2 if epoch == 0 else 5):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        steps += 1
        print("steps seen", steps)
"""


@pytest.mark.parametrize("kept_in_eval", [False, True])
def test_a_script_that_rebuilds_its_optimizer_at_an_epoch_boundary_is_stopped_and_judged(cli, tmp_path, kept_in_eval):
    # (gradual unfreezing, a new optimizer over the whole model): the first one,
    # dropped after 2 steps, no longer keeps the window open to the script's end
    write(tmp_path / "train.py", REBUILT_OPTIMIZER.replace("EVAL", "backbone[1].eval()" if kept_in_eval else "pass"))
    r = cli(tmp_path, "run", "--steps", "3", "train.py")
    assert "steps seen 3" in r.out and "steps seen 4" not in r.out, r.out + r.err  # stopped in its 4th step
    assert "ended before" not in r.err and "took over" in r.out, r.out + r.err
    if kept_in_eval:
        assert r.code == 0 and "freeze audit: OK" in r.out, r.out + r.err
    else:  # the frozen backbone's BatchNorm drifted in train mode before the unfreeze
        assert r.code == 1 and "FZ502" in r.out and "frozen until step 3 of 3" in r.out, r.out + r.err


SPAWNING = """
import torch, torch.nn as nn
import torch.multiprocessing as mp


def train(rank):
    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        model(torch.randn(5, 4)).sum().backward()
        opt.step()
        opt.zero_grad()


if __name__ == "__main__":
    mp.spawn(train, nprocs=1)
"""


def test_training_in_spawned_processes_is_exit_2_naming_why_no_step_was_seen(tmp_path):
    # Lightning's ddp_spawn and mp.spawn train in children this process cannot watch
    write(tmp_path / "train.py", SPAWNING)
    r = run_subprocess(tmp_path, "run", "train.py")
    assert r.code == 2, r.out + r.err
    assert "after 0 of 2 optimizer steps (no optimizer step was observed: the training ran in processes that " \
        "torch.multiprocessing started" in r.err and "launch with torchrun" in r.err, r.err
    write(tmp_path / "idle.py", "import torch\nprint('no training')\n")  # near miss: nothing spawned
    r = run_subprocess(tmp_path, "run", "idle.py")
    assert r.code == 2 and "(no optimizer step was observed)" in r.err, r.err


def test_an_optimizer_over_tensors_of_no_module_is_one_line_with_the_clis_option(cli, tmp_path):
    write(tmp_path / "fit.py", """
        import torch

        w = torch.zeros(3, requires_grad=True)
        opt = torch.optim.SGD([w], lr=0.1)
        for _ in range(4):
            loss = (w - torch.ones(3)).pow(2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    """)
    r = cli(tmp_path, "run", "fit.py")
    assert r.code == 2 and r.err.strip() == (
        "freezelint: error: no module holding the stepped optimizer's parameters was found (no module's forward "
        "ran between its steps: the tensors it steps may belong to no nn.Module, with nothing to judge): pass "
        "--model NAME"), r.err


STAGE_2 = """
import torch
import torch.nn as nn

torch.manual_seed(0)
a, b = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)), nn.Linear(4, 2)
oa = torch.optim.Adam(a.parameters(), lr=0.1)
saved = torch.load("stage1.pt")
a.load_state_dict(saved["a"])
oa.load_state_dict(saved["oa"])  # stage 1's weights and Adam state
a.requires_grad_(False)  # stage 2: a frozen, oa no longer stepped
{eval}
ob = torch.optim.SGD(b.parameters(), lr=0.1)
for it in range(4):
    ob.zero_grad()
    b(a(torch.randn(8, 4))).sum().backward()
    ob.step()
    print("stage 2 step", it + 1)
"""


def test_a_stage_2_script_whose_resumed_optimizer_holds_only_frozen_parameters_is_judged_at_its_steps(cli, tmp_path):
    # the first window of `freezelint run` (the script's first steps): oa, loaded with its state and
    # never stepped, does not hold it open; `a` is judged frozen: its drifting BatchNorm is FZ502
    import torch
    from torch import nn

    a = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    oa = torch.optim.Adam(a.parameters(), lr=0.1)
    a(torch.randn(8, 4)).sum().backward()
    oa.step()
    torch.save({"a": a.state_dict(), "oa": oa.state_dict()}, tmp_path / "stage1.pt")
    note = ("note: oa did not step in the window and holds only frozen parameters, which it had trained before the "
            "window (their optimizer state or grads remain): the window did not wait for it")
    write(tmp_path / "train.py", STAGE_2.replace("{eval}", ""))
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 1 and "FZ502 frozen-stats-changed [a.1]" in r.out and note in r.out, r.out + r.err
    assert "stage 2 step 1" in r.out and "stage 2 step 2" not in r.out  # stopped in ob's second step
    write(tmp_path / "train.py", STAGE_2.replace("{eval}", "a.eval()"))
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 0 and "freeze audit: OK — 2 steps" in r.out and note in r.out, r.out + r.err
    assert "train longer" not in r.out and "stage 2 step 2" not in r.out
    r = cli(tmp_path, "run", "--no-stop", "train.py")
    assert r.code == 0 and note in r.out and "stage 2 step 4" in r.out, r.out + r.err


def test_no_stop_with_model_frees_the_model_and_optimizer_the_script_drops_after_the_window(cli, tmp_path):
    write(tmp_path / "train.py", """
        import gc
        import weakref
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1))
        opt = torch.optim.Adam(model.parameters(), lr=0.1)
        for _ in range(3):
            model(torch.randn(8, 4)).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
        refs = [weakref.ref(model), weakref.ref(opt)]
        del model, opt  # the next stage builds its own
        gc.collect()
        print("freed", [r() is None for r in refs])
    """)
    r = cli(tmp_path, "run", "--no-stop", "--model", "model", "train.py")
    assert r.code == 0 and "freed [True, True]" in r.out, r.out + r.err


def test_every_json_document_run_writes_has_the_exit_code_the_process_exits_with(cli, tmp_path):
    # a CI step that keeps only the JSON (an artifact, `jq`) reads the verdict the process gave
    frozen = ("--expect-frozen", "3")
    cases = [((), "pass", 0, True), (frozen, "pass", 1, False),  # clean, findings (stopped)
             (("--no-stop",), "sys.exit(3)", 3, True),  # the script's own status after a clean window
             (("--no-stop",), "raise RuntimeError('disk full')", 1, True),
             (("--no-stop", *frozen), "sys.exit(3)", 1, False),  # findings win over the script's status
             (("--steps", "9"), "pass", 2, False)]  # ended before the window closed: the error document
    for opts, end, code, ok in cases:
        ending(tmp_path, end)
        steps = () if "--steps" in opts else ("--steps", "1")
        for out in ((), ("-o", str(tmp_path / "report.json"))):
            r = cli(tmp_path, "run", *steps, *opts, "--format", "json", *out, "train.py")
            doc = json.loads((tmp_path / "report.json").read_text() if out else r.out)
            assert (r.code, doc["exit_code"], doc["ok"]) == (code, code, ok), (opts, end, out, r.err)


def test_script_sees_argv0_and_file_as_python_gives_them(cli, tmp_path):
    """argv[0] is the path as typed (`python sub/args.py` gives `sub/args.py`), `__file__` is absolute
    (Python 3.9 and later), and the script's annotations are not this package's `from __future__`."""
    write(tmp_path / "sub" / "args.py", """
        import sys

        def f(x: int) -> None: ...

        print("seen", repr(sys.argv[0]), repr(__file__), f.__annotations__["x"] is int, sys.argv[1:])
    """)
    python = subprocess.run([sys.executable, os.path.join("sub", "args.py"), "a"], cwd=tmp_path,
                            capture_output=True, text=True, check=True).stdout
    here = os.path.realpath(tmp_path)  # the cwd python makes __file__ absolute from
    seen = f"seen {os.path.join('sub', 'args.py')!r} {os.path.join(here, 'sub', 'args.py')!r} True ['a']"
    assert python.splitlines() == [seen]
    r = cli(tmp_path, "run", os.path.join("sub", "args.py"), "a")
    assert r.code == 2 and r.out.splitlines() == [seen], r.out + r.err  # no optimizer: exit 2, after its print


def test_a_zip_a_directory_and_a_pyc_run_as_python_runs_them(cli, tmp_path):
    """What `python` runs besides a source file: a zip or a directory with a __main__.py (its module
    beside it importable from the zip or directory), a .pyc: argv[0], `__file__` and sys.path[0] as
    python gives them, and the training in them watched."""
    import py_compile
    import zipfile

    main = """
        import sys
        import helper
        print("seen", repr(sys.argv[0]), repr(__file__), repr(sys.path[0]), sys.argv[1:])
        helper.train()
    """
    helper = """
        import torch, torch.nn as nn

        def train():
            model = nn.Linear(4, 2)
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            for _ in range(3):
                model(torch.randn(5, 4)).pow(2).mean().backward()
                opt.step()
                opt.zero_grad()
    """
    write(tmp_path / "app" / "__main__.py", main)
    write(tmp_path / "app" / "helper.py", helper)
    with zipfile.ZipFile(tmp_path / "app.zip", "w") as z:
        for name in ("__main__.py", "helper.py"):
            z.write(tmp_path / "app" / name, name)
    write(tmp_path / "helper.py", helper)  # the .pyc's import: from its folder, as python finds it
    py_compile.compile(str(tmp_path / "app" / "__main__.py"), cfile=str(tmp_path / "main.pyc"))
    for target in ("app.zip", "app", "main.pyc"):
        python = subprocess.run([sys.executable, target, "x"], cwd=tmp_path, capture_output=True, text=True,
                                check=True).stdout
        assert python.startswith(f"seen {target!r} "), python
        r = cli(tmp_path, "run", target, "x")
        assert r.code == 0 and r.out.splitlines()[0] == python.strip(), (target, python, r.out + r.err)
        assert "2 steps" in r.out, r.out
    (tmp_path / "empty").mkdir()
    r = cli(tmp_path, "run", "empty")
    assert r.code == 2 and r.err.startswith("freezelint: error: empty is a directory with no __main__.py"), r.err


def test_script_through_a_linked_folder_keeps_the_link_in_file_and_the_real_folder_on_sys_path(cli, tmp_path):
    write(tmp_path / "real" / "p.py", "import sys\nprint(__file__, sys.path[0])\n")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    python = subprocess.run([sys.executable, os.path.join("link", "p.py")], cwd=tmp_path, capture_output=True,
                            text=True, check=True).stdout
    here = os.path.realpath(tmp_path)
    assert python == f"{os.path.join(here, 'link', 'p.py')} {os.path.join(here, 'real')}\n"
    r = cli(tmp_path, "run", os.path.join("link", "p.py"))
    assert r.out == python, r.out + r.err
