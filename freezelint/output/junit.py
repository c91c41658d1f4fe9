"""JUnit XML: one test case per checked file with findings, one failure per finding."""

from __future__ import annotations

from collections import defaultdict
from xml.etree import ElementTree as ET


def render(run) -> str:
    by_file: dict[str, list] = defaultdict(list)
    for d in run.diagnostics:
        by_file[d.path].append(d)
    suites = ET.Element("testsuites", name="freezelint", tests=str(len(run.diagnostics)),
                        failures=str(len(run.diagnostics)))
    suite = ET.SubElement(suites, "testsuite", name="freezelint", tests=str(len(run.diagnostics)),
                          failures=str(len(run.diagnostics)), errors="0", skipped="0")
    for path in sorted(by_file):
        for d in by_file[path]:
            case = ET.SubElement(suite, "testcase", name=f"{d.code} {d.location}", classname=path,
                                 file=path, line=str(d.row))
            failure = ET.SubElement(case, "failure", message=d.message, type=d.code)
            failure.text = f"{d.location}: {d.code} {d.message}"
    if not run.diagnostics:
        ET.SubElement(suite, "testcase", name="freezelint", classname="freezelint")
        suite.set("tests", "1")
        suites.set("tests", "1")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
