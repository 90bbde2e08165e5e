"""JSON output (a public contract; see README "JSON output").

Findings are streamed as they arrive, so memory does not grow with the input.
"""

from __future__ import annotations

import json
from typing import TextIO

from podsec.findings import FileResult, InputError, Summary, Suppressed
from podsec.reporters.base import RunInfo

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
                self._out.write(json.dumps(finding.as_dict(), ensure_ascii=False))
            self._suppressed.extend(obj.suppressed)
        self._errors.extend(result.errors)

    def finish(self, summary: Summary) -> None:
        out = self._out
        out.write("\n],\n" if not self._first else "],\n")
        errors = ",\n  ".join(json.dumps(e.as_dict(), ensure_ascii=False) for e in self._errors)
        out.write(f' "errors": [{chr(10) + "  " + errors + chr(10) if errors else ""}],\n')
        hidden = ",\n  ".join(json.dumps(s.as_dict(), ensure_ascii=False) for s in self._suppressed)
        out.write(f' "suppressed": [{chr(10) + "  " + hidden + chr(10) if hidden else ""}],\n')
        meta = {**summary.as_dict(), "profile": self._run.profile, "evaluatedVersion": self._run.evaluated}
        if self._run.baseline:
            meta["baselined"] = summary.baselined
            accepted = {"file": self._run.baseline, "matched": summary.baselined, "stale": summary.stale}
            out.write(f' "baseline": {json.dumps(accepted, ensure_ascii=False)},\n')
        out.write(f' "summary": {json.dumps(meta)},\n "schemaVersion": {SCHEMA_VERSION}\n}}\n')
