"""JUnit XML: one test case per finding (a failure), one per file that could not be checked
(an error)."""

from __future__ import annotations

from collections import defaultdict
from xml.etree import ElementTree as ET

from freezelint.output.notebook_lines import file_line


def render(run) -> str:
    by_file: dict[str, list] = defaultdict(list)
    for d in run.diagnostics:
        by_file[d.path].append(d)
    n, errors = len(run.diagnostics), len(run.errors)
    suites = ET.Element("testsuites", name="freezelint", tests=str(n + errors), failures=str(n),
                        errors=str(errors))
    suite = ET.SubElement(suites, "testsuite", name="freezelint", tests=str(n + errors), failures=str(n),
                          errors=str(errors), skipped="0")
    for path in sorted(by_file):
        for d in by_file[path]:
            # a line of the .ipynb for a notebook's finding
            line = d.row if d.cell is None else file_line(d.path, d.cell, d.row, getattr(run, "sources", None))
            case = ET.SubElement(suite, "testcase", name=f"{d.code} {d.location}", classname=path,
                                 file=path, **({"line": str(line)} if line is not None else {}))
            failure = ET.SubElement(case, "failure", message=d.message, type=d.code)
            failure.text = f"{d.location}: {d.code} {d.message}"
    for e in run.errors:
        case = ET.SubElement(suite, "testcase", name=f"not checked {e.path}", classname=e.path, file=e.path)
        error = ET.SubElement(case, "error", message=e.message, type="run-error")
        error.text = str(e)
    if not run.diagnostics and not run.errors:
        ET.SubElement(suite, "testcase", name="freezelint", classname="freezelint")
        suite.set("tests", "1")
        suites.set("tests", "1")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
