"""Reporters turn results into output. They never run checks or choose the exit code."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from podsec.reporters.base import Reporter, RunInfo
from podsec.reporters.html import HtmlReporter
from podsec.reporters.json import JsonReporter
from podsec.reporters.junit import JUnitReporter
from podsec.reporters.policyreport import PolicyReportReporter
from podsec.reporters.sarif import SarifReporter
from podsec.reporters.text import ConciseReporter, TextReporter

REPORTERS: dict[str, Callable[[TextIO, RunInfo], Reporter]] = {
    "text": TextReporter,
    "concise": ConciseReporter,
    "json": JsonReporter,
    "sarif": SarifReporter,
    "junit": JUnitReporter,
    "html": HtmlReporter,
    "policyreport": PolicyReportReporter,
}

__all__ = ["REPORTERS", "Reporter", "RunInfo"]
