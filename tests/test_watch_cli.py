"""`freezelint run`: a training script run in-process as __main__, judged and stopped."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, write

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


def test_script_that_fails_or_ends_before_the_window_is_exit_2_with_one_line(cli, tmp_path):
    script(tmp_path, fail_at=1)
    r = cli(tmp_path, "run", "train.py")
    assert r.code == 2
    assert r.err.strip() == "freezelint: error: train.py raised ValueError: bad batch at train.py:15 after 1 of 2 " \
                            "optimizer steps"
    script(tmp_path)
    r = cli(tmp_path, "run", "--steps", "5", "train.py", "3")
    assert r.code == 2 and r.err.strip() == "freezelint: error: train.py ended after 3 of 5 optimizer steps"
    write(tmp_path / "exits.py", "import sys\nsys.exit(3)\n")
    r = cli(tmp_path, "run", "exits.py")
    assert r.code == 2 and "exits.py exited with status 3 after 0 of 2 optimizer steps (no optimizer step" in r.err


def test_bad_usage_is_one_line_and_exit_2(cli, tmp_path):
    for args, text in [(("run",), "run needs a script"), (("run", "missing.py"), "no such file: missing.py"),
                       (("run", "-m", "no_such_module_here"), "no module named 'no_such_module_here'"),
                       (("run", "--steps", "0", "x.py"), "--steps must be at least 1")]:
        r = cli(tmp_path, *args)
        assert r.code == 2 and text in r.err and len(r.err.strip().splitlines()) == 1, (args, r.err)


def test_no_stop_script_failing_after_the_window_prints_the_report_and_exits_2(cli, tmp_path):
    script(tmp_path, fail_at=2)
    r = cli(tmp_path, "run", "--no-stop", "--steps", "1", "train.py")
    assert r.code == 2 and "freeze audit: OK — 1 step" in r.out
    assert r.err.strip() == "freezelint: error: train.py raised ValueError at train.py:15 after the watched window"
