"""SARIF reports of `podsec scan` carry, on each finding a safe fix remediates, that fix alone as
text replacements: applied to the file, they make exactly the edit `podsec fix` would make for it."""

from __future__ import annotations

import json
import pathlib

import pytest

from podsec import kyaml
from podsec.cli import main
from tests.conftest import SHARED
from tests.fixer.test_fix_formats import DEPLOYMENT, FOUR

SCHEMA = SHARED / "schemas" / "sarif-schema-2.1.0.json"


def _apply(text: str, replacements: list[dict]) -> str:  # type: ignore[type-arg]
    for r in sorted(replacements, key=lambda r: r["deletedRegion"]["charOffset"], reverse=True):
        start, length = r["deletedRegion"]["charOffset"], r["deletedRegion"]["charLength"]
        text = text[:start] + r["insertedContent"]["text"] + text[start + length :]
    return text


@pytest.mark.parametrize("source", [DEPLOYMENT, FOUR.replace("\n", "\r\n")])
def test_sarif_fixes_are_the_safe_fix_of_each_finding(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.yaml").write_bytes(("# a file before\n---\n" + source).encode())
    main(["scan", "-o", "sarif", "d.yaml"])
    doc = json.loads(capsys.readouterr().out)
    if SCHEMA.is_file():
        jsonschema = pytest.importorskip("jsonschema")
        jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(doc)
    results = doc["runs"][0]["results"]
    fixed = {r["ruleId"]: r for r in results if "fixes" in r}
    assert set(fixed) == {"allowPrivilegeEscalation", "capabilities_restricted", "seccompProfile_restricted"}
    assert all("fixes" not in r for r in results if r["ruleId"] in ("runAsNonRoot", "readOnlyRootFilesystem"))
    text = (tmp_path / "d.yaml").read_bytes().decode()
    for check, result in fixed.items():
        (change,) = result["fixes"][0]["artifactChanges"]
        assert change["artifactLocation"]["uri"] == "d.yaml"
        after = _apply(text, change["replacements"])
        data = kyaml.load_all(after.encode())[-1].data
        spec = data["spec"]["template"]["spec"]
        sc = spec["containers"][0].get("securityContext", {})
        if check == "allowPrivilegeEscalation":
            assert sc == {"allowPrivilegeEscalation": False} and "securityContext" not in spec
        elif check == "capabilities_restricted":
            assert sc == {"capabilities": {"drop": ["ALL"]}}
        else:
            assert spec["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}} and not sc
