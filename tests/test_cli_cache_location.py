"""Where `freezelint check` keeps its cache, as `check --help` says and `--show-project` prints:
beside the pyproject.toml that configures freezelint; else in the project root found from the
paths (their nearest pyproject.toml or .git); else the working directory."""

from __future__ import annotations

from conftest import BAD_MODULE, write

from freezelint.cli import build_parser

CACHE = ".freezelint_cache"


def _caches(top) -> list[str]:
    return sorted(str(p.parent.relative_to(top)) for p in top.rglob(CACHE))


def test_a_run_from_a_subdirectory_uses_the_repository_root_s_cache(cli, tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(repo / "scripts" / "train.py", BAD_MODULE)
    assert cli(repo / "scripts", "check", "train.py").code == 1
    assert _caches(tmp_path) == ["repo"]
    assert cli(repo, "check", "scripts/train.py").code == 1  # pre-commit's run, from the root
    assert cli(tmp_path, "check", "repo").code == 1  # and one from above
    assert _caches(tmp_path) == ["repo"]


def test_the_configuring_pyproject_s_directory_wins_over_a_nearer_project(cli, tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.freezelint]\nignore = []\n")
    write(tmp_path / "pkgs" / "a" / "pyproject.toml", "[project]\nname = 'a'\n")
    write(tmp_path / "pkgs" / "a" / "m.py", BAD_MODULE)
    assert cli(tmp_path / "pkgs" / "a", "check", "m.py").code == 1
    assert _caches(tmp_path) == ["."]


def test_several_projects_in_one_run_share_one_cache_above_them(cli, tmp_path):
    for name in ("one", "two"):
        (tmp_path / name / ".git").mkdir(parents=True)
        write(tmp_path / name / "m.py", BAD_MODULE)
    assert cli(tmp_path, "check", "one", "two").code == 1
    assert _caches(tmp_path) == ["."]


def test_outside_any_project_the_working_directory_not_the_checked_tree(cli, tmp_path):
    write(tmp_path / "site-packages" / "pkg" / "__init__.py", "")
    write(tmp_path / "site-packages" / "pkg" / "m.py", BAD_MODULE)
    (tmp_path / "work").mkdir()
    assert cli(tmp_path / "work", "check", "../site-packages/pkg").code == 1
    assert _caches(tmp_path) == ["work"]


def test_cache_dir_wins_and_show_project_prints_where_the_cache_is(cli, tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path / "src" / "m.py", BAD_MODULE)
    r = cli(tmp_path / "src", "check", "--show-project", "m.py")
    assert "cache: ../.freezelint_cache" in r.err.splitlines() and (tmp_path / CACHE).is_dir()
    r = cli(tmp_path / "src", "check", "--show-project", "--cache-dir", "here", "m.py")
    assert "cache: here" in r.err.splitlines() and (tmp_path / "src" / "here").is_dir()
    r = cli(tmp_path / "src", "check", "--show-project", "--no-cache", "m.py")
    assert "cache: none (--no-cache)" in r.err.splitlines()


def test_the_help_says_what_the_run_does():
    sub = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices and "check" in a.choices)
    text = " ".join(sub.choices["check"].format_help().split())
    assert "beside the pyproject.toml that configures freezelint, else in the project root: the nearest " \
           "pyproject.toml or .git above the paths; else the working directory" in text
