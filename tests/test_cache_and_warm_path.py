"""The cache never replays what the code or the file no longer says; the warm path reads nothing
it need not; explicit FZ001 parses every file (issue 18 points 7, 8; issue 16 point 3)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import BAD_MODULE, ROOT, write

from freezelint.check import cache as cache_mod
from freezelint.check import prefilter, runner

OLD = 10**9 * (int(time.time()) - 3600)  # an hour ago: metadata old enough to be trusted


def _age(path, ns=OLD):
    os.utime(path, ns=(ns, ns))


@pytest.fixture
def spy(monkeypatch):
    """Which files were read and which were checked by the engine in the last runs."""
    seen = {"read": [], "process": []}
    real_read, real_process = runner._read, runner.process
    monkeypatch.setattr(runner, "_read", lambda p: seen["read"].append(os.path.basename(p)) or real_read(p))
    monkeypatch.setattr(runner, "process",
                        lambda p, *a, **k: seen["process"].append(os.path.basename(p)) or real_process(p, *a, **k))
    return seen


# ------------------------------------------------------------------ point 7: cache keys
def test_source_digest_follows_the_package_sources(tmp_path, monkeypatch):
    copy = tmp_path / "freezelint"
    shutil.copytree(prefilter.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    monkeypatch.setattr(prefilter, "PACKAGE", copy)
    monkeypatch.setattr(prefilter, "RULES_DIR", copy / "check" / "rules")
    monkeypatch.setattr(prefilter, "GATES_FILE", copy / "check" / "gates.py")
    prefilter._digests.cache_clear()
    try:
        before = prefilter._digests()
        assert prefilter._digests() is before  # computed once per process
        rule = copy / "check" / "rules" / "fz102_requires_grad_on_module.py"
        rule.write_text(rule.read_text() + "\n# edited\n")
        prefilter._digests.cache_clear()
        edited = prefilter._digests()
        assert edited[0] != before[0] and edited[1] != before[1]
        # a module outside rules/ that a text gate is built from (FZ202's factory pattern) counts
        # for the gate table too; other checker code only for the cache keys
        for rel, both in (("whole_model.py", True), ("flow.py", False)):
            src = copy / "check" / rel
            src.write_text(src.read_text() + "\n# edited\n")
            prefilter._digests.cache_clear()
            now = prefilter._digests()
            assert now[0] != edited[0] and (now[1] != edited[1]) == both, rel
            edited = now
        # code that cannot change a finding (the auditor) is not part of it
        prefilter._digests.cache_clear()
        (copy / "runtime" / "report.py").write_text("# edited\n")
        assert prefilter._digests() == edited
    finally:
        prefilter._digests.cache_clear()


def test_edited_checker_code_does_not_replay_cached_findings(cli, tmp_path, monkeypatch, spy):
    write(tmp_path / "a.py", BAD_MODULE)
    first = cli(tmp_path, "check", "--format", "json", "a.py").out
    assert spy["process"] == ["a.py"]
    assert cli(tmp_path, "check", "--format", "json", "a.py").out == first and spy["process"] == ["a.py"]
    # the same file and selection under other checker code: another key, checked again
    monkeypatch.setattr(cache_mod, "source_digest", lambda: "an-edited-install")
    assert cli(tmp_path, "check", "--format", "json", "a.py").out == first
    assert spy["process"] == ["a.py", "a.py"]


def test_a_file_saved_during_the_run_is_cached_under_the_bytes_checked(cli, tmp_path, monkeypatch):
    f = write(tmp_path / "a.py", BAD_MODULE)  # FZ102 on line 3
    saved = "# saved while the run was going on\n" + f.read_text()  # FZ102 on line 4
    real = runner._needs_parse

    def save_after_main_read(data, selected):
        f.write_text(saved)  # the main process read the old bytes; the worker reads these
        return real(data, selected)

    monkeypatch.setattr(runner, "_needs_parse", save_after_main_read)
    r = cli(tmp_path, "check", "--format", "json", "a.py")
    assert [d["location"]["row"] for d in json.loads(r.out)] == [4]  # what is on disk now
    monkeypatch.setattr(runner, "_needs_parse", real)
    # back to the old bytes: their findings, not the saved file's
    f.write_text(BAD_MODULE.lstrip("\n"))
    r = cli(tmp_path, "check", "--format", "json", "a.py")
    assert [d["location"]["row"] for d in json.loads(r.out)] == [3]


# ------------------------------------------------------------- issue 16.3: warm path
def test_warm_run_decides_unchanged_files_from_metadata(cli, tmp_path, spy):
    for name in ("a.py", "b.py"):
        _age(write(tmp_path / name, BAD_MODULE if name == "a.py" else "x = 1\n"))
    first = cli(tmp_path, "check", "--format", "json", ".").out
    assert sorted(spy["read"]) == ["a.py", "a.py", "b.py"]  # main process, then the worker for a.py
    spy["read"].clear()
    assert cli(tmp_path, "check", "--format", "json", ".").out == first
    assert spy["read"] == []  # neither file was opened


def test_changed_metadata_falls_back_to_the_content_key(cli, tmp_path, spy):
    f = write(tmp_path / "a.py", BAD_MODULE)
    _age(f)
    first = cli(tmp_path, "check", "--format", "json", "a.py").out
    spy["read"].clear(), spy["process"].clear()
    _age(f, OLD + 10**9)  # touched, same bytes
    assert cli(tmp_path, "check", "--format", "json", "a.py").out == first
    assert spy["read"] == ["a.py"] and spy["process"] == []  # read and hashed, not checked again
    spy["read"].clear()
    assert cli(tmp_path, "check", "--format", "json", "a.py").out == first and spy["read"] == []
    # new bytes, same size: metadata differs (mtime), so they are checked
    f.write_text(BAD_MODULE.lstrip("\n").replace("layer", "lazer"))
    _age(f, OLD + 2 * 10**9)
    r = json.loads(cli(tmp_path, "check", "--format", "json", "a.py").out)
    assert spy["process"] == ["a.py"] and "`lazer`" in r[0]["message"]


def test_just_written_files_are_not_trusted_by_metadata(cli, tmp_path, spy):
    write(tmp_path / "a.py", BAD_MODULE)  # mtime: now, within the racy window
    cli(tmp_path, "check", "a.py")
    spy["read"].clear()
    cli(tmp_path, "check", "a.py")
    assert spy["read"] == ["a.py"]  # a save in the same clock tick could hide behind equal metadata


def _imported(tmp_path, modules: tuple[str, ...], *args: str, env: dict | None = None) -> set[str]:
    """Which of `modules` a `freezelint` run with `args` imported, in a fresh process."""
    code = ("import sys; from freezelint.cli import main; main(sys.argv[1:]); "
            f"print('IMPORTED', *[m for m in {modules!r} if m in sys.modules])")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **(env or {})}
    p = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True,
                       env=env, timeout=120, check=True)
    return set(p.stdout.strip().splitlines()[-1].split()[1:])


def _imports_libcst(tmp_path, *args: str) -> bool:
    return "libcst" in _imported(tmp_path, ("libcst",), *args)


def test_libcst_is_imported_only_when_a_file_needs_parsing(tmp_path):
    write(tmp_path / "plain.py", "import os\nprint(os.getcwd())\n")
    write(tmp_path / "bad.py", BAD_MODULE)
    assert not _imports_libcst(tmp_path, "check", "--no-cache", "plain.py")
    assert _imports_libcst(tmp_path, "check", "--no-cache", "bad.py")
    # warm: the finding (and its source line) comes from the cache, nothing is parsed
    assert _imports_libcst(tmp_path, "check", "bad.py")
    assert not _imports_libcst(tmp_path, "check", "bad.py")


@pytest.mark.parametrize("fmt", ["text", "concise"])
@pytest.mark.parametrize("color", [{}, {"NO_COLOR": "", "FORCE_COLOR": "1"}])
def test_a_warm_run_with_findings_imports_neither_libcst_nor_rich(tmp_path, fmt, color):
    # rich's import alone was a quarter of a warm re-check of timm + torchvision
    write(tmp_path / "bad.py", BAD_MODULE)
    _imported(tmp_path, (), "check", "--exit-zero", "bad.py")
    assert _imported(tmp_path, ("libcst", "rich"), "check", "--exit-zero", "--format", fmt, "bad.py",
                     env=color) == set()


def test_generated_gate_table_is_fresh():
    assert prefilter.GATES_FILE.read_text() == prefilter.render_table(), (
        "freezelint/check/gates.py is stale: run `python3 -m freezelint rules --markdown rules/`")
    from freezelint.check import gates

    assert gates.GATES == prefilter._gates_from_rules()


def test_rules_markdown_regenerates_a_stale_gate_table(cli, tmp_path, monkeypatch):
    table = tmp_path / "gates.py"
    table.write_text("RULES_DIGEST = 'stale'\nGATES = {}\n")
    monkeypatch.setattr(prefilter, "GATES_FILE", table)
    r = cli(tmp_path, "rules", "--markdown", "pages")
    assert r.code == 0 and f"wrote {table}" in r.out
    assert table.read_text() == prefilter.render_table()
    assert str(table) not in cli(tmp_path, "rules", "--markdown", "pages").out  # fresh: left alone


def test_stale_gate_table_falls_back_to_the_rules(monkeypatch):
    from freezelint.check import gates

    monkeypatch.setattr(gates, "RULES_DIGEST", "stale")
    monkeypatch.setattr(gates, "GATES", {})
    prefilter.gates.cache_clear()
    try:
        assert prefilter.gates() == prefilter._gates_from_rules()
    finally:
        prefilter.gates.cache_clear()


# ------------------------------------------------------- point 8: explicit FZ001 / ALL
@pytest.mark.parametrize("flags", [("--select", "FZ001"), ("--select", "ALL"), ("--extend-select", "fz001")])
def test_explicit_fz001_parses_files_without_freezing_vocabulary(cli, tmp_path, flags):
    write(tmp_path / "broken.py", "x = (\n")
    r = cli(tmp_path, "check", *flags, "broken.py")
    assert r.code == 1 and "broken.py:1:5: FZ001" in r.out and "All checks passed" not in r.out


def test_default_still_skips_files_without_freezing_vocabulary(cli, tmp_path, spy):
    write(tmp_path / "broken.py", "x = (\n")
    r = cli(tmp_path, "check", "broken.py")  # CPython's parser reports it; libcst never sees it
    assert r.code == 1 and "broken.py:1:5: FZ001" in r.out and spy["process"] == []
    r = cli(tmp_path, "check", "--select", "FZ1", "broken.py")  # FZ001 whatever is selected, still unparsed
    assert r.code == 1 and "broken.py:1:5: FZ001" in r.out and spy["process"] == []


def test_explicit_fz001_is_cached_apart_from_the_default(cli, tmp_path, spy):
    write(tmp_path / "broken.py", "x = (\n")
    assert cli(tmp_path, "check", "broken.py").code == 1
    assert cli(tmp_path, "check", "--select", "ALL", "broken.py").code == 1
    assert spy["process"] == ["broken.py"]  # --select ALL: libcst's parse too, under its own key
    assert cli(tmp_path, "check", "broken.py").code == 1


def test_fz001_page_says_when_every_file_is_parsed():
    page = (ROOT / "rules" / "FZ001.md").read_text()
    assert "--select FZ001" in page and "--select ALL" in page and "never given to libcst" in page


def test_select_all_parses_every_file_but_runs_only_admitted_rules(cli, tmp_path, monkeypatch):
    from freezelint.check import engine

    ran = []
    real = engine.run_rules
    monkeypatch.setattr(engine, "run_rules", lambda module, rules, *a, **k: ran.append([r.code for r in rules])
                        or real(module, rules, *a, **k))
    write(tmp_path / "plain.py", "x = 1\n")
    r = cli(tmp_path, "check", "--no-cache", "--select", "ALL", "plain.py")
    assert r.code == 0 and ran == [[]]  # parsed (FZ001 would show), no rule had anything to look at


# ------------------------------------------------------- project admission, and what it read
_BN = """
import torch.nn as nn


def setup_layers(model):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
"""
_QUIET_EPOCH = "def run_epoch(model, loader):\n    for x in loader:\n        model(x)\n"
_TRAINING_EPOCH = "def run_epoch(model, loader):\n    model.train()\n    for x in loader:\n        model(x)\n"


def _admission_project(root, main: str):
    write(root / "pyproject.toml", "")
    write(root / "bn.py", _BN)
    write(root / "engine.py", _QUIET_EPOCH)
    write(root / "main.py", main)
    for p in root.glob("*.py"):
        _age(p)


def _codes(cli, root, *args):
    r = cli(root, "check", "--format", "json", *args)
    assert r.code in (0, 1), r.err
    return sorted((d["filename"], d["location"]["row"], d["code"]) for d in json.loads(r.out))


def _start_training(root):
    (root / "engine.py").write_text(_TRAINING_EPOCH)
    _age(root / "engine.py", OLD + 10**9)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_skipped_file_is_checked_again_when_the_helpers_it_calls_start_acting(cli, tmp_path, jobs):
    # main.py names no freezing word and calls nothing that acts yet: skipped, and cached so
    _admission_project(tmp_path, "from steps import prepare, run\nfrom zoo import make\n\n"
                                 "model = make()\nprepare(model)\nfor epoch in range(3):\n"
                                 "    run(model, [])\n")
    write(tmp_path / "steps.py", "def prepare(model):\n    return model\n\n\n" + _QUIET_EPOCH.replace("run_epoch", "run"))
    _age(tmp_path / "steps.py")
    for i in range(runner.POOL_MIN_FILES + 2):  # enough files that the pool starts with --jobs 2
        write(tmp_path / f"f{i}.py", "from zoo import make\n\nmake(1)\n")
    assert _codes(cli, tmp_path, "--jobs", jobs, ".") == []
    assert _codes(cli, tmp_path, "--jobs", jobs, ".") == []  # warm
    # main.py is unchanged; what it calls now freezes BatchNorm, then trains after the freeze
    (tmp_path / "steps.py").write_text(_BN.replace("setup_layers", "prepare") + "\n\n"
                                       + _TRAINING_EPOCH.replace("run_epoch", "run"))
    _age(tmp_path / "steps.py", OLD + 10**9)
    assert _codes(cli, tmp_path, "--jobs", jobs, ".") == [("main.py", 7, "FZ201")]


def test_an_admitted_file_is_checked_again_when_a_quiet_callee_starts_training(cli, tmp_path):
    # admitted through setup_layers (a BN freeze); run_epoch does nothing yet, and is a dependency
    _admission_project(tmp_path, "from bn import setup_layers\nfrom engine import run_epoch\nfrom zoo import make\n\n"
                                 "model = make()\nsetup_layers(model)\nfor epoch in range(3):\n"
                                 "    run_epoch(model, [])\n")
    assert _codes(cli, tmp_path, ".") == []
    assert _codes(cli, tmp_path, ".") == []
    _start_training(tmp_path)
    assert _codes(cli, tmp_path, ".") == [("main.py", 8, "FZ201")]


def test_admission_of_a_plain_importer_does_not_import_libcst(tmp_path):
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "plain.py", "from os.path import join\n\nprint(join('a', 'b'))\n")
    assert not _imports_libcst(tmp_path, "check", "--no-cache", "plain.py")


def test_a_file_saved_after_the_runner_read_it_is_judged_on_the_bytes_the_worker_read(tmp_path):
    from freezelint.check.project import Project
    from freezelint.config import load

    write(tmp_path / "pyproject.toml", "")
    f = write(tmp_path / "main.py", BAD_MODULE)  # now triggered: a freeze on a Module
    selected = load(cwd=tmp_path).selected()
    project = Project(tmp_path)
    # the runner saw other bytes (key "old"), in which no rule's trigger fired
    r = runner.process(str(f), None, selected, None, keyed=True, project=project, ask=(["zoo.make"], "old"))
    assert r.parsed and [d.code for d in r.diagnostics] == ["FZ102"]
    # same bytes as the runner saw: the project decides, and zoo.make is not project code
    r = runner.process(str(f), None, selected, None, keyed=True, project=project, ask=(["zoo.make"], r.key))
    assert not r.parsed and r.diagnostics == []


def test_a_file_whose_only_link_to_training_is_a_chain_of_files_is_checked(cli, tmp_path):
    # main.py names no freezing word; loop.py only hands the model on; engine.py acts
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "engine.py", _BN.replace("setup_layers", "prepare") + "\n\n" + _TRAINING_EPOCH)
    write(tmp_path / "loop.py", "from engine import prepare, run_epoch\n\n\ndef setup(model):\n    prepare(model)\n\n\n"
                                "def fit(model, loader):\n    run_epoch(model, loader)\n")
    write(tmp_path / "main.py", "from loop import fit, setup\nfrom zoo import make\n\nmodel = make()\nsetup(model)\n"
                                "for epoch in range(3):\n    fit(model, [])\n")
    for p in tmp_path.glob("*.py"):
        _age(p)
    assert _codes(cli, tmp_path, ".") == [("main.py", 7, "FZ201")]
    assert _codes(cli, tmp_path, ".") == [("main.py", 7, "FZ201")]  # warm
    # the end of the chain stops training: main.py and loop.py are unchanged, the finding goes
    (tmp_path / "engine.py").write_text(_BN.replace("setup_layers", "prepare") + "\n\n" + _QUIET_EPOCH)
    _age(tmp_path / "engine.py", OLD + 10**9)
    assert _codes(cli, tmp_path, ".") == []


def test_a_warm_run_trusts_a_dependency_by_its_metadata_and_never_a_just_written_one(cli, tmp_path, monkeypatch):
    from freezelint.check.project import Project

    _admission_project(tmp_path, "from bn import setup_layers\nfrom engine import run_epoch\nfrom zoo import make\n\n"
                                 "model = make()\nsetup_layers(model)\nfor epoch in range(3):\n"
                                 "    run_epoch(model, [])\n")
    asked = []
    real = Project.current_digest
    monkeypatch.setattr(Project, "current_digest", lambda self, dep: asked.append(dep) or real(self, dep))
    assert _codes(cli, tmp_path, ".") == []
    asked.clear()
    assert _codes(cli, tmp_path, ".") == []  # warm: main.py's dependencies are old files, stat only
    assert asked == []
    # a dependency written just now is not trusted by its metadata: its digest is computed
    (tmp_path / "engine.py").write_text(_QUIET_EPOCH + "\n# a comment\n")
    assert _codes(cli, tmp_path, ".") == []
    assert _codes(cli, tmp_path, ".") == []
    assert any(d.endswith("#acts run_epoch") for d in asked)


def test_an_imported_name_called_inside_another_call_counts_as_called():
    from freezelint.check.project import Project

    text = "from engine import prepare, run, unused\n\nlog(prepare(model))\nrun (x)\nunused\nmy_run(y)\n"
    assert Project(ROOT).calls_imported(text) == ["engine.prepare", "engine.run"]


def test_workers_started_mid_scan_give_what_one_process_gives_in_the_same_order(tmp_path, monkeypatch):
    # The pool starts once POOL_MIN_FILES files need parsing and is fed while the runner reads
    # on: findings, errors, counts and progress are those of a run in one process.
    from freezelint.check.runner import check_paths
    from freezelint.config import load

    write(tmp_path / "pyproject.toml", "")
    for i in range(3 * runner.POOL_MIN_FILES):
        if i % 3 == 0:
            write(tmp_path / f"m{i:02}.py", BAD_MODULE)
        elif i % 3 == 1:
            write(tmp_path / f"m{i:02}.py", "import os\n\nprint(os.sep)\n")
        else:
            write(tmp_path / f"m{i:02}.py", "import torch\nfrom helpers import prepare\n\nprepare(torch.nn.Linear(1, 1))\n")
    write(tmp_path / "helpers.py", "def prepare(model):\n    model.requires_grad = False\n")
    (tmp_path / "m05_latin1.py").write_bytes(b"m.requires_grad_ = False  # caf\xe9\n")  # undecodable: FZ001
    (tmp_path / "m07_huge.py").write_bytes(b"m.requires_grad_ = False\n" * (runner.MAX_PARSE_BYTES // 25 + 1))
    started = []
    real = runner._Pool.submit

    def submit(self, tasks, batch=False):
        started.append((self.started, len(tasks), batch))
        return real(self, tasks, batch)

    monkeypatch.setattr(runner._Pool, "submit", submit)
    runs = {}
    for jobs in (1, 2):
        seen = []
        res = check_paths([str(tmp_path)], load(cwd=tmp_path), use_cache=False, jobs=jobs,
                          progress=lambda done, total: seen.append((done, total)))
        runs[jobs] = ([(d.path, d.row, d.code) for d in res.diagnostics], [str(e) for e in res.left_out],
                      res.files, res.parsed)
        assert seen[-1] == (res.files, res.files) and seen == sorted(seen)
    assert runs[1] == runs[2]
    assert len(runs[2][0]) > runner.POOL_MIN_FILES and "FZ001" in {c for _, _, c in runs[2][0]}
    assert runs[2][1] and "over the max-file-size" in runs[2][1][0]  # the file too large to parse
    # the first submission started the workers with POOL_MIN_FILES files; later ones fed them
    assert started[0] == (False, runner.POOL_MIN_FILES, False) and all(s[0] for s in started[1:])


@pytest.mark.parametrize("use_cache", [False, True])
def test_the_workers_of_a_run_summarise_a_project_file_once(tmp_path, monkeypatch, use_cache):
    # Every file the workers check calls a helper of one project file: the first worker to need
    # its summary computes it and the other waits for it and reads it, with --no-cache too (from
    # the run's temporary directory, removed at its end). The findings are one process's.
    import tempfile

    from freezelint.check import summaries
    from freezelint.check.runner import check_paths
    from freezelint.config import load

    proj, log, tmp = tmp_path / "proj", tmp_path / "summarised.log", tmp_path / "tmp"
    tmp.mkdir()
    write(proj / "pyproject.toml", "")
    write(proj / "helpers.py", "def freeze_encoder(model):\n    for p in model.encoder.parameters():\n"
                               "        p.requires_grad = False\n")
    for i in range(2 * runner.POOL_MIN_FILES):  # FZ301: the optimizer holds what the helper froze
        write(proj / f"m{i:02}.py", "import torch\nfrom helpers import freeze_encoder\n\nfreeze_encoder(model)\n"
                                    "opt = torch.optim.AdamW(model.parameters())\n")
    real = summaries.summarise_text

    def summarise_text(text):  # slow enough that both workers ask for it before it is written
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.3)
        return real(text)

    monkeypatch.setattr(summaries, "summarise_text", summarise_text)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    one = check_paths([str(proj)], load(cwd=proj), use_cache=False, jobs=1)
    log.unlink()
    two = check_paths([str(proj)], load(cwd=proj), use_cache=use_cache, jobs=2)
    assert [(d.path, d.row, d.code) for d in two.diagnostics] == [(d.path, d.row, d.code) for d in one.diagnostics]
    assert len(one.diagnostics) == 2 * runner.POOL_MIN_FILES and not two.errors
    assert len(log.read_text().split()) == 1  # helpers.py, once
    assert list(tmp.iterdir()) == []
    assert (proj / ".freezelint_cache").is_dir() == use_cache


def test_a_run_removes_the_run_directories_that_killed_runs_left_behind(tmp_path, monkeypatch):
    # A run killed by SIGKILL or SIGTERM cannot remove its directory; the next run does, and only
    # where the directory's run is known to be gone: same host, its pid no longer alive, an hour old.
    import tempfile

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no process holds now
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old = time.time() - 2 * runner.STALE_RUN_DIR_S

    def left(name, owner, age=old):
        d = tmp_path / f"{runner.RUN_DIR_PREFIX}{name}"
        (d / "claims").mkdir(parents=True)
        if owner is not None:
            (d / "owner").write_text(owner)
            os.utime(d / "owner", (age, age))
        return d

    killed = left("killed", f"{runner._host()} {gone.pid}\n")
    keep = [left("live", f"{runner._host()} {os.getpid()}\n"),  # still running
            left("recent", f"{runner._host()} {gone.pid}\n", age=time.time()),
            left("elsewhere", f"another-host {gone.pid}\n"),  # a /tmp shared between hosts
            left("unowned", None), left("garbled", "no pid here\n")]
    (tmp_path / "freezelint-other").mkdir()
    made = runner._run_dir()
    assert made is not None and made.is_dir() and (made / "owner").read_text().split()[1] == str(os.getpid())
    assert not killed.exists() and all(d.is_dir() for d in keep) and (tmp_path / "freezelint-other").is_dir()


@pytest.mark.parametrize("text, admitted", [
    # keyword arguments and quoted names that no setattr() can use: nothing to parse for
    ("w = nn.Parameter(torch.zeros(3), requires_grad=False)\n", False),
    ("p = nn.Parameter(x, requires_grad=self.table.requires_grad)\n", False),
    ("split = 'training' if train else 'testing'\nbn = nn.BatchNorm2d(4, affine=False)\n", False),
    ("keys = ['requires_grad', 'affine']\n", False),
    # the shapes the rules read
    ("model.requires_grad = False\n", True),
    ("model . requires_grad = False\n", True),
    ("setattr(model, 'requires_grad', False)\n", True),
    ("setattr(\n    bn,\n    \"training\",\n    False,\n)\n", True),
    ("self.bn.affine = False\n", True),
])
def test_text_gates_skip_keyword_arguments_and_lone_quoted_names(text, admitted):
    pre = prefilter.trigger_pattern(frozenset({"FZ102", "FZ105", "FZ106", "FZ204"}))
    assert bool(pre.admitted(text)) is admitted, pre.admitted(text)


# ------------------------------------------------------------- a helper's callers, across runs
_FREEZE_HELPER = "def freeze(part):\n    part.requires_grad = False\n"


@pytest.mark.parametrize("imported_before", [True, False])
def test_a_cached_helper_is_checked_again_when_a_caller_starts_passing_it_a_module(cli, tmp_path, imported_before):
    # helpers.py alone says nothing of what `part` is; a caller that passes a Module makes it FZ102
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "helpers.py", _FREEZE_HELPER)
    head = "import torch\n" + ("from helpers import freeze\n" if imported_before else "")
    write(tmp_path / "train.py", head + "model = torch.nn.Linear(2, 2)\n")
    for p in tmp_path.glob("*.py"):
        _age(p)
    assert _codes(cli, tmp_path, ".") == []
    assert _codes(cli, tmp_path, ".") == []  # warm, and cached so
    (tmp_path / "train.py").write_text("import torch\nfrom helpers import freeze\nmodel = torch.nn.Linear(2, 2)\n"
                                       "freeze(model)\n")
    _age(tmp_path / "train.py", OLD + 10**9)
    assert _codes(cli, tmp_path, ".") == [("helpers.py", 2, "FZ102")]


def test_a_cached_helper_is_checked_again_when_a_new_file_passes_it_a_module(cli, tmp_path):
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "helpers.py", _FREEZE_HELPER)
    write(tmp_path / "train.py", "import torch\n\nmodel = torch.nn.Linear(2, 2)\n")
    for p in tmp_path.glob("*.py"):
        _age(p)
    assert _codes(cli, tmp_path, ".") == []
    write(tmp_path / "probe.py", "import torch\nfrom helpers import freeze\n\nfreeze(torch.nn.Linear(2, 2))\n")
    _age(tmp_path / "probe.py", OLD + 10**9)
    assert _codes(cli, tmp_path, ".") == [("helpers.py", 2, "FZ102")]


def test_a_warm_run_stats_the_tree_for_a_project_wide_dependency(cli, tmp_path, monkeypatch):
    # helpers.py depends on which files name `freeze`: an unchanged tree is told by its files'
    # metadata, not by reading them all again; a file added to it is not
    from freezelint.check.project import Project

    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "helpers.py", _FREEZE_HELPER)
    write(tmp_path / "train.py", "import torch\nfrom helpers import freeze\n\nfreeze(torch.zeros(2))\n")
    for p in tmp_path.glob("*.py"):
        _age(p)
    asked = []
    real = Project.current_digest
    monkeypatch.setattr(Project, "current_digest", lambda self, dep: asked.append(dep) or real(self, dep))
    assert _codes(cli, tmp_path, ".") == []
    asked.clear()
    assert _codes(cli, tmp_path, ".") == []
    assert asked == []
    write(tmp_path / "notes.py", "x = 1\n")
    _age(tmp_path / "notes.py", OLD + 10**9)
    assert _codes(cli, tmp_path, ".") == []
    assert any(d.startswith("<project>#") for d in asked)


def test_a_copy_of_a_file_the_project_decided_is_not_judged_by_the_original_s_entry(cli, tmp_path):
    # model.py's FZ202 holds because train.py trains its Net; a byte-for-byte copy of it that no
    # file imports is another file to the project, whatever the content cache says of its bytes
    write(tmp_path / "pyproject.toml", "")
    model = write(tmp_path / "model.py", (ROOT / "tests/projects/bninit_bad/model.py").read_text())
    write(tmp_path / "train.py", (ROOT / "tests/projects/bninit_bad/train.py").read_text())
    for p in tmp_path.glob("*.py"):
        _age(p)
    assert _codes(cli, tmp_path, ".") == [("model.py", 10, "FZ202")]
    copy = tmp_path / "copy.py"
    shutil.copyfile(model, copy)
    _age(copy, OLD + 10**9)
    assert _codes(cli, tmp_path, ".") == _codes(cli, tmp_path, "--no-cache", ".") == [("model.py", 10, "FZ202")]


def test_a_copy_of_a_file_nothing_else_decided_reuses_its_entry(cli, tmp_path, spy):
    write(tmp_path / "pyproject.toml", "")
    _age(write(tmp_path / "a.py", BAD_MODULE))
    first = json.loads(cli(tmp_path, "check", "--format", "json", "a.py").out)
    shutil.copyfile(tmp_path / "a.py", tmp_path / "b.py")
    _age(tmp_path / "b.py")
    spy["process"].clear()
    again = json.loads(cli(tmp_path, "check", "--format", "json", "b.py").out)
    assert spy["process"] == [] and [d["code"] for d in again] == [d["code"] for d in first]


def test_a_cached_helper_is_checked_again_when_a_file_stops_naming_it(cli, tmp_path):
    # evaluate.py's call of an unimported `freeze` (its summary says nothing of it) leaves the
    # helper's argument unknown; once that line goes, train.py's Module is the only thing passed
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "helpers.py", _FREEZE_HELPER)
    write(tmp_path / "train.py", "import torch\nfrom helpers import freeze\n\nfreeze(torch.nn.Linear(2, 2))\n")
    write(tmp_path / "evaluate.py", "\nfreeze(build_model())\n")
    for p in tmp_path.glob("*.py"):
        _age(p)
    assert _codes(cli, tmp_path, ".") == []
    (tmp_path / "evaluate.py").write_text("\n")
    _age(tmp_path / "evaluate.py", OLD + 10**9)
    assert _codes(cli, tmp_path, ".") == [("helpers.py", 2, "FZ102")]


def test_an_importer_is_checked_again_when_a_helper_that_did_not_parse_parses_again(cli, tmp_path):
    # freeze.py mid-edit does not parse: what freeze_backbone does is unknown and train_callback.py
    # is silent; once it parses again, the BatchNorm freeze it makes is undone by train()
    shutil.copytree(ROOT / "tests/projects/override_bad", tmp_path / "p")
    root = tmp_path / "p"
    freeze = root / "freeze.py"
    good = freeze.read_text()
    freeze.write_text(good.replace("            m.eval()\n", "    for m in model.backbone.modules():\n            m.eval()\n"))
    for p in root.rglob("*.py"):
        _age(p)
    assert "train_callback.py" not in {f for f, _, _ in _codes(cli, root, ".")}
    freeze.write_text(good)
    _age(freeze, OLD + 10**9)
    assert _codes(cli, root, ".") == _codes(cli, root, "--no-cache", ".")
    assert ("train_callback.py", 11, "FZ201") in _codes(cli, root, ".")
