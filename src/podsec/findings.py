"""Findings, input errors, per-object results, the summary and the exit-code policy.

Pure values: reporters read them, only `exit_code` decides how a run ends.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from podsec.checks import CheckLevel, Rule, Severity
from podsec.exemptions import Exemption
from podsec.model.objects import ObjectRef
from podsec.model.paths import Path, format_path
from podsec.model.values import Frozen

LocationKind = Literal["field", "parent"]


@dataclass(frozen=True, slots=True)
class ValuesRef(Frozen):
    """The Helm ``values.yaml`` key a rendered field comes from, and its line (None: not set there)."""

    file: str
    key: str
    line: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "key": self.key, "line": self.line}


@dataclass(frozen=True, slots=True)
class Replacement(Frozen):
    """Characters of a file to replace: ``length`` of them from ``offset`` (0-based, in the
    decoded text) by ``inserted``; ``line`` is the 1-based line the region starts on."""

    offset: int
    length: int
    inserted: str
    line: int


@dataclass(frozen=True, slots=True)
class TextFix(Frozen):
    """A safe fix of one finding, as changes to its file's text (SARIF ``fixes``)."""

    description: str
    replacements: tuple[Replacement, ...]


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention (CONTRIBUTING.md, "Hot values")
class Finding:
    """One finding, typed end to end: reporters alone turn it into text (`as_dict`)."""

    check: Rule  # the check or rule that reports it
    severity: Severity  # its severity in this run (per-check overrides applied)
    level: CheckLevel
    object: ObjectRef
    pod: str | None  # which pod of an object holding several (Argo templates); None otherwise
    container: str | None
    field: Path  # the field to change; () for the object itself
    file: str | None
    line: int | None
    column: int | None
    location: LocationKind  # "field": the field itself; "parent": the mapping to add it to
    message: str
    template: str | None = None  # the Helm template (# Source:) or kustomize origin of the object
    # for location "parent": the path up to its first absent part (what to add)
    missing: str | None = dataclasses.field(default=None, compare=False)
    values: ValuesRef | None = None  # rendered Helm output: the values.yaml key the field comes from
    fix: TextFix | None = dataclasses.field(default=None, compare=False)  # its safe fix, when asked for (SARIF)

    def as_dict(self) -> dict[str, Any]:
        o = self.object
        return {
            "check": self.check.id,
            "severity": str(self.severity),
            "level": str(self.level),
            "object": {"apiVersion": o.api_version, "kind": o.kind, "namespace": o.namespace, "name": o.name},
            "pod": self.pod,
            "container": self.container,
            "field": format_path(self.field),
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "location": self.location,
            "message": self.message,
            "template": self.template,
            **({"values": self.values.as_dict()} if self.values is not None else {}),
        }


_CONTAINER_INDEX = re.compile(r"\b(initContainers|containers|ephemeralContainers)\[\d+\]")
_INDEX = re.compile(r"\[\d+\]")


def stable_field(f: Finding) -> str:
    """The field path without list positions: containers by name, other items as ``[*]``
    (the message names them), so reordering a list does not change a finding's identity."""
    text = format_path(f.field)
    if f.container is not None:
        text = _CONTAINER_INDEX.sub(lambda m: f"{m.group(1)}[{f.container}]", text)
    return _INDEX.sub("[*]", text)


def fingerprint(f: Finding) -> str:
    """A finding's identity across commits: what and where in the object, never the file, the
    line or the order of files, objects or list items. Renaming the object or container
    changes it."""
    o = f.object
    group = o.api_version.rpartition("/")[0] if o.api_version else ""
    parts = (f.check.id, group, o.kind, o.namespace, o.name, f.pod, f.container, stable_field(f), f.message)
    key = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class InputError(Frozen):
    """Something that could not be read or evaluated; always exit code 2."""

    file: str | None
    line: int | None
    message: str
    column: int | None = None
    object: ObjectRef | None = None
    debug: str | None = None  # the traceback of an internal error, when asked for (--debug); not reported

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Suppressed(Frozen):
    """A finding an exemption hides: kept, and reported as suppressed."""

    finding: Finding
    exemption: Exemption

    def as_dict(self) -> dict[str, Any]:
        return {**self.finding.as_dict(), "exemption": self.exemption.as_dict()}


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention (CONTRIBUTING.md, "Hot values")
class ObjectResult:
    """One evaluated pod-bearing object: its findings and PSA's verdicts per pod."""

    object: ObjectRef
    file: str | None
    line: int | None
    findings: tuple[Finding, ...]
    verdicts: tuple[tuple[str | None, str], ...]  # (pod label, PSA denial text) for each failing pod
    suppressed: tuple[Suppressed, ...] = ()
    errors: tuple[InputError, ...] = ()  # e.g. a policy that failed on this object; the rest still counts
    details: Mapping[str, Any] | None = None  # the explain view, when a report asks for it (HTML)
    carries_pod: bool = True  # False: seen only by policies (--policy-scope all); built-in checks did not run
    baselined: tuple[Finding, ...] = ()  # findings the baseline file accepts: not reported, never failing
    counted: bool = True  # False: not a workload (a NetworkPolicy, a namespace, a binding), left out of the count


@dataclass(slots=True)
class FileResult:
    file: str | None
    objects: list[ObjectResult] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    read: bool = True  # False for an input that could not be opened at all (a missing path, a failed -k)
    sources: frozenset[str] = frozenset()  # rendered input: the files it was rendered from (absolute)
    baselined_errors: list[InputError] = field(default_factory=list)  # accepted by the baseline: never failing
    documents: int = 0  # YAML documents with content
    podless: int = 0  # of them, those that held no pod (and were not errors)
    # what the analyses beyond the pod need from this file (a podsec.beyond.Facts: the core does not know it)
    facts: object | None = None


@dataclass(slots=True)
class Summary:
    files: int = 0
    documents: int = 0
    podless: int = 0
    objects: int = 0
    findings: int = 0
    errors: int = 0
    suppressed: int = 0
    baselined: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)
    stale: list[Mapping[str, Any]] = field(default_factory=list)  # baseline entries no finding matched
    notes: list[str] = field(default_factory=list)  # what was left out and why (excluded, not rendered)
    sections: dict[str, Any] = field(default_factory=dict)  # more top-level parts of the JSON report (rbac, cluster)
    text: list[str] = field(default_factory=list)  # blocks the text report shows before its summary line

    def add(self, result: FileResult) -> None:
        self.files += result.read
        self.documents += result.documents
        self.podless += result.podless
        self.objects += sum(1 for obj in result.objects if obj.counted)
        self.errors += len(result.errors)
        self.baselined += len(result.baselined_errors)
        for obj in result.objects:
            self.findings += len(obj.findings)
            self.suppressed += len(obj.suppressed)
            self.baselined += len(obj.baselined)
            for f in obj.findings:
                self.by_severity[str(f.severity)] = self.by_severity.get(str(f.severity), 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "documents": self.documents,
            "objects": self.objects,
            "findings": self.findings,
            "errors": self.errors,
            "suppressed": self.suppressed,
        }


EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

DEFAULT_FAIL_ON = Severity.LOW
"""Informational findings never fail a run unless asked (``--fail-on info``)."""


def failing(summary: Summary, fail_on: Severity | None) -> int:
    """How many findings are of severity ``fail_on`` or more severe (None: report only, none fail)."""
    if fail_on is None:
        return 0
    return sum(n for sev, n in summary.by_severity.items() if Severity(sev).rank <= fail_on.rank)


def exit_code(summary: Summary, *, usage_error: bool = False, fail_on: Severity | None = DEFAULT_FAIL_ON) -> int:
    """0 nothing that fails, 1 findings, 2 usage or input errors (2 wins).

    Only findings of severity ``fail_on`` or more severe count for exit code 1
    (``None``: none do); suppressed and baselined findings never do.
    """
    if usage_error or summary.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if failing(summary, fail_on) else EXIT_CLEAN
