"""JUnit XML for CI systems: one test case per object and check evaluated.

A test suite per file; a failing check becomes a ``<failure>`` with every message
and location; an exempted one is ``<skipped>``; an input error is an ``<error>`` test
case of its own. Follows the schema that Jenkins, GitLab and GitHub reporters read.
"""

from __future__ import annotations

from typing import TextIO
from xml.etree import ElementTree as ET

from podsec.findings import FileResult, Finding, Summary
from podsec.reporters.base import RunInfo, evaluated, object_label, relative


class JUnitReporter:
    def __init__(self, out: TextIO, run: RunInfo) -> None:
        self._out, self._run = out, run
        self._order: list[FileResult] = []

    def file(self, result: FileResult) -> None:
        self._order.append(result)

    def _case(self, suite: ET.Element, classname: str, name: str, file: str | None, line: int | None) -> ET.Element:
        case = ET.SubElement(suite, "testcase", classname=classname, name=name)
        if file:
            case.set("file", file)
        if line:
            case.set("line", str(line))
        return case

    def finish(self, summary: Summary) -> None:
        root = ET.Element("testsuites", name="podsec")
        totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for result in self._order:
            name = relative(result.file, self._run.base_dir) or "-"
            suite = ET.SubElement(root, "testsuite", name=name)
            counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
            for err in result.errors:
                case = self._case(suite, name, f"read {name}" + (f":{err.line}" if err.line else ""), name, err.line)
                ET.SubElement(case, "error", message=err.message, type="input").text = str(err)
                counts["tests"] += 1
                counts["errors"] += 1
            for obj in result.objects:
                classname = object_label(obj)
                failing: dict[str, list[Finding]] = {}
                for f in obj.findings:
                    failing.setdefault(f.check, []).append(f)
                skipped = {s.finding.check: s for s in obj.suppressed}
                check_ids = evaluated(self._run, obj)
                for check in [*check_ids, *(c for c in failing if c not in check_ids)]:
                    counts["tests"] += 1
                    found = failing.get(check)
                    case = self._case(suite, classname, check, name, found[0].line if found else obj.line)
                    if found:
                        counts["failures"] += 1
                        lines = [
                            f"{f.file or '-'}:{f.line or '?'}:{f.column or '?'} {f.severity} {f.field}: {f.message}"
                            for f in found
                        ]
                        failure = ET.SubElement(case, "failure", message=found[0].message, type=found[0].severity)
                        failure.text = "\n".join(lines)
                    elif check in skipped:
                        counts["skipped"] += 1
                        e = skipped[check].exemption
                        ET.SubElement(case, "skipped", message=f"exempted: {e.reason}")
            for key, value in counts.items():
                suite.set(key, str(value))
                totals[key] += value
        for key, value in totals.items():
            root.set(key, str(value))
        ET.indent(root, space=" ")
        self._out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        self._out.write(ET.tostring(root, encoding="unicode"))
        self._out.write("\n")
