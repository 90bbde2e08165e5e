"""The cluster edge's pure parts, without a server: report bounds, the rate limiter, PSA's
configuration file, and readiness decisions."""

from __future__ import annotations

import pathlib

import orjson
import pytest

from podsec.cluster import psaconfig, readiness
from podsec.cluster.api import RateLimiter
from podsec.cluster.reports import MAX_REPORT_BYTES, bounded
from podsec.model.objects import ObjectRef
from podsec.model.standards import Level, PolicyVersion


def _result(i: int, status: str, severity: str, message: str) -> dict[str, object]:
    return {"policy": "podsec-restricted", "rule": f"check{i}", "result": status, "severity": severity,
            "message": message, "properties": {"container": "c" * 300}}  # fmt: skip


def test_reports_stay_bounded_whatever_the_object() -> None:
    results = [_result(i, "pass", "low", "ok") for i in range(5000)]
    results += [_result(i, "fail", ("info", "high", "critical")[i % 3], "x" * 20_000) for i in range(3000)]
    kept, left = bounded(results, MAX_REPORT_BYTES)
    assert len(orjson.dumps(kept)) <= MAX_REPORT_BYTES
    assert left["passesLeftOut"] == "5000" and left["messagesClipped"] == "true"
    assert int(left["resultsLeftOut"]) == 3000 - len(kept) > 0
    severities = [r["severity"] for r in kept]
    assert severities == sorted(severities, key=("critical", "high", "info").index)  # the most severe kept
    small = [_result(1, "fail", "high", "short")]
    assert bounded(small, MAX_REPORT_BYTES) == (small, {})


def test_rate_limiter_is_a_token_bucket() -> None:
    now = [0.0]
    limiter = RateLimiter(10, 3, clock=lambda: now[0])
    for _ in range(3):
        limiter.acquire()
    assert limiter.waited == 0.0
    with pytest.raises(ValueError):
        RateLimiter(0, 1)


def test_psa_configuration_files(tmp_path: pathlib.Path) -> None:
    inner = tmp_path / "psa.yaml"
    inner.write_text("apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\n"
                     "defaults: {enforce: baseline, enforce-version: v1.30}\n"
                     "exemptions: {usernames: [system:serviceaccount:kube-system:replicaset-controller]}\n")  # fmt: skip
    outer = tmp_path / "admission.yaml"
    outer.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n"
                     "- name: PodSecurity\n  path: psa.yaml\n")  # fmt: skip
    config = psaconfig.load(str(outer))
    assert config.defaults.enforce.profile == "baseline" and str(config.defaults.enforce.version) == "v1.30"
    subject = readiness.Subject(ObjectRef("apps/v1", "Deployment", "shop", "web"), "u", True,
                                {"baseline:v1.37": "denied"}, creator="ReplicaSet")  # fmt: skip
    assert "replicaset-controller" in (subject.exempt(config) or "")
    judged = readiness.judge("shop", {}, [subject], config, PolicyVersion(37))
    assert judged.enforceable is Level.RESTRICTED and judged.exempted  # what the exempt controller makes never blocks
    for bad, message in (
        ("defaults: {enforce: strict}", '"strict" is not one of'),
        ("exemptions: {runtimeclasses: [x]}", 'unknown field "runtimeclasses"'),
        ("defaults: {enforce-version: v2}", "enforce-version"),
    ):
        inner.write_text("apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\n" + bad)
        with pytest.raises(psaconfig.PsaConfigError, match=message):
            psaconfig.load(str(inner))
    with pytest.raises(psaconfig.PsaConfigError, match="cannot read"):
        psaconfig.load(str(tmp_path / "missing.yaml"))


def test_readiness_of_a_namespace_with_running_and_template_blockers() -> None:
    ref = ObjectRef("v1", "Pod", "shop", "p")
    failing = readiness.Subject(ref, "1", False, {"baseline:v1.37": None, "restricted:v1.37": "denied: runAsNonRoot"})
    done = readiness.Subject(ObjectRef("v1", "Pod", "shop", "old"), "2", False,
                             {"baseline:v1.37": "denied: privileged"}, running=False)  # fmt: skip
    labels = {"pod-security.kubernetes.io/enforce": "privileged", "team": "x"}
    r = readiness.judge("shop", labels, [failing, done], psaconfig.PsaConfig(), PolicyVersion(37))
    assert r.enforceable is Level.BASELINE and r.drift and r.next_level is Level.RESTRICTED
    assert [b.ref.name for b in r.blockers[Level.RESTRICTED]] == ["p"]  # a terminated pod never blocks
    assert r.command() == ("kubectl label --overwrite namespace shop pod-security.kubernetes.io/enforce=baseline "
                           "pod-security.kubernetes.io/enforce-version=v1.37")  # fmt: skip
    assert r.as_dict()["labels"] == {"pod-security.kubernetes.io/enforce": "privileged"}
