"""Human-readable output: ``text`` grouped by file and object, ``concise`` one line per finding.

In ``text``, findings are ordered by line within each object; findings that point at the same
missing mapping (a container without a securityContext trips several checks) are shown once,
with the checks listed; each check's documentation pointer (``podsec checks show ID``) is
shown the first time the check appears in the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TextIO

from podsec.checks import Severity
from podsec.findings import FileResult, Finding, InputError, ObjectResult, Summary, failing
from podsec.model.paths import format_path
from podsec.model.pod import Unnamed
from podsec.reporters.base import RunInfo, is_uri
from podsec.reporters.base import severity_rank as _rank
from podsec.textsafe import printable as _p

_COLORS = {"error": "1;35", "critical": "1;31", "high": "31", "medium": "33", "low": "36", "info": "2"}


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def summary_line(summary: Summary, run: RunInfo) -> str:
    """One line: what was found, where, under which profile and configuration."""
    by_sev = ", ".join(
        f"{n:,} {s}" for s, n in sorted(summary.by_severity.items(), key=lambda item: _rank(item[0])) if n
    )
    where = f" in {_plural(summary.objects, 'workload')}" if summary.objects or not summary.findings else ""
    parts = [
        f"{_plural(summary.findings, 'finding')}{' (' + by_sev + ')' if by_sev else ''}{where} "
        f"across {_plural(summary.files, *run.inputs)}"
    ]
    parts += _also(summary, run)
    settings = [run.profile, f"evaluated as {run.evaluated}"]
    if run.config:
        settings.append(f"config {run.config}")
    return "; ".join(parts) + f" [{', '.join(settings)}]" + _fail_note(summary, run)


def _also(summary: Summary, run: RunInfo) -> list[str]:
    """What else the run met: documents without a pod, input errors, exempted and baselined findings."""
    parts = []
    if summary.podless:  # what was read but held no pod: nothing is passed over unseen
        parts.append(f"{_plural(summary.podless, 'document')} held no pod")
    if summary.errors:
        parts.append(_plural(summary.errors, "input error"))
    if summary.suppressed:
        parts.append(f"{summary.suppressed:,} suppressed by exemptions")
    if run.baseline:
        stale = sum(int(e.get("count", 1)) for e in summary.stale)
        parts.append(f"{summary.baselined:,} in the baseline" + (f", {stale:,} stale" if stale else ""))
    return parts


def _fail_note(summary: Summary, run: RunInfo) -> str:
    """Which findings fail the run, when not all of them do."""
    if not summary.findings:
        return ""
    if run.fail_on == "none":
        return "; --fail-on none: findings do not fail the run"
    fail = failing(summary, Severity(run.fail_on))
    return f"; {fail:,} at {run.fail_on} or above fail the run" if fail < summary.findings else ""


def _where(line: int | None, column: int | None, file: str | None = None) -> str:
    at = (f"{line}:{column}" if column else str(line)) if line else "-"
    return f"{file}:{at}" if file else at


def _who(f: Finding) -> str:
    who = f" [{_p(f.pod)}]" if f.pod else ""
    return who + (f" container {_container(f.container)}" if f.container else "")


_UNNAMED = re.compile(r"#[0-9]+ \(unnamed\)")


def _container(name: str) -> str:
    """``'name'`` (escaped like repr), or ``#N (unnamed)`` for a container without a name
    (a name Kubernetes would refuse, so it cannot be a real one)."""
    return name if isinstance(name, Unnamed) or _UNNAMED.fullmatch(name) else repr(name)


def _groups(findings: Iterable[Finding]) -> list[list[Finding]]:
    """Findings by line and column; findings about fields missing from the same mapping together."""
    ordered = sorted(findings, key=lambda f: (f.line or 0, f.column or 0, f.file or "", _rank(f.severity)))
    groups: list[list[Finding]] = []
    spots: dict[tuple[object, ...], list[Finding]] = {}
    for f in ordered:
        if f.location == "parent" and f.missing is not None:
            key = (f.file, f.line, f.column, f.pod, f.container, f.missing)
            if key in spots:
                spots[key].append(f)
                continue
            spots[key] = [f]
            groups.append(spots[key])
        else:
            groups.append([f])
    return groups


class TextReporter:
    def __init__(self, out: TextIO, run: RunInfo) -> None:
        self._out, self._run = out, run
        self._documented: set[str] = set()

    def _c(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self._run.color else text

    def _sev(self, severity: str) -> str:
        return self._c(_COLORS.get(severity, "0"), f"{severity:<8}")

    def _help(self, checks: Iterable[str]) -> None:
        for check in dict.fromkeys(checks):
            if check not in self._documented:
                self._documented.add(check)
                self._out.write(f"    {'':>8}  {'':<8} {self._c('2', 'help: podsec checks show ' + check)}\n")

    def _object(self, result: FileResult, obj: ObjectResult) -> None:
        template = next((f.template for f in obj.findings if f.template), None)
        origin = []
        if obj.line:
            origin.append(f"{_p(obj.file or '-')}:{obj.line}" if obj.file != result.file else f"line {obj.line}")
        origin += [f"from {_p(template)}"] if template else []
        loc = f" ({', '.join(origin)})" if origin else ""
        self._out.write(f"  {self._c('1', _p(str(obj.object)))}{loc}\n")
        for group in _groups(obj.findings):
            f = group[0]
            shown = f.file != result.file and not (is_uri(f.file) and f.file == obj.file)  # a cluster object's URI
            where = _where(f.line, f.column, _p(f.file or "-") if shown else None)
            if len(group) == 1:
                self._finding(f, where)
            else:
                self._missing(group, where)

    def _finding(self, f: Finding, where: str) -> None:
        """One finding: what, where, and its field and values file."""
        out = self._out
        out.write(f"    {where:>8}  {self._sev(f.severity)} {_p(f.check.id)}{_who(f)}: {_p(f.message)}\n")
        if f.field:
            out.write(f"    {'':>8}  {'':<8} {self._c('2', 'field: ' + _p(format_path(f.field)))}\n")
        if f.values is not None:
            at = f"{f.values.file}:{f.values.line}" if f.values.line else f.values.file
            out.write(f"    {'':>8}  {'':<8} {self._c('2', _p(f'values: {f.values.key} ({at})'))}\n")
        self._help([f.check.id])

    def _missing(self, group: list[Finding], where: str) -> None:
        """Findings about the same missing mapping: shown once, with the checks listed."""
        f = group[0]
        top = min(group, key=lambda g: _rank(g.severity))
        what = f"{_p(f.missing or '')} is not set"
        self._out.write(
            f"    {where:>8}  {self._sev(top.severity)} {_who(f).strip() + ': ' if _who(f) else ''}"
            f"{what} ({len(group)} checks)\n"
        )
        for g in sorted(group, key=lambda g: (_rank(g.severity), g.check.id)):
            self._out.write(f"    {'':>8}    {self._sev(g.severity)} {_p(g.check.id)}: {_p(g.message)}\n")
        self._help(g.check.id for g in sorted(group, key=lambda g: (_rank(g.severity), g.check.id)))

    def file(self, result: FileResult) -> None:
        out = self._out
        failing_objects = [o for o in result.objects if o.findings]
        if not failing_objects and not result.errors:
            return
        out.write(self._c("1", _p(result.file or "-")) + "\n")
        for err in result.errors:
            where = f"{err.line}:{err.column}" if err.line and err.column else (str(err.line) if err.line else "-")
            shown = f"{_p(err.file or '-')}:{where}" if err.file != result.file else where
            out.write(f"  {self._c('1;31', 'error')} {shown}  {_p(err.message)}\n")
        for obj in failing_objects:
            self._object(result, obj)
        out.write("\n")

    def finish(self, summary: Summary) -> None:
        for block in summary.text:
            self._out.write(block)
        self._out.write(summary_line(summary, self._run) + "\n")
        _stale(self._out, summary, self._run)


def _stale(out: TextIO, summary: Summary, run: RunInfo) -> None:
    if not summary.stale:
        return
    out.write(
        f"\n{_plural(len(summary.stale), 'baseline entry', 'baseline entries')} in {run.baseline} no longer "
        f"found (fixed or renamed; podsec scan --update-baseline {run.baseline} drops them):\n"
    )
    for e in summary.stale:
        who = f" container {e['container']!r}" if e.get("container") else ""
        count = f" (x{e['count']})" if e.get("count", 1) != 1 else ""
        where = f" ({e['file']})" if e.get("file") else ""
        what = f"{e['check']} {e.get('object', '?')}{who}: {e.get('field', '')}" if "check" in e else "input error"
        out.write(_p(f"  {what}{count}{where}") + "\n")


class ConciseReporter:
    """``file:line:col: severity check message``, one line per finding: clickable in editors and CI logs."""

    def __init__(self, out: TextIO, run: RunInfo) -> None:
        self._out, self._run = out, run

    def _line(self, file: str | None, line: int | None, column: int | None, rest: str) -> None:
        where = file or "-"
        if line:
            where += f":{line}:{column or 1}"  # always a column, as editors and problem matchers expect
        self._out.write(_p(f"{where}: {rest}") + "\n")

    def _error(self, e: InputError) -> None:
        self._line(e.file, e.line, e.column, f"error input {e.message}")

    def file(self, result: FileResult) -> None:
        for e in result.errors:
            self._error(e)
        findings = [f for obj in result.objects for f in obj.findings]
        for f in sorted(findings, key=lambda f: (f.file or "", f.line or 0, f.column or 0)):
            self._line(f.file, f.line, f.column, f"{f.severity} {f.check.id} {f.message}")

    def finish(self, summary: Summary) -> None:
        self._out.write(summary_line(summary, self._run) + "\n")
        _stale(self._out, summary, self._run)


__all__ = ["ConciseReporter", "TextReporter", "summary_line"]
