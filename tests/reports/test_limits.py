"""Reports that fit where they go: SARIF within GitHub code scanning's limits, PolicyReports under
1 MiB per object, JUnit with a test case per workload — at corpus scale too."""

from __future__ import annotations

import json
import pathlib
import xml.etree.ElementTree as ET

import pytest
import yaml

from podsec.analysis.rules import ALL_RULES
from podsec.cli import main
from podsec.reporters.base import severity_rank
from podsec.reporters.sarif import SARIF_MAX_BYTES, SARIF_MAX_RESULTS, _fit

POD = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\n  namespace: ns\nspec:\n  hostPID: {host}\n"
    "  containers:\n  - name: app\n    image: x\n    securityContext:\n      privileged: {priv}\n---\n"
)


def many(tmp_path: pathlib.Path, count: int) -> pathlib.Path:
    path = tmp_path / "many.yaml"
    path.write_text(
        "".join(POD.format(i=i, host=str(i % 3 == 0).lower(), priv=str(i % 5 == 0).lower()) for i in range(count))
    )
    return path


def test_sarif_keeps_the_most_severe_and_says_what_was_left_out(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out.sarif"
    assert (
        main(["scan", "--no-progress", "--sarif-max-results", "50", "-o", f"sarif={out}", str(many(tmp_path, 60))]) == 1
    )
    run = json.loads(out.read_text())["runs"][0]
    results = run["results"]
    assert len(results) == 50
    kept = [severity_rank(r["properties"]["severity"]) for r in results]
    assert kept == sorted(kept) and results[0]["properties"]["severity"] == "critical"
    omitted = run["properties"]["omittedResults"]
    total = json.loads(_json_summary(tmp_path))["summary"]["findings"]
    assert omitted["total"] == total - 50 and sum(omitted["bySeverity"].values()) == total - 50
    left = min(severity_rank(s) for s in omitted["bySeverity"])
    assert left >= max(kept)  # nothing left out is more severe than what was kept
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "warning" and f"{total - 50:,} of {total:,} results left out" in note["message"]["text"]


def _json_summary(tmp_path: pathlib.Path) -> str:
    out = tmp_path / "out.json"
    main(["scan", "--no-progress", "-o", f"json={out}", str(tmp_path / "many.yaml")])
    return out.read_text()


def test_sarif_limit_options(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--sarif-max-results", "25001", str(tmp_path)]) == 2
    assert "--sarif-max-results must be between 1 and 25,000" in capsys.readouterr().err
    assert SARIF_MAX_RESULTS == 5_000 and SARIF_MAX_BYTES == 10_000_000


def test_sarif_size_bound() -> None:
    results = [{"ruleId": "x", "message": {"text": "m" * 1000}} for _ in range(100)]
    assert _fit(results, 5_000, 10**9) == 100
    n = _fit(results, 5_000, 20_000)
    assert 10 <= n < 20  # about 1 kB each
    assert len(json.dumps(results[:n], indent=1)) < 20_000


def test_policy_reports_are_split_under_the_size_limit(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from podsec.reporters import policyreport

    assert policyreport.MAX_OBJECT_BYTES < 1024 * 1024
    monkeypatch.setattr(policyreport, "MAX_OBJECT_BYTES", 40_000)  # the same split, on a small input
    out = tmp_path / "out.yaml"
    pods_only = ("--ignore", "defaultDenyIngress,defaultDenyEgress")  # the workloads' reports, not their namespace's
    main(["scan", "--no-progress", *pods_only, "-o", f"policyreport={out}", str(many(tmp_path, 40))])
    docs = list(yaml.safe_load_all(out.read_text()))
    with_passes = len(docs)
    assert len(docs) >= 3 and {d["metadata"]["namespace"] for d in docs} == {"ns"}
    assert [d["metadata"]["name"] for d in docs] == [f"podsec-{i + 1}" for i in range(len(docs))]
    for d in docs:
        assert len(json.dumps(d).encode()) < 40_000
        assert d["summary"]["pass"] == sum(1 for r in d["results"] if r["result"] == "pass")
    objects = {r["resources"][0]["name"] for d in docs for r in d["results"]}
    assert len(objects) == 40  # nothing lost in the split
    main(["scan", "--no-progress", *pods_only, "--no-passes", "-o", f"policyreport={out}", str(tmp_path / "many.yaml")])
    docs = list(yaml.safe_load_all(out.read_text()))
    assert sum(d["summary"]["pass"] for d in docs) == 0 and sum(d["summary"]["fail"] for d in docs) > 0
    assert len(docs) < with_passes


def test_reports_at_corpus_scale(corpus: pathlib.Path, tmp_path: pathlib.Path) -> None:
    sarif, junit, data = (tmp_path / n for n in ("o.sarif", "o.xml", "o.json"))
    main(["scan", "--no-progress", "-o", f"sarif={sarif}", "-o", f"junit={junit}", "-o", f"json={data}", str(corpus)])
    report = json.loads(data.read_text())
    summary = report["summary"]
    assert summary["findings"] > 10_000
    assert sarif.stat().st_size < SARIF_MAX_BYTES
    run = json.loads(sarif.read_text())["runs"][0]
    assert len(run["results"]) == SARIF_MAX_RESULTS
    assert run["properties"]["omittedResults"]["total"] == summary["findings"] - SARIF_MAX_RESULTS
    root = ET.parse(junit).getroot()
    beyond = {c.id for c in ALL_RULES}  # findings on objects that are not workloads
    others = {(f["file"], *f["object"].values()) for f in report["findings"] if f["check"] in beyond}
    assert others and int(root.get("tests") or 0) == summary["objects"] + summary["errors"] + len(others)


HUGE_POLICY = """package podsec.huge

deny[msg] {
  input.kind == "Pod"
  msg := concat("", [input.metadata.name, ": ", concat(" ", [c.name | c := input.spec.containers[_]])])
}
"""


def _wide_pod(tmp_path: pathlib.Path, containers: int) -> pathlib.Path:
    """A pod with many privileged containers of long names: one check's results and messages are huge."""
    names = "".join(
        f"  - name: c{i}-{'n' * 60}\n    image: x\n    securityContext: {{privileged: true}}\n"
        for i in range(containers)
    )
    path = tmp_path / "wide.yaml"
    path.write_text(
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: wide\n  namespace: ns\nspec:\n  containers:\n{names}"
    )
    return path


def test_sarif_stays_under_the_size_limit_with_many_input_errors(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from podsec.reporters import sarif

    monkeypatch.setattr(sarif, "SARIF_MAX_BYTES", 1_000_000)  # the same bound, on a small input
    broken = tmp_path / "broken.yaml"
    broken.write_text("".join(f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: [b{i}\n" for i in range(4_000)))
    out = tmp_path / "out.sarif"
    main(["scan", "--no-progress", "-o", f"sarif={out}", str(many(tmp_path, 600)), str(broken)])
    assert out.stat().st_size < 1_000_000
    run = json.loads(out.read_text())["runs"][0]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any("input errors left out" in n["message"]["text"] for n in notes)
    assert len(run["results"]) > 200  # the findings still have room


def test_a_huge_message_is_clipped_in_sarif_and_policy_reports(tmp_path: pathlib.Path) -> None:
    policy = tmp_path / "huge.rego"
    policy.write_text(HUGE_POLICY)
    pod = _wide_pod(tmp_path, 300)
    sarif, reports = tmp_path / "out.sarif", tmp_path / "out.yaml"
    main(
        [
            "scan",
            "--no-progress",
            "--policy",
            str(policy),
            "-o",
            f"sarif={sarif}",
            "-o",
            f"policyreport={reports}",
            str(pod),
        ]
    )
    run = json.loads(sarif.read_text())["runs"][0]
    assert sarif.stat().st_size < SARIF_MAX_BYTES
    (policy_result,) = [
        r for r in run["results"] if r["ruleId"] != "privileged" and "wide: c0-" in r["message"]["text"]
    ]
    assert len(policy_result["message"]["text"]) < 5_000 and "characters left out" in policy_result["message"]["text"]
    from podsec.reporters import policyreport

    docs = list(yaml.safe_load_all(reports.read_text()))
    assert all(len(json.dumps(d).encode()) < policyreport.MAX_OBJECT_BYTES for d in docs)
    fails = [r for d in docs for r in d["results"] if r["result"] == "fail"]
    clipped = {r["rule"] for r in fails if "characters left out" in r["message"]}
    assert clipped >= {"privileged", "podsec.huge.deny"} and all(len(r["message"]) < 5_000 for r in fails)


def test_policy_reports_can_be_applied_with_kubectl_apply() -> None:
    from podsec.reporters import policyreport

    # client-side `kubectl apply` copies the whole object into the last-applied-configuration
    # annotation, and the API server allows 256 KiB of annotations
    assert policyreport.MAX_OBJECT_BYTES <= 256 * 1024 - 8 * 1024
