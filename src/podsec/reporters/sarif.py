"""SARIF 2.1.0 for code-scanning tools (GitHub, GitLab, Azure DevOps ...).

One rule per check evaluated, with the check's documentation as help; levels from
severities; paths relative to the working directory under ``%SRCROOT%``; exact
regions; fingerprints that do not depend on line numbers, so a finding keeps its
identity while the file around it changes. Exempted findings carry a suppression.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from podsec.checks import CheckLevel, Rule
from podsec.findings import Finding, InputError, Summary, Suppressed, fingerprint
from podsec.model.paths import format_path
from podsec.reporters.base import Collecting, clip, is_uri, object_label, relative
from podsec.reporters.base import severity_rank as _rank
from podsec.textsafe import json_dumps

SARIF_MAX_RESULTS = 5_000
"""GitHub code scanning keeps the top 5,000 results of a run (prioritized by severity)."""
SARIF_HARD_LIMIT = 25_000
"""... and rejects a run with more than 25,000."""
SARIF_MAX_BYTES = 10 * 1000 * 1000
"""GitHub rejects SARIF files over 10 MB (gzip-compressed; podsec keeps the uncompressed file under it)."""
SARIF_MAX_NOTIFICATIONS = 1_000
"""Input errors listed as notifications at most (and in at most a tenth of the file); the rest are counted."""

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVEL = {"error": "error", "critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning sorts security results by this CVSS-like score.
_SECURITY_SEVERITY = {"error": "9.0", "critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}


def project_urls() -> dict[str, str]:
    """The project's URLs (``[project.urls]`` in pyproject.toml), by lower-case label."""
    from importlib import metadata

    try:
        entries = metadata.metadata("podsec").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return {}
    urls = {}
    for entry in entries:
        label, _, url = entry.partition(",")
        if url.strip().startswith("https://"):
            urls[label.strip().lower()] = url.strip()
    return urls


def docs_base(urls: Mapping[str, str]) -> str | None:
    """Where the check pages live online: docs/checks/ of the project's repository, if it names one."""
    repo = urls.get("repository") or urls.get("source")
    if repo and repo.startswith("https://github.com/"):
        return f"{repo.rstrip('/')}/blob/main/docs/checks/"
    return None


def _rule(check: Rule, docs: str | None) -> dict[str, Any]:
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
    if builtin and docs:
        rule["helpUri"] = f"{docs}{check.id}.md"
    return rule


class SarifReporter(Collecting):
    def _location(self, file: str | None, line: int | None, column: int | None) -> dict[str, Any]:
        rel = relative(file, self._run.base_dir)
        if rel in (None, "-"):
            artifact: dict[str, Any] = {"uri": "stdin"}
        elif is_uri(rel):
            artifact = {"uri": rel}
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

    def _fix(self, f: Finding) -> dict[str, Any]:
        """The finding's safe fix (what `podsec fix` would change for it alone)."""
        assert f.fix is not None
        artifact = self._location(f.file, None, None)["physicalLocation"]["artifactLocation"]
        replacements = [
            {
                "deletedRegion": {"charOffset": r.offset, "charLength": r.length},
                "insertedContent": {"text": r.inserted},
            }
            for r in f.fix.replacements
        ]
        return {
            "description": {"text": f.fix.description},
            "artifactChanges": [{"artifactLocation": artifact, "replacements": replacements}],
        }

    def _result(self, f: Finding, index: dict[str, int], suppressed: Suppressed | None = None) -> dict[str, Any]:
        loc = self._location(f.file, f.line, f.column)
        logical = object_label(f) + (f"/{f.container}" if f.container else "")
        loc["logicalLocations"] = [{"fullyQualifiedName": logical, "kind": "object"}]
        message = clip(f.message) + (f" [field: {format_path(f.field)}]" if f.field else "")
        result: dict[str, Any] = {
            "ruleId": f.check.id,
            "level": _LEVEL.get(f.severity, "warning"),
            "message": {"text": message},
            "locations": [loc],
            "partialFingerprints": {"podsecFinding/v2": fingerprint(f)},
            "properties": {"severity": str(f.severity), "field": format_path(f.field), "location": f.location},
        }
        if f.check.id in index:
            result["ruleIndex"] = index[f.check.id]
        if f.fix is not None:
            result["fixes"] = [self._fix(f)]
        if f.template:
            result["properties"]["template"] = f.template
        if f.values is not None:
            result["properties"]["values"] = f.values.key
            related = self._location(f.values.file, f.values.line, None)
            related["message"] = {"text": f"the value comes from {f.values.key} in {f.values.file}"}
            result["relatedLocations"] = [{"id": 1, **related}]
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
            "message": {"text": clip(e.message)},
            "locations": [self._location(e.file, e.line, e.column)],
        }

    def finish(self, summary: Summary) -> None:
        seen = self._seen
        checks = self._rules()
        index = {c.id: i for i, c in enumerate(checks)}
        findings: list[tuple[Finding, Suppressed | None]] = [(f, None) for obj in seen.objects for f in obj.findings]
        findings += [(sup.finding, sup) for obj in seen.objects for sup in obj.suppressed]
        findings.sort(key=lambda pair: (pair[1] is not None, _rank(pair[0].severity)))  # the most severe first
        results = [self._result(f, index, sup) for f, sup in findings]
        notifications = self._notifications(seen.errors)
        urls = project_urls()
        base = self._run.base_dir or os.getcwd()
        driver: dict[str, Any] = {"name": "podsec", "version": self._run.tool_version or "0"}
        if urls.get("homepage") or urls.get("repository"):
            driver["informationUri"] = urls.get("homepage") or urls["repository"]
        driver["rules"] = [_rule(c, docs_base(urls)) for c in checks]
        run: dict[str, Any] = {
            "tool": {"driver": driver},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": pathlib.Path(base).as_uri().rstrip("/") + "/"}},
            "invocations": [{"executionSuccessful": not seen.errors, "toolExecutionNotifications": notifications}],
            "results": [],
            "properties": {"profile": self._run.profile, "evaluatedVersion": self._run.evaluated},
        }
        doc = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
        rest = len(json.dumps(doc, indent=1, ensure_ascii=False).encode()) + 2_000  # + what was left out, below
        kept = _fit(results, self._run.sarif_max_results, SARIF_MAX_BYTES - rest)
        run["results"] = results[:kept]
        self._left_out(run, results, kept, notifications)
        self._out.write(json_dumps(doc, indent=1))  # control characters escaped
        self._out.write("\n")

    def _rules(self) -> list[Rule]:
        """The checks evaluated, and those of other findings (governance findings are not "evaluated
        checks" but need rules too)."""
        checks = list(self._run.checks)
        known = {c.id for c in checks}
        for f in (f for obj in self._seen.objects for f in obj.findings):
            if f.check.id not in known:
                checks.append(f.check)
                known.add(f.check.id)
        return checks

    def _left_out(
        self, run: dict[str, Any], results: list[dict[str, Any]], kept: int, notifications: list[dict[str, Any]]
    ) -> None:
        """A warning and a count of the results after ``kept``, left out, if any."""
        left_out = Counter(str(r["properties"]["severity"]) for r in results[kept:])
        if not left_out:
            return
        detail = ", ".join(f"{n:,} {sev}" for sev, n in sorted(left_out.items(), key=lambda kv: _rank(kv[0])))
        notifications.append(
            {
                "level": "warning",
                "message": {
                    "text": f"{len(results) - kept:,} of {len(results):,} results left out to stay within GitHub "
                    f"code scanning's limits ({self._run.sarif_max_results:,} results a run, 10 MB a file); "
                    f"the most severe are kept. Left out: {detail}. The json and text reports list them all."
                },
            }
        )
        run["properties"]["omittedResults"] = {"total": len(results) - kept, "bySeverity": dict(left_out)}

    def _notifications(self, errors: list[InputError]) -> list[dict[str, Any]]:
        """Input errors as tool notifications: those that fit, and a count of the others."""
        notes = [self._notification(e) for e in errors]
        shown = _fit(notes, SARIF_MAX_NOTIFICATIONS, SARIF_MAX_BYTES // 10, depth=6)
        if shown == len(notes):
            return notes
        text = (
            f"{len(notes) - shown:,} more input errors left out to stay within GitHub code scanning's limits; "
            "the json and text reports list them all."
        )
        return [*notes[:shown], {"level": "error", "message": {"text": text}}]


def _fit(results: list[dict[str, Any]], max_results: int, max_bytes: int, *, depth: int = 4) -> int:
    """How many of ``results`` (most severe first) fit in ``max_results`` and ``max_bytes``
    as they are written (one-space indentation, ``depth`` levels deep)."""
    total = 0
    for i, r in enumerate(results[:max_results]):
        text = json.dumps(r, indent=1, ensure_ascii=False)
        total += len(text.encode()) + depth * (text.count("\n") + 1) + 2
        if total > max_bytes:
            return i
    return min(len(results), max_results)
