"""FZ401: `self.load_from_pretrained(...)` dropped in a base class that (with its bases) defines no
such method, where a direct subclass in another project file defines it to return an unread
`strict=False` load (LAVIS's BaseModel.load_checkpoint_from_config and blip2.py's Blip2Base). The
answer rests on other files, so a warm (cached) run must follow every edit of them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, write

PAIR = ROOT / "tests" / "projects"
LOAD_LINE = ("models/base_model.py", 18)


def _found(cli, root: Path, *args: str) -> list[tuple[str, int]]:
    r = cli(root, "check", "--format", "json", "--select", "FZ401", *args, ".")
    assert r.code in (0, 1), r.err
    return sorted((Path(d["filename"]).as_posix(), d["location"]["row"]) for d in json.loads(r.out))


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "subload"
    shutil.copytree(PAIR / "subload_bad", root)
    return root


def test_the_subclass_of_another_file_is_followed(cli, tmp_path):
    root = _copy(tmp_path)
    r = cli(root, "check", "--format", "concise", "--select", "FZ401", "--no-cache", ".")
    assert "models/base_model.py:18:13: FZ401 `self.load_from_pretrained(...)` returns" in r.out
    assert "(models/blip2.py:11)" in r.out


@pytest.mark.parametrize("old, new", [
    # the override reports the keys itself
    ('        # logging.info("Missing', '        logging.info("Missing'),
    # a subclass of another class of the same name elsewhere
    ("from models.base_model import BaseModel", "from torch.nn import Module as BaseModel"),
    # strict: a mismatch raises
    ("state_dict, strict=False)", "state_dict)"),
], ids=["override_reports", "another_base", "strict"])
def test_a_warm_run_follows_each_edit_of_the_subclass(cli, tmp_path, old, new):
    root = _copy(tmp_path)
    assert _found(cli, root) == [LOAD_LINE]
    blip2 = root / "models" / "blip2.py"
    text = blip2.read_text()
    assert old in text
    blip2.write_text(text.replace(old, new))
    assert _found(cli, root) == _found(cli, root, "--no-cache") == []
    blip2.write_text(text)
    assert _found(cli, root) == [LOAD_LINE]


def test_a_subclass_added_or_removed_later_counts(cli, tmp_path):
    root = _copy(tmp_path)
    blip2 = root / "models" / "blip2.py"
    text = blip2.read_text()
    blip2.unlink()
    assert _found(cli, root) == []  # nothing defines it: not followed
    write(root / "models" / "nested" / "blip2.py", text)
    assert _found(cli, root) == _found(cli, root, "--no-cache") == [LOAD_LINE]


def test_a_subclass_of_a_subclass_in_another_file_is_not_followed(cli, tmp_path):
    """Only direct subclasses are read: a deeper one would need every file's classes."""
    root = _copy(tmp_path)
    blip2 = root / "models" / "blip2.py"
    write(root / "models" / "middle.py", "from models.base_model import BaseModel\n\n\n"
                                         "class Middle(BaseModel):\n    pass\n")
    blip2.write_text(blip2.read_text().replace("from models.base_model import BaseModel",
                                               "from models.middle import Middle")
                     .replace("Blip2Base(BaseModel)", "Blip2Base(Middle)"))
    assert _found(cli, root, "--no-cache") == []
