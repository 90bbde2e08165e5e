"""The command line: exit codes, the JSON contract, stdin, text output."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from podsec.cli import main

DATA = pathlib.Path(__file__).resolve().parent / "data"
EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
PRIVILEGED = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: ns\nspec:\n  containers:\n  - name: app\n    securityContext:\n      privileged: true\n"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: pathlib.Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_exit_codes(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = write(tmp_path, "clean.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    bad = write(tmp_path, "bad.yaml", PRIVILEGED)
    broken = write(tmp_path, "broken.yaml", "a: [\n")
    assert run(capsys, "scan", clean)[0] == 0
    assert run(capsys, "scan", bad)[0] == 1
    assert run(capsys, "scan", bad, broken)[0] == 2  # 2 wins
    assert run(capsys, "scan", "--profile", "nope", clean)[0] == 2
    assert run(capsys, "scan", "--pss-version", "v1.01", clean)[0] == 2
    assert run(capsys, "scan", str(tmp_path / "missing.yaml"))[0] == 2


def test_json_contract(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "p.yaml", PRIVILEGED)
    broken = write(tmp_path, "z.yaml", "a: [\n")
    code, out, _ = run(capsys, "scan", "--profile", "baseline", "--format", "json", path, broken)
    doc = json.loads(out)
    assert code == 2
    assert doc["findings"] == [
        {
            "check": "privileged",
            "severity": "critical",
            "level": "baseline",
            "object": {"apiVersion": "v1", "kind": "Pod", "namespace": "ns", "name": "p"},
            "pod": None,
            "container": "app",
            "field": "spec.containers[0].securityContext.privileged",
            "file": path,
            "line": 10,
            "column": 7,
            "location": "field",
            "message": 'privileged (container "app" must not set securityContext.privileged=true)',
            "template": None,
        }
    ]
    assert doc["errors"] == [
        {
            "file": broken,
            "line": 2,
            "column": 1,
            "message": "invalid YAML: did not find expected node content (while parsing a flow node)",
        }
    ]
    assert doc["summary"] == {
        "files": 2,
        "documents": 2,
        "objects": 1,
        "findings": 1,
        "errors": 1,
        "suppressed": 0,
        "profile": "baseline:latest",
        "evaluatedVersion": "v1.37",
    }


def test_empty_json_is_valid(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "c.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    code, out, _ = run(capsys, "scan", "--format", "json", path)
    assert code == 0 and json.loads(out)["findings"] == [] and json.loads(out)["errors"] == []


def test_stdin_through_the_real_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "podsec", "scan", "--format", "json", "-"],
        input=PRIVILEGED.encode(),
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["findings"][0]["file"] == "-" and doc["summary"]["files"] == 1


def test_text_output(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "p.yaml", PRIVILEGED)
    code, out, _ = run(capsys, "scan", "--profile", "baseline", path)
    assert code == 1
    assert out.splitlines() == [
        path,
        "  Pod ns/p (line 1)",
        "        10:7  critical privileged container 'app': privileged (container \"app\" must not set securityContext.privileged=true)",
        "                       field: spec.containers[0].securityContext.privileged",
        "                       help: podsec checks show privileged",
        "",
        "1 finding (1 critical) in 1 workload across 1 file [baseline:latest, evaluated as v1.37]",
    ]
    assert "\x1b[" not in out  # no colours when not on a terminal


def test_directory_walk_skips_hidden_and_other_files(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "sub").mkdir()
    write(tmp_path, ".hidden/p.yaml", PRIVILEGED)
    write(tmp_path, "sub/p.yml", PRIVILEGED)
    write(tmp_path, "notes.txt", "not yaml")
    code, out, _ = run(capsys, "scan", "--format", "json", str(tmp_path))
    doc = json.loads(out)
    assert code == 1 and doc["summary"]["files"] == 1 and doc["findings"][0]["file"].endswith("sub/p.yml")
    code, out, _ = run(capsys, "scan", "--format", "json", "--exclude", "sub", str(tmp_path))
    assert json.loads(out)["summary"]["files"] == 0


def test_config_adds_a_kind_and_bad_config_is_exit_2(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write(tmp_path, "c.yaml", "kinds:\n- apiVersion: ex.com/v1\n  kind: Runner\n  podTemplate: spec.pod\n")
    obj = write(
        tmp_path,
        "r.yaml",
        "apiVersion: ex.com/v1\nkind: Runner\nmetadata:\n  name: r\nspec:\n  pod:\n    spec:\n"
        "      containers:\n      - name: a\n        securityContext:\n          privileged: true\n",
    )
    code, out, _ = run(capsys, "scan", "--config", cfg, "--format", "json", obj)
    assert (
        code == 1
        and json.loads(out)["findings"][0]["field"] == "spec.pod.spec.containers[0].securityContext.privileged"
    )
    bad = write(tmp_path, "bad.yaml", "kinds:\n- kind: X\n  apiVersion: v1\n  podTemplate: spec..x\n")
    code, _, err = run(capsys, "scan", "--config", bad, obj)
    assert code == 2 and "kinds[0].podTemplate" in err
    unknown = write(tmp_path, "unknown.yaml", "profiel: baseline\n")
    code, _, err = run(capsys, "scan", "--config", unknown, obj)
    assert code == 2 and 'unknown key "profiel"' in err


def test_parallel_scan_gives_the_same_results(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(12):
        write(tmp_path, f"p{i:02}.yaml", PRIVILEGED.replace("name: p", f"name: p{i}"))
    serial = run(capsys, "scan", "--format", "json", "--jobs", "1", str(tmp_path))
    parallel = run(capsys, "scan", "--format", "json", "--jobs", "2", str(tmp_path))
    assert serial == parallel and serial[0] == 1


def test_bundled_example_scans(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "scan", "--format", "json", str(EXAMPLES))
    doc = json.loads(out)
    assert code == 1 and doc["errors"] == [] and doc["summary"]["findings"] > 0


def test_internal_errors_never_show_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from podsec import scan

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(scan, "run", boom)
    code, _, err = run(capsys, "scan", write(tmp_path, "p.yaml", PRIVILEGED))
    assert code == 2 and "internal error: RuntimeError: kaboom" in err and "Traceback" not in err


def test_missing_paths_are_errors_not_files(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = write(tmp_path, "clean.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    code, out, _ = run(capsys, "scan", "--format", "json", clean, str(tmp_path / "missing.yaml"))
    summary = json.loads(out)["summary"]
    assert code == 2 and summary["files"] == 1 and summary["errors"] == 1
