"""``podsec audit`` when the API server misbehaves: a continue token that expired (410), throttling
(429), 5xx answers and the server going away mid-audit. The real server sits behind a proxy
(tests/kube/faultproxy.py) that injects each fault; everything else is the real server's."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from tests.kube import harness
from tests.kube.cluster import audit_json, container, create, pod, pod_spec, reported
from tests.kube.faultproxy import Fault, FaultProxy
from tests.kube.fixtures import NamespaceFactory


@pytest.fixture
def proxy(kube: harness.KubeEnv, tmp_path: pathlib.Path) -> Iterator[tuple[FaultProxy, pathlib.Path]]:
    with FaultProxy(kube) as p:
        config = tmp_path / "kubeconfig-proxy"
        config.write_text(p.kubeconfig())
        yield p, config


def _pods(kube: harness.KubeEnv, ns: str, n: int) -> set[tuple[str, str]]:
    for i in range(n):
        create(kube, pod(ns, f"p{i}", pod_spec(container("app", runAsUser=0))))
    return {("Pod", f"p{i}") for i in range(n)}


def test_an_expired_continue_token_restarts_the_list(
    kube: harness.KubeEnv, kube_namespace: NamespaceFactory, proxy: tuple[FaultProxy, pathlib.Path]
) -> None:
    p, config = proxy
    ns = kube_namespace()
    expected = _pods(kube, ns, 5)
    expired: list[int] = []

    def once(method: str, path: str, n: int) -> Fault | None:
        if "/pods?" in path and "continue=" in path and not expired:
            expired.append(n)
            return Fault(status=410)
        return None

    p.rules.append(once)
    code, report = audit_json(kube, "-n", ns, "--page-size", "2", kubeconfig=config)
    assert expired and code == 1
    assert reported(report) == expected and len(report["findings"]) == len({(f["object"]["name"], f["check"],
                                                                              f["container"], f["field"])
                                                                             for f in report["findings"]})  # fmt: skip
    assert report["cluster"]["partial"] is False

    p.rules[:] = [lambda m, path, n: Fault(status=410) if "/pods?" in path and "continue=" in path else None]
    code, report = audit_json(kube, "-n", ns, "--page-size", "2", kubeconfig=config)
    assert code == 2 and report["cluster"]["partial"] is True  # expired again: said, never a silent half list
    assert "cannot list pods" in report["errors"][0]["message"]


def test_throttling_and_server_errors_are_retried(
    kube: harness.KubeEnv, kube_namespace: NamespaceFactory, proxy: tuple[FaultProxy, pathlib.Path]
) -> None:
    p, config = proxy
    ns = kube_namespace()
    expected = _pods(kube, ns, 3)
    faults = iter([Fault(status=429, retry_after="0"), Fault(status=429, retry_after="1"), Fault(status=503)])
    p.rules.append(lambda m, path, n: next(faults, None) if "/pods?" in path else None)
    code, report = audit_json(kube, "-n", ns, kubeconfig=config)
    assert code == 1 and reported(report) == expected
    assert report["cluster"]["requests"]["throttled"] == 2 and report["cluster"]["requests"]["retried"] == 1


def test_the_server_going_away_mid_audit(
    kube: harness.KubeEnv, kube_namespace: NamespaceFactory, proxy: tuple[FaultProxy, pathlib.Path]
) -> None:
    p, config = proxy
    ns = kube_namespace()
    _pods(kube, ns, 2)
    gone: list[int] = []

    def away(method: str, path: str, n: int) -> Fault | None:
        if "/statefulsets" in path or gone:  # from the third kind on, nothing answers
            gone.append(n)
            return Fault(drop=True)
        return None

    p.rules.append(away)
    code, report = audit_json(kube, "-n", ns, "--request-timeout", "1", kubeconfig=config)
    assert code == 2 and report["cluster"]["partial"] is True
    failed = {e["file"].rsplit("/", 1)[1] for e in report["errors"]}
    assert {"statefulsets.apps", "pods"} <= failed
    assert all("the audit is partial" in e["message"] for e in report["errors"])
    assert len(gone) < 40  # once the server is gone, each remaining kind is tried once, not retried for long
