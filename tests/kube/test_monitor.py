"""``podsec monitor`` against the real API server, run as users run it (a process): metrics that
follow changes (a workload added, deleted, a namespace relabelled), readiness reports, one writer
among replicas (the Lease), a watch that expires (410) or loses the server, and the manifests the
server accepts. No controller manager runs here: owned objects are made explicitly."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from tests.kube import harness
from tests.kube.cluster import (
    container,
    create,
    debug_container,
    deployment_chain,
    install_policyreport_crds,
    install_prometheusrule_crd,
    pod,
    pod_spec,
    restricted,
    user_kubeconfig,
    workload,
)
from tests.kube.faultproxy import Fault, FaultProxy
from tests.kube.fixtures import NamespaceFactory

PRIVILEGED = pod_spec(container("app", privileged=True))


class Running:
    def __init__(self, proc: subprocess.Popen[bytes], log: pathlib.Path) -> None:
        self.proc, self.log = proc, log
        self.url = ""

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]

    def metrics(self) -> dict[str, float]:
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            text = r.read().decode()
        return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(podsec_\S+) (\S+)$", text, re.M)}

    def metric(self, name: str) -> float | None:
        return self.metrics().get(name)

    def status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return exc.code


def wait_for(check: Callable[[], bool], timeout: float = 30.0, what: str = "") -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


@pytest.fixture
def monitor(kube: harness.KubeEnv, tmp_path: pathlib.Path) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(*args: str, kubeconfig: pathlib.Path | None = None, ready: bool = True) -> Running:
        log = tmp_path / f"monitor-{len(started)}.log"
        cmd = [sys.executable, "-m", "podsec", "monitor", "--kubeconfig", str(kubeconfig or kube.kubeconfig),
               "--listen", "127.0.0.1:0", "--debounce", "0.2", "--lease-namespace", "default", *args]  # fmt: skip
        with log.open("wb") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env={**os.environ})
        running = Running(proc, log)
        started.append(running)

        def serving() -> bool:
            assert proc.poll() is None, log.read_text()
            found = [line for line in running.lines() if line.get("msg") == "serving"]
            if found:
                running.url = "http://" + found[0]["address"]
            return bool(found)

        wait_for(serving, 30, "the monitor serves")
        if ready:
            wait_for(lambda: running.status("/readyz") == 200, 60, "the monitor is ready")
        return running

    yield start
    for running in started:
        if running.proc.poll() is None:
            running.proc.terminate()
            running.proc.wait(20)


def _level(ns: str) -> str:
    return f'podsec_namespace_enforceable_level{{namespace="{ns}"}}'


def test_metrics_follow_the_cluster(
    kube: harness.KubeEnv, kube_namespace: NamespaceFactory, monitor: Callable[..., Running]
) -> None:
    ns = kube_namespace()
    deployment_chain(kube, ns, "web", pod_spec(restricted()), pods=3)
    m = monitor()
    assert m.status("/healthz") == 200
    wait_for(lambda: m.metric(_level(ns)) == 2.0, 10, "restricted is enforceable")
    assert m.metric(f'podsec_namespace_label_drift{{namespace="{ns}"}}') == 1.0
    evaluations = m.metric("podsec_evaluations_total") or 0

    create(kube, workload("Deployment", ns, "batch", PRIVILEGED, replicas=0))
    took = wait_for(lambda: m.metric(_level(ns)) == 0.0, 10, "a privileged template blocks baseline")
    assert took < 5
    key = f'podsec_violations{{check="privileged",level="baseline",namespace="{ns}"}}'
    assert m.metric(key) == 1.0
    assert (m.metric("podsec_evaluations_total") or 0) - evaluations == 1  # only what changed

    kube.kubectl("delete", "deployment", "batch", "-n", ns)
    wait_for(lambda: m.metric(_level(ns)) == 2.0, 10, "the deletion is seen")
    assert m.metric(key) is None

    create(kube, pod(ns, "plain", pod_spec(container("app"))))
    kube.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
    wait_for(lambda: m.metric(f'podsec_namespace_would_break{{namespace="{ns}"}}') == 1.0, 10, "would break")
    assert m.metric(f'podsec_namespace_enforced_level{{namespace="{ns}"}}') == 2.0
    latency = m.metric("podsec_change_to_metric_seconds_count")
    assert latency and latency > 0
    m.proc.terminate()
    assert m.proc.wait(20) == 0
    assert all(line["level"] in ("info", "warning") for line in m.lines())


def test_one_replica_writes_reports(
    kube: harness.KubeEnv, kube_namespace: NamespaceFactory, monitor: Callable[..., Running]
) -> None:
    install_policyreport_crds(kube)
    ns = kube_namespace()
    web, _, pods = deployment_chain(kube, ns, "web", pod_spec(container("app")), pods=2)
    lease = f"podsec-test-{ns}"
    first = monitor("--write-reports", "--lease-name", lease, "--lease-duration", "3")
    second = monitor("--write-reports", "--lease-name", lease, "--lease-duration", "3")
    wait_for(lambda: (first.metric("podsec_leader") or 0) + (second.metric("podsec_leader") or 0) == 1, 10, "1 leader")
    leader, other = (first, second) if first.metric("podsec_leader") == 1 else (second, first)

    def report_exists(uid: str) -> bool:
        path = f"/apis/wgpolicyk8s.io/v1alpha2/namespaces/{ns}/policyreports/podsec-{uid}"
        return kube.request("GET", path)[0] == 200

    wait_for(lambda: report_exists(web["metadata"]["uid"]), 15, "the leader writes the Deployment's report")
    assert not report_exists(pods[0]["metadata"]["uid"])  # a pod like its template: no report of its own
    debug_container(kube, ns, pods[0]["metadata"]["name"], privileged=True)
    wait_for(lambda: report_exists(pods[0]["metadata"]["uid"]), 15, "the debugged pod gets its own report")
    wait_for(lambda: kube.request("GET", f"/apis/wgpolicyk8s.io/v1alpha2/namespaces/{ns}/policyreports/"
                                  "podsec-readiness")[0] == 200, 15, "readiness report")  # fmt: skip
    assert (other.metric("podsec_reports_written_total") or 0) == 0
    status, held, _ = kube.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/default/leases/{lease}")
    assert status == 200 and held["spec"]["holderIdentity"].endswith(f"_{leader.proc.pid}")

    leader.proc.terminate()  # steps down: the other takes over
    assert leader.proc.wait(20) == 0
    wait_for(lambda: other.metric("podsec_leader") == 1.0, 15, "the other replica leads")


def test_watch_expiry_and_the_server_going_away(
    kube: harness.KubeEnv, kube_namespace: NamespaceFactory, monitor: Callable[..., Running], tmp_path: pathlib.Path
) -> None:
    with FaultProxy(kube) as proxy:
        config = tmp_path / "kubeconfig-proxy"
        config.write_text(proxy.kubeconfig())
        expired: list[int] = []

        def expire_pod_watch(method: str, path: str, n: int) -> Fault | None:
            if "/pods?" in path and "watch=true" in path and len(expired) < 1:
                expired.append(n)
                return Fault(watch_events=0)
            return None

        proxy.rules.append(expire_pod_watch)
        m = monitor(kubeconfig=config)
        wait_for(lambda: bool(expired), 10, "the pods watch expires")
        wait_for(lambda: (m.metric('podsec_watch_restarts_total{reason="gone",resource="pods"}') or 0) >= 1, 10,
                 "relisted after 410")  # fmt: skip
        ns = kube_namespace()
        create(kube, pod(ns, "later", PRIVILEGED))
        wait_for(lambda: m.metric(_level(ns)) == 0.0, 15, "current after the relist")

        down = [True]
        proxy.rules[:] = [lambda method, path, n: Fault(drop=True) if down[0] else None]
        proxy.cut()  # the watches in progress go too
        wait_for(lambda: any(k.startswith("podsec_list_failures") for k in m.metrics()), 30, "failures counted")
        assert m.status("/healthz") == 200  # alive, and saying what fails
        down[0] = False
        ns2 = kube_namespace()
        create(kube, pod(ns2, "after", PRIVILEGED))
        wait_for(lambda: m.metric(_level(ns2)) == 0.0, 60, "current again once the server is back")


def test_manifests_are_accepted_and_hardened(kube: harness.KubeEnv, tmp_path: pathlib.Path) -> None:
    from podsec.cli import main

    out = subprocess.run([sys.executable, "-m", "podsec", "monitor", "manifests", "--namespace", "podsec-mon"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    docs = [d for d in yaml.safe_load_all(out) if d]
    kinds = [d["kind"] for d in docs]
    assert kinds == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment",
                     "NetworkPolicy", "NetworkPolicy", "Service", "PrometheusRule"]  # fmt: skip
    kube.request(
        "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "podsec-mon"}}
    )
    applied = tmp_path / "monitor.yaml"
    applied.write_text(yaml.safe_dump_all([d for d in docs if d["kind"] != "PrometheusRule"]))
    result = kube.kubectl("apply", "--dry-run=server", "-f", str(applied), check=False)
    assert result.returncode == 0, result.stderr
    deployment = tmp_path / "deployment.yaml"
    deployment.write_text(yaml.safe_dump_all([d for d in docs if d["kind"] in ("Deployment", "NetworkPolicy")]))
    assert main(["scan", "--profile", "hardened", "--fail-on", "info", str(deployment)]) == 0
    role = docs[1]["rules"]
    writes = [r for r in role if set(r["verbs"]) - {"get", "list", "watch"}]
    assert [r["apiGroups"] for r in writes] == [["wgpolicyk8s.io"]]
    rules = {a["alert"] for a in docs[-1]["spec"]["groups"][0]["rules"]}
    assert {"PodsecNamespaceWouldBreak", "PodsecLabelDrift", "PodsecAuditStale", "PodSecurityDenials"} <= rules


def test_the_prometheus_rule_is_accepted(kube: harness.KubeEnv, kube_namespace: NamespaceFactory) -> None:
    """The PrometheusRule of `podsec monitor manifests` (the chart renders the same objects:
    tests/charts/test_monitor_chart.py) is accepted by the server once the Prometheus Operator's
    kind is served: a server-side dry run, then a create that reads back the same groups."""
    install_prometheusrule_crd(kube)
    ns = kube_namespace()
    out = subprocess.run([sys.executable, "-m", "podsec", "monitor", "manifests", "--namespace", ns],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    [rule] = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["metadata"]["namespace"] == ns
    path = f"/apis/monitoring.coreos.com/v1/namespaces/{ns}/prometheusrules"
    status, body, _ = kube.request("POST", path + "?dryRun=All", rule)
    assert status == 201, body
    assert kube.request("GET", f"{path}/{rule['metadata']['name']}")[0] == 404  # a dry run stores nothing
    status, body, _ = kube.request("POST", path, rule)
    assert status == 201, body
    status, stored, _ = kube.request("GET", f"{path}/{rule['metadata']['name']}")
    assert status == 200 and stored["spec"] == rule["spec"]
    assert all(r["expr"] and (r.get("alert") or r.get("record")) for g in stored["spec"]["groups"] for r in g["rules"])


def test_a_kind_it_may_not_watch_is_never_skipped(kube: harness.KubeEnv, monitor: Callable[..., Running]) -> None:
    rules = [
        {"apiGroups": [""], "resources": ["namespaces", "pods", "replicationcontrollers", "podtemplates"],
         "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]},  # not cronjobs
    ]  # fmt: skip
    m = monitor(kubeconfig=user_kubeconfig(kube, "limited-monitor", rules), ready=False)
    wait_for(lambda: (m.metric('podsec_list_failures_total{resource="cronjobs.batch"}') or 0) >= 1, 30, "counted")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(m.url + "/readyz", timeout=10)
    assert refused.value.code == 503 and b"cronjobs.batch" in refused.value.read()
    wait_for(lambda: any("forbidden" in str(line.get("error", "")).lower() for line in m.lines()), 10, "logged")
    assert m.metric("podsec_audit_last_success_timestamp_seconds") is None  # never claims a complete audit


def test_periodic_resync_lists_again_without_evaluating_again(
    kube: harness.KubeEnv, kube_namespace: NamespaceFactory, monitor: Callable[..., Running]
) -> None:
    """With ``--resync 1`` every kind is listed afresh each second (the watch request is cut short to
    the next resync, not left to run its 300 s): resyncs are counted and logged per kind, an object
    that did not change is not evaluated again, and a change made between resyncs is still seen."""
    ns = kube_namespace()
    create(kube, workload("Deployment", ns, "web", PRIVILEGED, replicas=0))
    m = monitor("--resync", "1")
    wait_for(lambda: m.metric(_level(ns)) == 0.0, 15, "the privileged template is seen")
    resyncs = 'podsec_watch_restarts_total{reason="resync",resource="deployments.apps"}'
    wait_for(lambda: (m.metric(resyncs) or 0) >= 1, 15, "a first resync")
    evaluations, first = m.metric("podsec_evaluations_total"), m.metric(resyncs) or 0
    wait_for(lambda: (m.metric(resyncs) or 0) >= first + 3, 20, "three more resyncs")
    assert m.metric("podsec_evaluations_total") == evaluations  # listed again, nothing evaluated again
    assert m.metric(_level(ns)) == 0.0
    logged = [line for line in m.lines() if line.get("msg") == "resync: listing again"]
    assert {"deployments.apps", "pods", "namespaces"} <= {line.get("resource") for line in logged}, logged[:3]
    kube.kubectl("delete", "deployment", "web", "-n", ns)
    wait_for(lambda: m.metric(_level(ns)) == 2.0, 15, "the deletion is seen between resyncs")
    m.proc.terminate()
    assert m.proc.wait(20) == 0
