"""Human-readable output, grouped by file and object."""

from __future__ import annotations

from typing import TextIO

from podsec.checks._base import Severity
from podsec.findings import FileResult, Summary
from podsec.reporters.base import RunInfo

_COLORS = {"error": "1;35", "critical": "1;31", "high": "31", "medium": "33", "low": "36", "info": "2"}


class TextReporter:
    def __init__(self, out: TextIO, run: RunInfo) -> None:
        self._out, self._run = out, run

    def _c(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self._run.color else text

    def file(self, result: FileResult) -> None:
        out = self._out
        failing = [o for o in result.objects if o.findings]
        if not failing and not result.errors:
            return
        out.write(self._c("1", result.file or "-") + "\n")
        for err in result.errors:
            where = f"{err.line}:{err.column}" if err.line and err.column else (str(err.line) if err.line else "-")
            out.write(f"  {self._c('1;31', 'error')} {where}  {err.message}\n")
        for obj in failing:
            template = next((f.template for f in obj.findings if f.template), None)
            origin = [f"line {obj.line}"] if obj.line else []
            origin += [f"from {template}"] if template else []
            loc = f" ({', '.join(origin)})" if origin else ""
            out.write(f"  {self._c('1', str(obj.object))}{loc}\n")
            for f in obj.findings:
                where = (f"{f.line}:{f.column}" if f.column else str(f.line)) if f.line else "-"
                who = f" [{f.pod}]" if f.pod else ""
                who += f" container {f.container!r}" if f.container else ""
                sev = self._c(_COLORS.get(f.severity, "0"), f"{f.severity:<8}")
                out.write(f"    {where:>8}  {sev} {f.check}{who}: {f.message}\n")
                if f.field:
                    out.write(f"    {'':>8}  {'':<8} {self._c('2', 'field: ' + f.field)}\n")
        out.write("\n")

    def finish(self, summary: Summary) -> None:
        by_sev = ", ".join(
            f"{n} {s}" for s, n in sorted(summary.by_severity.items(), key=lambda item: Severity(item[0]).rank)
        )
        line = (
            f"{summary.findings} finding{'s' if summary.findings != 1 else ''}"
            f"{' (' + by_sev + ')' if by_sev else ''} in {summary.objects} workload"
            f"{'s' if summary.objects != 1 else ''} across {summary.files} file"
            f"{'s' if summary.files != 1 else ''}; {summary.errors} error"
            f"{'s' if summary.errors != 1 else ''}"
            f"{f'; {summary.suppressed} suppressed by exemptions' if summary.suppressed else ''}"
            f" [{self._run.profile}, evaluated as {self._run.evaluated}]"
        )
        self._out.write(line + "\n")
