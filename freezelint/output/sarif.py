"""SARIF 2.1.0, as GitHub code scanning accepts it."""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePath
from urllib.parse import quote

from freezelint import __version__, codes
from freezelint.output.notebook_lines import file_line

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# The base the locations' relative URIs resolve against: the working directory, which they are
# relative to (a consumer on another machine maps it to its own checkout, as SARIF intends).
SRCROOT = "%SRCROOT%"


def _artifact(path: str) -> dict:
    """A file's artifactLocation: relative to %SRCROOT%, or an absolute file:// URI where no
    relative path reaches it (another drive)."""
    p = PurePath(path)
    if p.is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(p.as_posix()), "uriBaseId": SRCROOT}


def _base_ids() -> dict:
    uri = Path(os.getcwd()).as_uri()
    return {SRCROOT: {"uri": uri if uri.endswith("/") else uri + "/"}}  # a base URI names a directory


def _help(code: codes.Code, url: str | None) -> dict:
    """The rule's help travels with the report: its whole page where it has one."""
    text = f"{code.summary}. Run `freezelint rule {code.code}` for the full explanation"
    text += f", or see {url}." if url else "."
    out = {"text": text}
    from freezelint.check.docs import documented_codes, page

    if code.code in documented_codes():
        out["markdown"] = page(code.code)
    return out


def _rule(code: codes.Code, url: str | None) -> dict:
    rule = {
        "id": code.code,
        "name": code.name,
        "shortDescription": {"text": code.summary},
        "fullDescription": {"text": code.summary},
        "help": _help(code, url),
        "defaultConfiguration": {"level": "error" if code.severity == codes.ERROR else "warning"},
        "properties": {"tags": ["pytorch", "freezing"]},
    }
    if url:
        rule["helpUri"] = url
    return rule


def _notification(error) -> dict:
    """A file that could not be checked: a run error, not a result of some rule."""
    return {
        "level": "error",
        "message": {"text": error.message},
        "locations": [{"physicalLocation": {"artifactLocation": _artifact(error.path)}}],
    }


def render(run) -> str:
    used = sorted({d.code for d in run.diagnostics})
    index = {c: i for i, c in enumerate(used)}
    results = []
    for d in run.diagnostics:
        message = d.message + (f" (notebook cell {d.cell}, line {d.row})" if d.cell is not None else "")
        region = {"startLine": d.row, "startColumn": d.col, "endLine": d.end_row, "endColumn": max(d.end_col, d.col)}
        location: dict = {"artifactLocation": _artifact(d.path)}
        result: dict = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": "error" if d.severity == codes.ERROR else "warning",
            "message": {"text": message},
            "locations": [{"physicalLocation": location}],
        }
        if d.cell is None:
            location["region"] = region
        else:  # the region is a line of the .ipynb file; the cell and the place in it are properties
            line = file_line(d.path, d.cell, d.row, getattr(run, "sources", None))
            if line is not None:
                location["region"] = {"startLine": line}
            result["properties"] = {"notebookCell": d.cell, "cellRegion": region}
        results.append(result)
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "freezelint",
                "version": __version__,
                "rules": [_rule(codes.get(c), run.url(c)) for c in used],
            }},
            "originalUriBaseIds": _base_ids(),
            "results": results,
            "invocations": [{
                "executionSuccessful": not run.errors,
                "toolExecutionNotifications": [_notification(e) for e in run.errors],
            }],
        }],
    }
    return json.dumps(doc, indent=2) + "\n"
