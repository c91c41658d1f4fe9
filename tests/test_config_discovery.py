from __future__ import annotations

import os

import pytest

from conftest import BAD_MODULE, write


def codes_of(r):
    return sorted(line.split()[1] for line in r.out.splitlines() if ": FZ" in line)


def files_of(r):
    return sorted(line.split(":")[0] for line in r.out.splitlines() if ": FZ" in line)


def test_the_readme_configuration_copied_as_it_stands_keeps_the_default_exclusions(cli, tmp_path):
    """A new user pastes the README's table: it must load, do what its comments say, and not walk
    into the project's virtualenv or build output (an `exclude = []` there did)."""
    import re

    from conftest import ROOT

    block = re.search(r"## Configuration\n\n```toml\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    write(tmp_path / "pyproject.toml", block)
    for where in ("src/a.py", "tests/t.py", "legacy/old.py", ".venv/lib/python3.11/site-packages/pkg/m.py",
                  "build/lib/a.py"):
        write(tmp_path / where, BAD_MODULE + "layer.training = False\n")
    r = cli(tmp_path, "check", "--no-cache", "--format", "concise", "--quiet")
    assert r.code == 1 and r.err == ""
    assert files_of(r) == ["src/a.py"] and codes_of(r) == ["FZ102"]  # FZ106 ignored, tests/* without FZ102


def test_pyproject_select_and_per_file_ignores(cli, tmp_path):
    write(tmp_path / "pyproject.toml", """
        [tool.freezelint]
        select = ["FZ1"]
        ignore = ["FZ101"]
        per-file-ignores = { "tests/*" = ["FZ102"] }
    """)
    write(tmp_path / "src/a.py", BAD_MODULE + "layer.requires_grad_ = True\n")
    write(tmp_path / "tests/t.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--format", "concise", "--quiet")
    assert files_of(r) == ["src/a.py"] and codes_of(r) == ["FZ102"]
    # flags override the file: --select replaces it
    r = cli(tmp_path, "check", "--format", "concise", "--quiet", "--select", "FZ101", "src")
    assert codes_of(r) == ["FZ101"]
    r = cli(tmp_path, "check", "--format", "concise", "--quiet", "--per-file-ignores", "src/*:FZ102", "src")
    assert codes_of(r) == []


def test_config_found_from_a_subdirectory(cli, tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.freezelint]\nignore = ["FZ102"]\n')
    write(tmp_path / "pkg/a.py", BAD_MODULE)
    assert cli(tmp_path / "pkg", "check", "a.py").code == 0


def test_config_is_found_above_the_checked_paths_whatever_the_working_directory(cli, tmp_path):
    write(tmp_path / "proj/pyproject.toml", """
        [tool.freezelint]
        extend-exclude = ["legacy"]
        per-file-ignores = { "tests/*" = ["FZ102"] }
    """)
    write(tmp_path / "proj/legacy/old.py", BAD_MODULE)
    write(tmp_path / "proj/tests/t.py", BAD_MODULE)
    write(tmp_path / "proj/src/a.py", BAD_MODULE)
    for cwd, paths in [(tmp_path / "proj", ["."]), (tmp_path, ["proj"]), (tmp_path, ["proj/src", "proj/tests"]),
                       (tmp_path / "proj/src", [".."])]:
        r = cli(cwd, "check", "--format", "concise", "--quiet", *paths)
        assert [os.path.basename(f) for f in files_of(r)] == ["a.py"], (cwd, paths, r.out)
    write(tmp_path / "pyproject.toml", '[tool.freezelint]\nignore = ["FZ102"]\n')  # the nearer one wins
    assert cli(tmp_path, "check", "--quiet", "proj").code == 1
    assert cli(tmp_path, "check", "--quiet", "proj/src", "other").code == 2  # a missing path: still exit 2


@pytest.mark.parametrize("body,needle", [
    ('[tool.freezelint]\nselekt = ["FZ1"]\n', "unknown key in [tool.freezelint]: selekt"),
    ('[tool.freezelint]\nselect = ["FZ42"]\n', "unknown rule selector 'FZ42'"),
    ('[tool.freezelint]\nselect = "FZ1\n', "invalid TOML"),
    ('[tool.freezelint]\nselect = [1]\n', "select must be a list of strings"),
    ('[tool.freezelint]\nper-file-ignores = ["x"]\n', "per-file-ignores must be a table"),
])
def test_bad_config_is_one_line_exit_2(cli, tmp_path, body, needle):
    (tmp_path / "pyproject.toml").write_text(body)
    write(tmp_path / "a.py", "x = 1\n")
    r = cli(tmp_path, "check", "--config", "pyproject.toml", "a.py")
    assert r.code == 2 and needle in r.err and r.err.count("\n") == 1


def test_a_broken_pyproject_is_an_error_when_it_is_ours_and_skipped_when_it_is_not(cli, tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.freezelint]\nignore = ["FZ102"]\n')
    write(tmp_path / "pkg/a.py", BAD_MODULE)
    write(tmp_path / "pkg/pyproject.toml", '[tool.freezelint\nignore = ["FZ102"]\n')  # found first, broken
    r = cli(tmp_path / "pkg", "check", "a.py")
    assert r.code == 2 and "pkg/pyproject.toml: invalid TOML" in r.err and r.err.count("\n") == 1, r.err
    write(tmp_path / "pkg/pyproject.toml", '[project\nname = "x"\n')  # someone else's, broken: the one above
    assert cli(tmp_path / "pkg", "check", "a.py").code == 0


def test_a_bad_code_in_the_config_names_the_file_and_one_on_the_command_line_does_not(cli, tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.freezelint]\nignore = ["FZ999"]\n')
    write(tmp_path / "a.py", "x = 1\n")
    r = cli(tmp_path, "check", "a.py")
    assert r.code == 2 and r.err.startswith(f"freezelint: error: {tmp_path / 'pyproject.toml'}: unknown rule selector"), r.err
    write(tmp_path / "pyproject.toml", '[tool.freezelint]\nignore = ["FZ102"]\n')
    r = cli(tmp_path, "check", "--select", "FZ998", "a.py")
    assert r.code == 2 and r.err.startswith("freezelint: error: unknown rule selector 'FZ998'"), r.err


def test_missing_config_file(cli, tmp_path):
    r = cli(tmp_path, "check", "--config", "nope.toml")
    assert r.code == 2 and "config file not found" in r.err


def test_a_config_that_is_a_fifo_is_one_line_exit_2_not_a_hang(tmp_path):
    from conftest import run_subprocess

    write(tmp_path / "a.py", BAD_MODULE)
    os.mkfifo(tmp_path / "fifo.toml")  # a hang fails by the subprocess timeout
    r = run_subprocess(tmp_path, "check", "--config", "fifo.toml", "a.py")
    assert (r.code, r.out) == (2, "") and r.err == (
        "freezelint: error: cannot read config fifo.toml: a named pipe (FIFO), not a regular file\n")


def test_a_config_file_named_on_purpose_that_configures_nothing_is_an_error(cli, tmp_path):
    write(tmp_path / "a.py", BAD_MODULE)
    write(tmp_path / "freezelint.toml", 'ignore = ["FZ102"]\n')  # top-level settings, as ruff.toml takes them
    r = cli(tmp_path, "check", "--config", "freezelint.toml", "a.py")
    assert (r.code, r.err) == (2, "freezelint: error: freezelint.toml: no [tool.freezelint] table: the settings "
                                  "go under it\n")
    write(tmp_path / "freezelint.toml", '[tool.freezelnit]\nignore = ["FZ102"]\n')  # a misspelt table
    assert cli(tmp_path, "check", "--config", "freezelint.toml", "a.py").code == 2
    r = cli(tmp_path, "check", "--config", ".", "a.py")
    assert (r.code, r.err) == (2, "freezelint: error: cannot read config .: a directory, not a regular file\n")
    write(tmp_path / "freezelint.toml", "[tool.freezelint]\n")  # a table, empty: the defaults, as asked
    assert cli(tmp_path, "check", "--config", "freezelint.toml", "a.py").code == 1
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')  # found, not named: no table is no error
    assert cli(tmp_path, "check", "a.py").code == 1


def test_default_excludes_gitignore_and_extend_exclude(cli, tmp_path):
    for rel in (".venv/lib/a.py", "build/b.py", "node_modules/c.py", "ignored/d.py", "gen_e.py",
                "legacy/f.py", "keep/g.py", "keep/h.pyi", "keep/not_python.txt"):
        write(tmp_path / rel, BAD_MODULE)
    (tmp_path / ".git").mkdir()
    write(tmp_path / ".gitignore", "ignored/\ngen_*.py\n")
    write(tmp_path / "keep/.gitignore", "nested_ignored.py\n")
    write(tmp_path / "keep/nested_ignored.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--format", "concise", "--quiet", "--extend-exclude", "legacy")
    assert files_of(r) == ["keep/g.py", "keep/h.pyi"]


def test_explicit_files_are_checked_unless_force_exclude(cli, tmp_path):
    write(tmp_path / "build/gen.py", BAD_MODULE)
    (tmp_path / ".git").mkdir()
    write(tmp_path / ".gitignore", "secret.py\n")
    write(tmp_path / "secret.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--format", "concise", "--quiet", "build/gen.py", "secret.py")
    assert files_of(r) == ["build/gen.py", "secret.py"]
    r = cli(tmp_path, "check", "--force-exclude", "build/gen.py", "secret.py")
    assert r.code == 0


def test_directory_named_like_a_file_and_symlink_loop(cli, tmp_path):
    write(tmp_path / "pkg.py/inner.py", BAD_MODULE)
    os.symlink(tmp_path, tmp_path / "loop")
    os.symlink(tmp_path / "missing_target.py", tmp_path / "dangling.py")
    r = cli(tmp_path, "check", "--format", "concise", "--quiet", ".")
    assert files_of(r) == ["pkg.py/inner.py"]
    r = cli(tmp_path, "check", "--format", "concise", "--quiet", "pkg.py")
    assert files_of(r) == ["pkg.py/inner.py"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_one_error_line_and_run_goes_on(cli, tmp_path):
    f = write(tmp_path / "locked.py", BAD_MODULE)
    write(tmp_path / "bad.py", BAD_MODULE)
    f.chmod(0)
    try:
        r = cli(tmp_path, "check", "--no-cache", ".")
    finally:
        f.chmod(0o644)
    assert r.code == 1 and "locked.py: cannot read: Permission denied" in r.err and "bad.py" in r.out


def test_unreadable_file_reported_via_monkeypatched_open(cli, tmp_path, monkeypatch):
    # Runs as root too: make reading one file fail the way a permission error would.
    from freezelint.check import runner

    write(tmp_path / "locked.py", BAD_MODULE)
    write(tmp_path / "bad.py", BAD_MODULE)
    real_read = runner._read

    def fake_read(path):
        if path.endswith("locked.py"):
            raise PermissionError(13, "Permission denied")
        return real_read(path)

    monkeypatch.setattr(runner, "_read", fake_read)
    r = cli(tmp_path, "check", "--no-cache", ".")
    assert r.code == 1
    assert "freezelint: locked.py: cannot read: Permission denied" in r.err.splitlines()
    assert "bad.py:3:1: FZ102" in r.out


def test_a_broken_symbolic_link_named_on_the_command_line_is_said_to_be_one(cli, tmp_path):
    write(tmp_path / "bad.py", BAD_MODULE)
    (tmp_path / "train.py").symlink_to("moved/train.py")
    r = cli(tmp_path, "check", "--no-cache", "train.py", "bad.py")
    assert r.code == 1 and "bad.py:3:1: FZ102" in r.out
    assert r.err == ("freezelint: train.py: cannot read: a broken symbolic link (to moved/train.py, which does "
                     "not exist)\n")


def test_explicit_directory_inside_an_ignored_tree_is_checked(cli, tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path / ".gitignore", "venv-like/\n")
    write(tmp_path / "venv-like/pkg/bad.py", BAD_MODULE)
    write(tmp_path / "venv-like/pkg/.gitignore", "skip.py\n")
    write(tmp_path / "venv-like/pkg/skip.py", BAD_MODULE)
    r = cli(tmp_path, "check", "--format", "concise", "--quiet", ".")
    assert files_of(r) == []
    r = cli(tmp_path, "check", "--format", "concise", "--quiet", "venv-like/pkg")
    assert files_of(r) == ["venv-like/pkg/bad.py"]
    assert cli(tmp_path, "check", "--force-exclude", "venv-like/pkg").code == 0


def test_bare_name_excludes_match_as_pathspec_does(tmp_path):
    """The default excludes are bare names, decided by a path's parts without pathspec; a list
    with any other pattern goes through pathspec. Both agree on every path here."""
    from freezelint.check.discover import Discovery
    from freezelint.config import Config

    for rel in ["a.py", "build.py", "build/x.py", "src/build/y.py", "src/venv/lib/z.py", "pkg/dist/m.py",
                "pkg/distx/m.py", "pkg/my_build/m.py", "node_modules/q.py", "src/ok.py", ".git/hooks/h.py"]:
        write(tmp_path / rel, "x = 1\n")
    bare = Discovery(Config(root=tmp_path))
    assert bare._names is not None
    forced = Discovery(Config(root=tmp_path, extend_exclude=["*.nothing"]))  # not a bare name: pathspec
    assert forced._names is None
    got = sorted(str(p.relative_to(tmp_path)) for p in bare.files([str(tmp_path)]))
    assert got == sorted(str(p.relative_to(tmp_path)) for p in forced.files([str(tmp_path)]))
    assert got == ["a.py", "build.py", "pkg/distx/m.py", "pkg/my_build/m.py", "src/ok.py"]
    for rel in ["build/x.py", "src/venv/lib/z.py", "src/ok.py"]:
        p = tmp_path / rel
        assert bare._is_excluded_explicit(p, False, []) == forced._is_excluded_explicit(p, False, [])
