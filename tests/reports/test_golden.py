"""Exact output of every format on fixed inputs. Regenerate with PODSEC_UPDATE_GOLDEN=1."""

from __future__ import annotations

import os
import pathlib

import pytest

from tests.reports.conftest import Report, normalize

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden"
EXTENSIONS = {"text": "txt", "json": "json", "sarif": "sarif", "junit": "xml", "html": "html", "policyreport": "yaml"}


@pytest.mark.parametrize("fmt", list(EXTENSIONS))
def test_golden(fmt: str, report: Report) -> None:
    code, out = report(fmt)
    assert code == 2  # findings and an input error: errors win
    got = normalize(out[fmt])
    path = GOLDEN / f"report.{EXTENSIONS[fmt]}"
    if os.environ.get("PODSEC_UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), f"{path.name} differs; PODSEC_UPDATE_GOLDEN=1 rewrites it"
