"""Check documentation: generated from metadata, committed, current, and its examples true."""

from __future__ import annotations

import json
import pathlib

import pytest

from podsec import catalog, docs
from podsec.analysis.rules import ALL_RULES, BeyondRule
from podsec.checks import ALL_CHECKS, Check
from podsec.cli import main

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "checks"


def test_readme_tables_are_current() -> None:
    """The README's tables of checks and kinds are generated from the registry and the kinds table."""
    readme = (DOCS.parent.parent / "README.md").read_text(encoding="utf-8")
    for name in docs.README_TABLES:
        assert f"<!-- generated: {name} " in readme and f"<!-- end of generated {name} -->" in readme, name
    assert docs.update_readme(readme) == readme, "README.md is stale: run `python -m podsec.docs --readme README.md`"
    assert "| ClusterWorkflowTemplate | `argoproj.io` | `clusterworkflowtemplates` |" in readme


def test_committed_docs_are_current() -> None:
    expected = docs.pages()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in DOCS.glob("*.md")}
    stale = sorted(name for name in expected.keys() | on_disk.keys() if expected.get(name) != on_disk.get(name))
    assert not stale, f"docs/checks is stale ({', '.join(stale)}): run `python -m podsec.docs docs/checks`"


@pytest.mark.parametrize("check", [*ALL_CHECKS, *ALL_RULES], ids=lambda c: c.id)
def test_examples_behave_as_documented(check: Check | BeyondRule) -> None:
    assert check.example is not None, f"{check.id} has no documented example"
    failing = docs.run_example(check, docs.example_manifest(check, check.example.failing))
    assert failing, "the failing example does not fail"
    assert all(f.line is not None for f in failing)
    fixed = docs.run_example(check, docs.example_manifest(check, check.example.fixed))
    assert fixed == [], "the fixed example still fails"


def test_every_check_has_the_metadata_its_page_needs() -> None:
    ids = [c.id for c in catalog.BUILTIN]
    assert len(ids) == len(set(ids))
    for c in catalog.BUILTIN:
        assert c.title and c.rationale and c.remediation, c.id


def test_checks_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(catalog.BUILTIN)
    assert lines[0].split()[:3] == ["appArmorProfile", "baseline", "medium"]
    assert any(line.startswith("runAsUserMinimum") and line.endswith("(off by default)") for line in lines)
    assert main(["checks", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} == {c.id for c in catalog.BUILTIN}
    assert main(["checks", "show", "readOnlyRootFilesystem", "--format", "markdown"]) == 0
    page = capsys.readouterr().out
    assert page.startswith("# `readOnlyRootFilesystem`: Root filesystem is writable")
    assert "## Failing example" in page and "## Fixed" in page and "## Remediation" in page
    assert main(["checks", "show", "readonlyrootfilesystem"]) == 0  # any case; rendered for a terminal
    text = capsys.readouterr().out
    assert text.startswith("readOnlyRootFilesystem: Root filesystem is writable\n=====")
    assert "Failing example" in text and "    apiVersion: v1" in text
    for markup in ("`", "**", "```", "| --- |", "## "):
        assert markup not in text
    assert main(["checks", "show", "nope"]) == 2
    assert 'no such check: "nope"' in capsys.readouterr().err
