"""Running a scan into report files, reproducibly (fixed time, fixed working directory)."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

import pytest

from podsec.cli import main

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "reports"
EPOCH = "1795392000"  # 2026-11-23 00:00:00 UTC

Report = Callable[..., tuple[int, dict[str, str]]]


@pytest.fixture
def report(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> Report:
    """report(*formats, paths=..., args=...) -> (exit code, {format: text}) for the fixture files."""

    def run(
        *formats: str,
        paths: tuple[str, ...] = ("rendered.yaml", "broken.yaml", "clean.yaml"),
        args: tuple[str, ...] = (),
    ) -> tuple[int, dict[str, str]]:
        monkeypatch.chdir(DATA)
        monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
        outputs = {fmt: tmp_path / f"out.{fmt}" for fmt in formats}
        spec = [a for fmt, path in outputs.items() for a in ("-o", f"{fmt}={path}")]
        code = main(["scan", "--profile", "restricted", "--no-progress", *args, *spec, *paths])
        return code, {fmt: path.read_text(encoding="utf-8") for fmt, path in outputs.items()}

    return run


def normalize(text: str) -> str:
    """Machine-specific parts of a report (the absolute working directory, the version) made fixed."""
    from podsec import __version__

    return text.replace(DATA.as_uri(), "file:///SRCROOT").replace(str(DATA), "/SRCROOT").replace(__version__, "VERSION")


__all__ = ["DATA", "EPOCH", "Report", "normalize", "os"]
