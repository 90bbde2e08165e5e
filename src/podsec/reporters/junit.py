"""JUnit XML for CI systems: one test case per object, so that it stays readable at any size.

A test suite per file that holds workloads or input errors (files without any are left out);
a test case per object, named after it, that fails with one ``<failure>`` listing every
finding (severity, check, file:line:column, field, message) and whose message names the
checks that failed; an object whose findings were all exempted passes, with the exemptions in
``<system-out>``; an input error is an ``<error>`` test case of its own. Follows the schema
that Jenkins, GitLab and GitHub reporters read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO
from xml.etree import ElementTree as ET

from podsec.findings import FileResult, Finding, ObjectResult, Summary
from podsec.model.paths import format_path
from podsec.reporters.base import RunInfo, object_label, relative
from podsec.reporters.base import severity_rank as _rank
from podsec.textsafe import printable as _p


class JUnitReporter:
    def __init__(self, out: TextIO, run: RunInfo) -> None:
        self._out, self._run = out, run
        self._order: list[FileResult] = []

    def file(self, result: FileResult) -> None:
        self._order.append(result)

    def _case(self, suite: ET.Element, classname: str, name: str, file: str | None, line: int | None) -> ET.Element:
        case = ET.SubElement(suite, "testcase", classname=_p(classname), name=_p(name))
        if file:
            case.set("file", _p(file))
        if line:
            case.set("line", str(line))
        return case

    def finish(self, summary: Summary) -> None:
        root = ET.Element("testsuites", name="podsec")
        totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        suites: dict[str, tuple[ET.Element, dict[str, int]]] = {}  # one suite per file (its namespaces' too)
        for result in self._order:
            if not result.objects and not result.errors:
                continue
            name = relative(result.file, self._run.base_dir) or "-"
            if name not in suites:
                suites[name] = ET.SubElement(root, "testsuite", name=_p(name)), dict.fromkeys(totals, 0)
            suite, counts = suites[name]
            for err in result.errors:
                file = relative(err.file, self._run.base_dir) or name
                case = self._case(suite, name, f"read {file}" + (f":{err.line}" if err.line else ""), file, err.line)
                ET.SubElement(case, "error", message=_p(err.message), type="input").text = _p(str(err))
                counts["tests"] += 1
                counts["errors"] += 1
            for obj in result.objects:
                counts["tests"] += 1
                counts["failures"] += self._object(suite, name, obj)
        for suite, counts in suites.values():
            for key, value in counts.items():
                suite.set(key, str(value))
                totals[key] += value
        for key, value in totals.items():
            root.set(key, str(value))
        ET.indent(root, space=" ")
        self._out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        self._out.write(ET.tostring(root, encoding="unicode"))
        self._out.write("\n")

    def _object(self, suite: ET.Element, name: str, obj: ObjectResult) -> int:
        """The test case of one object; 1 when it fails."""
        file = relative(obj.file, self._run.base_dir) or name
        case = self._case(suite, name, object_label(obj), file, obj.line)
        if obj.findings:
            self._failure(case, obj.findings)
        if obj.suppressed:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(_p(f"exempted: {s.finding.check.id} ({s.exemption.reason})") for s in obj.suppressed)
        return 1 if obj.findings else 0

    def _failure(self, case: ET.Element, findings: Sequence[Finding]) -> None:
        """One failure for all of an object's findings, named by the checks that failed."""
        checks = list(dict.fromkeys(f.check.id for f in _ordered(findings)))
        worst = min(findings, key=lambda f: _rank(f.severity)).severity
        message = f"{len(findings)} finding{'s' if len(findings) != 1 else ''} (most severe: {worst}): " + ", ".join(
            checks
        )
        failure = ET.SubElement(case, "failure", message=_p(message), type=worst)
        failure.text = "\n".join(_p(_line(f, self._run.base_dir)) for f in _ordered(findings))


def _ordered(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (_rank(f.severity), f.line or 0, f.column or 0))


def _line(f: Finding, base: str) -> str:
    where = f"{relative(f.file, base) or '-'}:{f.line or '?'}:{f.column or '?'}"
    who = f" container {f.container!r}" if f.container else ""
    at = f" {format_path(f.field)}:" if f.field else ""  # a namespace's finding is about the whole object
    return f"{f.severity} {f.check.id} {where}{who}{at} {f.message}"
