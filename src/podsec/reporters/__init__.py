"""Reporters turn results into output. They never run checks or choose the exit code."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from podsec.reporters.base import Reporter, RunInfo
from podsec.reporters.json import JsonReporter
from podsec.reporters.text import TextReporter

REPORTERS: dict[str, Callable[[TextIO, RunInfo], Reporter]] = {
    "text": TextReporter,
    "json": JsonReporter,
}

__all__ = ["REPORTERS", "Reporter", "RunInfo"]
