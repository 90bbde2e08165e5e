"""JSON output (a public contract; see README "JSON output").

Findings are streamed as they arrive, so memory does not grow with the input.
"""

from __future__ import annotations

from typing import TextIO

from podsec.findings import FileResult, InputError, Summary, Suppressed
from podsec.reporters.base import RunInfo
from podsec.textsafe import json_dumps

SCHEMA_VERSION = 1


class JsonReporter:
    def __init__(self, out: TextIO, run: RunInfo) -> None:
        self._out, self._run = out, run
        self._first = True
        self._errors: list[InputError] = []
        self._suppressed: list[Suppressed] = []
        out.write('{"findings": [')

    def file(self, result: FileResult) -> None:
        for obj in result.objects:
            for finding in obj.findings:
                self._out.write("\n  " if self._first else ",\n  ")
                self._first = False
                self._out.write(json_dumps(finding.as_dict()))
            self._suppressed.extend(obj.suppressed)
        self._errors.extend(result.errors)

    def finish(self, summary: Summary) -> None:
        out = self._out
        out.write("\n],\n" if not self._first else "],\n")
        errors = ",\n  ".join(json_dumps(e.as_dict()) for e in self._errors)
        out.write(f' "errors": [{chr(10) + "  " + errors + chr(10) if errors else ""}],\n')
        hidden = ",\n  ".join(json_dumps(s.as_dict()) for s in self._suppressed)
        out.write(f' "suppressed": [{chr(10) + "  " + hidden + chr(10) if hidden else ""}],\n')
        for key, value in summary.sections.items():
            out.write(f" {json_dumps(key)}: {json_dumps(value)},\n")
        meta = {**summary.as_dict(), "profile": self._run.profile, "evaluatedVersion": self._run.evaluated}
        if self._run.baseline:
            meta["baselined"] = summary.baselined
            accepted = {"file": self._run.baseline, "matched": summary.baselined, "stale": summary.stale}
            out.write(f' "baseline": {json_dumps(accepted)},\n')
        out.write(f' "summary": {json_dumps(meta)},\n "schemaVersion": {SCHEMA_VERSION}\n}}\n')
