"""`podsec fix --write --unsafe` over a copy of the whole ../shared corpus (skipped without it):
every file still parses, only the lines an edit is on differ, a second run is a no-op, and a
re-scan finds exactly what fix said it left (needs a human, or a source file to change)."""

from __future__ import annotations

import json
import pathlib
import shutil
from collections import Counter
from typing import Any

import pytest

from podsec import kyaml
from podsec.cli import main
from tests.fixer.test_fix_formats import unexplained


def _key(f: dict[str, Any]) -> tuple[Any, ...]:
    o = f["object"]
    return f["file"], o["kind"], o["namespace"], o["name"], f["check"], f["field"], f["container"]


def test_fix_the_whole_corpus(
    corpus: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "corpus"
    shutil.copytree(corpus, work)
    monkeypatch.chdir(work)
    fixing = ["fix", "--write", "--unsafe", "--kustomize", "off", "--report", str(tmp_path / "report.json"), "."]
    assert main(fixing) == 2  # the corpus holds files Kubernetes would refuse (tests/test_corpus.py)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("podsec: error:")]
    report = json.loads((tmp_path / "report.json").read_text())
    changed = [f["file"] for f in report["files"] if f["changed"]]
    assert len(changed) > 1000 and len(report["fixed"]) > 10000 and not report["needsUnsafe"]
    for name in changed:
        before, after = (corpus / name).read_bytes(), (work / name).read_bytes()
        kyaml.load_all(after)  # still parses (JSON too: it is YAML)
        if name.endswith(".json"):
            assert json.loads(after) is not None
            continue
        odd = unexplained(before, after)
        assert not odd, (name, odd)
    assert main(["fix", "--unsafe", "--kustomize", "off", "."]) == 2
    out, err = capsys.readouterr()
    assert out == "", "a second run changes nothing"
    assert [line for line in err.splitlines() if line.startswith("podsec: error:")] == errors
    assert "; 0 files to change" in err
    main(["scan", "--format", "json", "--kustomize", "off", "."])
    rescan = json.loads(capsys.readouterr().out)
    left = Counter(_key(f) for f in report["needsHuman"] + report["suggested"])
    found = Counter(_key(f) for f in rescan["findings"])
    assert found == left
    print(
        f"\ncorpus: {len(changed)} files changed, {len(report['fixed'])} findings fixed, "
        f"{len(report['needsHuman'])} need a human, {len(report['suggested'])} suggested for source files"
    )
