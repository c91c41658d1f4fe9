"""`freezelint run --no-stop`: where watching fails in a later window, run exits 2 with one line, as
where it fails in the first; a hook's failure stops the script there, not left to train unwatched."""
import json

import pytest

from conftest import write

pytest.importorskip("torch")

SCRIPT = """
import torch, torch.nn as nn
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
model[0].requires_grad_(False)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(8):
    if step == 3:  # after the first window: the unfreeze opens a later one
        model[0].requires_grad_(True)
    loss = model(torch.randn(4, 4)).pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    print("step", step)
"""
LINE = "a later window, from step 4: before it, 2 parameters were newly trainable: "


def _fail_in_later_windows(monkeypatch, where: str):
    """Make watching fail in later windows only: in a step hook, or in the judging."""
    import freezelint.runtime.watch as watch_mod

    if where == "hook":
        note_lrs = watch_mod.Watch._note_lrs

        def broken(self, *args):
            if self.opened:
                raise RuntimeError("no reading today")
            return note_lrs(self, *args)

        monkeypatch.setattr(watch_mod.Watch, "_note_lrs", broken)
    else:
        judge = watch_mod.judge

        def broken(w):
            if w.opened:
                raise RuntimeError("no judging today")
            return judge(w)

        monkeypatch.setattr(watch_mod, "judge", broken)


def test_a_hook_failing_in_a_later_window_stops_the_script_with_exit_2(cli, tmp_path, monkeypatch):
    write(tmp_path / "train.py", SCRIPT)
    _fail_in_later_windows(monkeypatch, "hook")
    r = cli(tmp_path, "run", "--no-stop", "train.py")
    assert r.code == 2 and r.out.count("freeze audit: OK") == 1, r.out + r.err  # the first window's report
    assert r.err.strip().splitlines() == [f"freezelint: error: {LINE}watching failed: RuntimeError: no reading "
                                          f"today"], r.err
    assert "step 2" in r.out and "step 3" not in r.out  # stopped inside the later window's first step (its 4th)
    r = cli(tmp_path, "run", "--no-stop", "--format", "json", "train.py")
    doc = json.loads(r.out)
    assert r.code == 2 and (doc["ok"], doc["exit_code"], doc["later_windows"]) == (False, 2, []), r.err
    assert doc["error"] == f"{LINE}watching failed: RuntimeError: no reading today" and doc["steps"] == 2


def test_a_later_window_whose_judging_fails_is_exit_2_as_the_first_windows(cli, tmp_path, monkeypatch):
    write(tmp_path / "train.py", SCRIPT)
    _fail_in_later_windows(monkeypatch, "judging")
    r = cli(tmp_path, "run", "--no-stop", "train.py")
    assert r.code == 2 and r.out.count("freeze audit: OK") == 1 and "step 7" in r.out, r.out + r.err
    assert r.err.strip().splitlines() == [f"freezelint: error: {LINE}judging the watched steps failed: "
                                          f"RuntimeError: no judging today"], r.err


def test_without_a_failure_the_later_window_is_reported_and_the_exit_is_the_scripts(cli, tmp_path):
    write(tmp_path / "train.py", SCRIPT)
    r = cli(tmp_path, "run", "--no-stop", "train.py")
    assert r.code == 0 and r.out.count("freeze audit: OK") == 2 and r.err == "", r.out + r.err
