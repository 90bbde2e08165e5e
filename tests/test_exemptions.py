"""Exemptions: annotations and config, containers and images, reasons, expiry, the switch, the outputs."""

from __future__ import annotations

import json
import pathlib
from datetime import date

import pytest

from podsec import kyaml
from podsec.cli import main
from podsec.config import ConfigError, parse
from podsec.evaluate import evaluate_object
from podsec.findings import ObjectResult
from podsec.model.paths import format_path
from tests.helpers import context

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
{annotations}
spec:
  template:
    spec:
      containers:
      - name: nginx
        image: docker.io/library/nginx:1.27
        securityContext:
          privileged: true
      - name: app
        image: registry.example/app:1
        securityContext:
          privileged: true
"""
TODAY = date(2026, 11, 23)


def manifest(**annotations: str) -> str:
    lines = "".join(f'    podsec.io/{k}: "{v}"\n' for k, v in annotations.items()) or "    other: x\n"
    return DEPLOYMENT.format(annotations=lines.rstrip("\n"))


def evaluate(text: str, **ctx: object) -> ObjectResult:
    (doc,) = kyaml.load_all(text.encode())
    outcome = evaluate_object(doc.data, context("baseline", today=TODAY, **ctx), file="d.yaml")
    assert isinstance(outcome, ObjectResult), outcome
    return outcome


def brief(result: ObjectResult) -> tuple[list[tuple[str, str | None]], list[tuple[str, str | None]]]:
    return (
        [(f.check.id, f.container) for f in result.findings],
        [(s.finding.check.id, s.finding.container) for s in result.suppressed],
    )


def test_no_exemption() -> None:
    assert brief(evaluate(manifest())) == ([("privileged", "nginx"), ("privileged", "app")], [])


def test_annotation_exempts_named_containers_only() -> None:
    result = evaluate(manifest(**{"exempt": "privileged", "exempt-containers": "nginx", "exempt-reason": "CNI plugin"}))
    assert brief(result) == ([("privileged", "app")], [("privileged", "nginx")])
    assert result.suppressed[0].exemption.as_dict() == {
        "source": "annotation",
        "checks": ["privileged"],
        "reason": "CNI plugin",
        "until": None,
        "where": "annotation podsec.io/exempt",
    }


def test_star_exempts_every_check_until_the_day_after_expiry() -> None:
    notes = {"exempt": "*", "exempt-reason": "legacy", "exempt-until": "2026-11-23"}
    assert brief(evaluate(manifest(**notes))) == ([], [("privileged", "nginx"), ("privileged", "app")])


def test_expired_annotation_stops_exempting_and_is_reported() -> None:
    notes = {"exempt": "privileged", "exempt-reason": "legacy", "exempt-until": "2026-11-22"}
    result = evaluate(manifest(**notes))
    assert brief(result) == ([("privileged", "nginx"), ("privileged", "app"), ("exemptionExpired", None)], [])
    expired = result.findings[-1]
    assert format_path(expired.field) == 'metadata.annotations["podsec.io/exempt"]'
    assert expired.line == 7 and expired.level == "governance"
    assert expired.message == (
        "exemption (annotation podsec.io/exempt for privileged expired on 2026-11-22; "
        "its findings are reported again. Reason given: legacy)"
    )


@pytest.mark.parametrize(
    ("notes", "why"),
    [
        ({"exempt": "privileged"}, "podsec.io/exempt needs a reason in podsec.io/exempt-reason"),
        ({"exempt": "privileged", "exempt-reason": "x", "exempt-until": "soon"}, '"soon" is not a date'),
        ({"exempt": " , ", "exempt-reason": "x"}, "podsec.io/exempt names no check"),
        ({"exempt-reason": "x"}, "podsec.io/exempt-reason is set but podsec.io/exempt"),
    ],
)
def test_unusable_annotations_are_reported_and_ignored(notes: dict[str, str], why: str) -> None:
    result = evaluate(manifest(**notes))
    assert [f.check.id for f in result.findings] == ["privileged", "privileged", "exemptionInvalid"]
    assert why in result.findings[-1].message
    assert result.suppressed == ()


def test_annotation_on_the_pod_template_counts() -> None:
    text = manifest().replace(
        "    spec:\n      containers:",
        '    metadata:\n      annotations:\n        podsec.io/exempt: privileged\n        podsec.io/exempt-reason: "r"\n'
        "    spec:\n      containers:",
    )
    assert brief(evaluate(text)) == ([], [("privileged", "nginx"), ("privileged", "app")])


def test_annotation_exemptions_can_be_switched_off() -> None:
    result = evaluate(manifest(exempt="privileged", **{"exempt-reason": "r"}), annotation_exemptions=False)
    assert brief(result) == ([("privileged", "nginx"), ("privileged", "app")], [])


def config_exemptions(entries: list[dict[str, object]]) -> tuple:  # type: ignore[type-arg]
    return parse({"exemptions": entries}, ".podsec.yaml").exemptions


def test_config_exemptions_match_by_globs_and_image() -> None:
    by_image = config_exemptions([{"checks": ["privileged"], "image": "docker.io/library/nginx:*", "reason": "r"}])
    assert brief(evaluate(manifest(), exemptions=by_image)) == ([("privileged", "app")], [("privileged", "nginx")])
    other_ns = config_exemptions([{"checks": ["*"], "namespace": "kube-*", "reason": "r"}])
    assert brief(evaluate(manifest(), exemptions=other_ns))[1] == []
    by_name = config_exemptions(
        [{"checks": "privileged", "kind": "Deployment", "name": "w*", "container": "a*", "reason": "r"}]
    )
    assert brief(evaluate(manifest(), exemptions=by_name)) == ([("privileged", "nginx")], [("privileged", "app")])


def test_expired_config_exemption_is_reported_where_it_would_apply() -> None:
    old = config_exemptions([{"checks": ["privileged"], "reason": "r", "until": "2020-01-01"}])
    result = evaluate(manifest(), exemptions=old)
    assert brief(result)[0][-1] == ("exemptionExpired", None)
    assert "config .podsec.yaml exemptions[0] for privileged expired on 2020-01-01" in result.findings[-1].message


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"checks": ["privileged"]}], "exemptions[0].reason: every exemption needs a reason"),
        ([{"checks": [], "reason": "r"}], "exemptions[0].checks: expected a list of check ids"),
        ([{"checks": ["nope"], "reason": "r"}], 'exemptions[0].checks: no such check "nope"'),
        (
            [{"checks": ["privileged"], "reason": "r", "until": "tomorrow"}],
            'exemptions[0].until: "tomorrow" is not a date',
        ),
        ([{"checks": ["privileged"], "reason": "r", "team": "x"}], 'exemptions[0]: unknown key "team"'),
        ("all", "exemptions: expected a list"),
    ],
)
def test_bad_config_exemptions(entries: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse({"exemptions": entries}, ".podsec.yaml")


def test_suppressed_findings_in_json_and_text(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(manifest(exempt="privileged", **{"exempt-containers": "nginx", "exempt-reason": "CNI"}))
    code = main(["scan", "--profile", "baseline", "--format", "json", str(path)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [f["container"] for f in doc["findings"]] == ["app"]
    assert [(s["container"], s["exemption"]["reason"]) for s in doc["suppressed"]] == [("nginx", "CNI")]
    assert doc["summary"]["suppressed"] == 1
    main(["scan", "--profile", "baseline", str(path)])
    assert "1 suppressed by exemptions" in capsys.readouterr().out
    code = main(["scan", "--profile", "baseline", "--no-annotation-exemptions", "--format", "json", str(path)])
    assert len(json.loads(capsys.readouterr().out)["findings"]) == 2
