"""The reporter lifecycle: construct → one call per file → finish. Reporters never decide exit codes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from podsec.checks import CheckLevel, Rule, Severity
from podsec.findings import FileResult, Finding, InputError, ObjectResult, Summary


@dataclass(frozen=True, slots=True)
class RunInfo:
    profile: str  # e.g. "restricted:latest"
    evaluated: str  # the version actually evaluated, e.g. "v1.37"
    color: bool = False
    checks: tuple[Rule, ...] = ()  # every check evaluated on each object (built-in and policy)
    started: float = 0.0  # Unix time the run started (report timestamps)
    base_dir: str = ""  # relative paths in reports are relative to this (the working directory)
    tool_version: str = ""
    progress: bool = False  # draw a progress bar on stderr
    config: str | None = None  # the configuration file used
    fail_on: str = "low"  # the lowest severity that fails the run, or "none"
    baseline: str | None = None  # the baseline file findings were matched against
    passes: bool = True  # policyreport: include passing results
    sarif_max_results: int = 5_000
    inputs: tuple[str, str] = ("file", "files")  # what a FileResult stands for: a file, or a namespace (audit)


class Reporter(Protocol):
    def file(self, result: FileResult) -> None: ...

    def finish(self, summary: Summary) -> None: ...


@dataclass(slots=True)
class Collected:
    """Everything a whole-run report needs, gathered as files arrive."""

    objects: list[ObjectResult] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def add(self, result: FileResult) -> None:
        self.objects.extend(result.objects)
        self.errors.extend(result.errors)
        if result.file is not None:
            self.files.append(result.file)


class Collecting:
    """A whole-run report: it gathers every file's results, and writes them all at `finish`."""

    def __init__(self, out: TextIO, run: RunInfo) -> None:
        self._out, self._run = out, run
        self._seen = Collected()

    def file(self, result: FileResult) -> None:
        self._seen.add(result)


CATEGORY = {
    CheckLevel.BASELINE: "Pod Security Standards (Baseline)",
    CheckLevel.RESTRICTED: "Pod Security Standards (Restricted)",
    CheckLevel.HARDENED: "podsec hardening",
    CheckLevel.GOVERNANCE: "podsec exemptions",
    CheckLevel.POLICY: "Rego policy",
    CheckLevel.RBAC: "podsec rbac",
}

SEVERITY_ORDER = [s.value for s in Severity]


def severity_rank(severity: str) -> int:
    """0 for the most severe; unknown severities last."""
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


MAX_MESSAGE_CHARS = 4_000
"""The longest message a report with size limits (SARIF, PolicyReport) carries whole."""


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text``, cut at ``limit`` characters with a note of what was left out (the json report has it all)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} characters left out; the json report has the whole text)"


def is_uri(path: str | None) -> bool:
    """A location that is not a file: ``k8s://context/namespaces/shop/deployments.apps/web`` (audit)."""
    return path is not None and "://" in path


def relative(path: str | None, base: str) -> str | None:
    """``path`` relative to ``base`` when it lies inside it, else as given ("-" and URIs stay)."""
    if path is None or path == "-" or not base or is_uri(path):
        return path
    full = os.path.abspath(path)
    try:
        rel = os.path.relpath(full, base)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


def evaluated(run: RunInfo, obj: ObjectResult) -> list[str]:
    """Ids of the checks evaluated on ``obj``: all of them, or only policies for an object without a pod."""
    return [c.id for c in run.checks if obj.carries_pod or c.level is CheckLevel.POLICY]


def object_label(f: Finding | ObjectResult) -> str:
    o = f.object
    return "/".join(p for p in (o.kind or "?", o.namespace or "", o.name or "(unnamed)") if p)
