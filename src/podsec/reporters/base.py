"""The reporter lifecycle: start → one call per file → finish."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from podsec.findings import FileResult, Summary


@dataclass(frozen=True, slots=True)
class RunInfo:
    profile: str  # e.g. "restricted:latest"
    evaluated: str  # the version actually evaluated, e.g. "v1.37"
    color: bool = False


class Reporter(Protocol):
    def file(self, result: FileResult) -> None: ...

    def finish(self, summary: Summary) -> None: ...
