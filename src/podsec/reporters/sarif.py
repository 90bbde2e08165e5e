"""SARIF 2.1.0 for code-scanning tools (GitHub, GitLab, Azure DevOps ...).

One rule per check evaluated, with the check's documentation as help; levels from
severities; paths relative to the working directory under ``%SRCROOT%``; exact
regions; fingerprints that do not depend on line numbers, so a finding keeps its
identity while the file around it changes. Exempted findings carry a suppression.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pathlib
from typing import Any, TextIO
from urllib.parse import quote

from podsec.checks import get
from podsec.checks._base import Check, CheckLevel
from podsec.findings import Finding, InputError, Summary, Suppressed
from podsec.reporters.base import Collected, RunInfo, object_label, relative

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
DOCS = "https://github.com/podsec/podsec/blob/main/docs/checks/"
_LEVEL = {"error": "error", "critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning sorts security results by this CVSS-like score.
_SECURITY_SEVERITY = {"error": "9.0", "critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}


def fingerprint(f: Finding) -> str:
    """Stable across commits: what and where in the object, never the line."""
    o = f.object
    key = "\x1f".join(str(p) for p in (f.check, o.kind, o.namespace, o.name, f.pod, f.container, f.field, f.message))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _rule(check: Check) -> dict[str, Any]:
    builtin = check.level is not CheckLevel.POLICY
    help_text = f"{check.rationale}\n\nRemediation: {check.remediation}"
    rule: dict[str, Any] = {
        "id": check.id,
        "name": check.id,
        "shortDescription": {"text": check.title},
        "fullDescription": {"text": check.rationale},
        "help": {
            "text": help_text,
            "markdown": f"**{check.title}**\n\n{check.rationale}\n\n**Remediation:** {check.remediation}",
        },
        "defaultConfiguration": {"level": _LEVEL[check.severity.value]},
        "properties": {
            "tags": ["security", "kubernetes", check.level.value],
            "precision": "very-high" if builtin else "high",
            "security-severity": _SECURITY_SEVERITY[check.severity.value],
            "problem.severity": _LEVEL[check.severity.value],
        },
    }
    if builtin:
        rule["helpUri"] = f"{DOCS}{check.id}.md"
    return rule


class SarifReporter:
    def __init__(self, out: TextIO, run: RunInfo) -> None:
        self._out, self._run = out, run
        self._seen = Collected()

    def file(self, result: Any) -> None:
        self._seen.add(result)

    def _location(self, file: str | None, line: int | None, column: int | None) -> dict[str, Any]:
        rel = relative(file, self._run.base_dir)
        if rel in (None, "-"):
            artifact: dict[str, Any] = {"uri": "stdin"}
        elif os.path.isabs(str(rel)):
            artifact = {"uri": pathlib.Path(str(rel)).as_uri()}
        else:
            artifact = {"uri": quote(str(rel)), "uriBaseId": "%SRCROOT%"}
        physical: dict[str, Any] = {"artifactLocation": artifact}
        if line:
            region: dict[str, Any] = {"startLine": line}
            if column:
                region["startColumn"] = column
            physical["region"] = region
        return {"physicalLocation": physical}

    def _result(self, f: Finding, index: dict[str, int], suppressed: Suppressed | None = None) -> dict[str, Any]:
        loc = self._location(f.file, f.line, f.column)
        logical = object_label(f) + (f"/{f.container}" if f.container else "")
        loc["logicalLocations"] = [{"fullyQualifiedName": logical, "kind": "object"}]
        message = f.message + (f" [field: {f.field}]" if f.field else "")
        result: dict[str, Any] = {
            "ruleId": f.check,
            "level": _LEVEL.get(f.severity, "warning"),
            "message": {"text": message},
            "locations": [loc],
            "partialFingerprints": {"podsecFinding/v1": fingerprint(f)},
            "properties": {"severity": f.severity, "field": f.field, "location": f.location},
        }
        if f.check in index:
            result["ruleIndex"] = index[f.check]
        if f.template:
            result["properties"]["template"] = f.template
        if suppressed is not None:
            e = suppressed.exemption
            result["suppressions"] = [
                {
                    "kind": "inSource" if e.source == "annotation" else "external",
                    "justification": e.reason,
                    "properties": {"where": e.where, "until": e.until.isoformat() if e.until else None},
                }
            ]
        return result

    def _notification(self, e: InputError) -> dict[str, Any]:
        return {
            "level": "error",
            "message": {"text": e.message},
            "locations": [self._location(e.file, e.line, e.column)],
        }

    def finish(self, summary: Summary) -> None:
        seen = self._seen
        checks = list(self._run.checks)
        known = {c.id for c in checks}
        for obj in seen.objects:  # governance findings are not "evaluated checks" but need rules too
            for f in obj.findings:
                if f.check not in known:
                    with contextlib.suppress(KeyError):
                        checks.append(get(f.check))
                        known.add(f.check)
        index = {c.id: i for i, c in enumerate(checks)}
        results = [self._result(f, index) for obj in seen.objects for f in obj.findings]
        results += [self._result(s.finding, index, s) for obj in seen.objects for s in obj.suppressed]
        base = self._run.base_dir or os.getcwd()
        doc = {
            "$schema": SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "podsec",
                            "version": self._run.tool_version or "0",
                            "informationUri": "https://github.com/podsec/podsec",
                            "rules": [_rule(c) for c in checks],
                        }
                    },
                    "originalUriBaseIds": {"%SRCROOT%": {"uri": pathlib.Path(base).as_uri().rstrip("/") + "/"}},
                    "invocations": [
                        {
                            "executionSuccessful": not seen.errors,
                            "toolExecutionNotifications": [self._notification(e) for e in seen.errors],
                        }
                    ],
                    "results": results,
                    "properties": {"profile": self._run.profile, "evaluatedVersion": self._run.evaluated},
                }
            ],
        }
        json.dump(doc, self._out, indent=1, ensure_ascii=False)
        self._out.write("\n")
