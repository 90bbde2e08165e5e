"""podsec webhook manifests and cert: the objects pass podsec's own hardened profile and the
Kubernetes schema (kubernetes-validate); the certificate is what the API server needs."""

from __future__ import annotations

import json
import pathlib
import ssl
from typing import Any

import pytest
import yaml
from cryptography import x509

from podsec.admission import manifests as webhook_manifests
from podsec.admission.metrics import RESOURCES
from podsec.cli import main
from podsec.model.workloads import BUILTIN_RULES

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent

CERT_MANAGER = {"Issuer", "Certificate"}


def manifests(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:  # type: ignore[type-arg]
    assert main(["webhook", "manifests", *args]) == 0
    return list(yaml.safe_load_all(capsys.readouterr().out))


def test_manifests_pass_hardened_and_the_schema(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    import kubernetes_validate

    docs = manifests(capsys)
    kinds = [d["kind"] for d in docs]
    assert kinds == [
        "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Service",
        "PodDisruptionBudget", "NetworkPolicy", "NetworkPolicy", "Issuer", "Certificate",
        "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
    ]  # fmt: skip
    for doc in docs:
        if doc["kind"] in CERT_MANAGER:
            continue  # CRDs: not in the Kubernetes schema
        kubernetes_validate.validate(doc, "1.33", strict=True)
    path = tmp_path / "webhook.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    assert main(["scan", "--profile", "hardened", "--format", "json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["findings"] == 0

    deployment = next(d for d in docs if d["kind"] == "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 3 and spec["priorityClassName"] == "system-cluster-critical"
    [term] = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    pdb = next(d for d in docs if d["kind"] == "PodDisruptionBudget")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": deployment["spec"]["selector"]}  # 2 of 3 serve in a drain
    container = spec["containers"][0]
    assert container["resources"]["requests"] and container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    from podsec.admission.server import ServerSettings

    limit = int(container["resources"]["limits"]["memory"].removesuffix("Mi"))
    assert limit * 1024 * 1024 >= ServerSettings(workers=2).memory_bound() and limit % 64 == 0
    assert container["args"][container["args"].index("--workers") + 1] == "2"
    config = yaml.safe_load(next(d for d in docs if d["kind"] == "ConfigMap")["data"]["podsec.yaml"])
    assert config["webhook"]["annotationExemptions"] is False and config["webhook"]["failureMode"] == "deny"
    assert "annotationExemptions" not in config  # the scan setting does not reach the webhook
    deny, policy = (d for d in docs if d["kind"] == "NetworkPolicy")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}  # the namespace: default deny
    assert policy["spec"]["podSelector"] == deployment["spec"]["selector"]
    assert policy["metadata"]["annotations"]["podsec.io/exempt"] == "allowAllIngress, allowAllEgress"  # ports only
    assert policy["spec"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8443}]}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    validating = next(d for d in docs if d["kind"] == "ValidatingWebhookConfiguration")
    pods, workloads = validating["webhooks"]
    assert pods["failurePolicy"] == "Fail" and workloads["failurePolicy"] == "Ignore"
    for hook in (pods, workloads):
        assert (
            hook["sideEffects"] == "None" and hook["timeoutSeconds"] == 10 and hook["admissionReviewVersions"] == ["v1"]
        )
        assert hook["namespaceSelector"]["matchExpressions"][0] == {
            "key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "podsec", "cert-manager"],
        }  # fmt: skip
    assert "pods/ephemeralcontainers" in pods["rules"][0]["resources"]
    assert validating["metadata"]["annotations"] == {"cert-manager.io/inject-ca-from": "podsec/podsec-webhook"}


def test_cert_and_secret_mode(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["webhook", "cert", "--dir", str(tmp_path), "--namespace", "sec"]) == 0
    capsys.readouterr()
    cert = x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert "podsec-webhook.sec.svc" in names
    ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    ctx.load_verify_locations(cafile=str(tmp_path / "ca.crt"))
    assert (tmp_path / "tls.key").stat().st_mode & 0o077 == 0  # private
    docs = manifests(capsys, "--tls", "secret", "--ca-bundle", str(tmp_path / "ca.crt"), "--namespace", "sec")
    assert "Certificate" not in [d["kind"] for d in docs]
    hook = next(d for d in docs if d["kind"] == "ValidatingWebhookConfiguration")["webhooks"][0]
    import base64

    assert base64.b64decode(hook["clientConfig"]["caBundle"]) == (tmp_path / "ca.crt").read_bytes()
    assert main(["webhook", "manifests", "--tls", "secret"]) == 2
    hook = next(d for d in docs if d["kind"] == "ValidatingWebhookConfiguration")["webhooks"][0]
    assert "cert-manager" not in hook["namespaceSelector"]["matchExpressions"][0]["values"]


def test_network_policy_admits_only_the_api_server(capsys: pytest.CaptureFixture[str]) -> None:
    docs = manifests(capsys, "--api-server-cidr", "10.0.0.10/32", "--api-server-cidr", "fd00::10/128")
    policy = next(d for d in docs if d["metadata"]["name"] == "podsec-webhook" and d["kind"] == "NetworkPolicy")
    assert "annotations" not in policy["metadata"]  # it names the sources: nothing to exempt
    policy = policy["spec"]
    sources = [{"ipBlock": {"cidr": "10.0.0.10/32"}}, {"ipBlock": {"cidr": "fd00::10/128"}}]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8443}], "from": sources}]
    assert policy["egress"][0]["to"] == sources
    assert main(["webhook", "manifests", "--replicas", "1"]) == 2


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
def test_the_memory_limit_is_the_bound_of_the_server_the_manifests_start(
    workers: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """The limit is computed from `ServerSettings` defaults; the Deployment starts `webhook serve`
    with the flags' defaults: they must be the same bounds, or the limit would not hold them."""
    from podsec.admission.cli import server_settings_from
    from podsec.admission.server import ServerSettings
    from podsec.cli import build_parser

    docs = manifests(capsys, "--workers", str(workers))
    container = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    served = server_settings_from(build_parser().parse_args(container["args"]))
    assert served.workers == workers
    assert served.memory_bound() == ServerSettings(workers=workers).memory_bound()
    limit = int(container["resources"]["limits"]["memory"].removesuffix("Mi")) * 1024 * 1024
    assert 0 <= limit - served.memory_bound() < 64 * 1024 * 1024


def _workload_rules(rules: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    return [(r["apiGroups"][0], r["resources"]) for r in rules]


def test_the_webhook_registers_for_every_kind_of_the_kinds_table() -> None:
    """The resource list is derived from the kinds table: a kind added there is admitted too."""
    docs = list(yaml.safe_load_all(webhook_manifests.render(webhook_manifests.Options())))
    validating = next(d for d in docs if d["kind"] == "ValidatingWebhookConfiguration")
    pods, workloads = validating["webhooks"]
    registered = {(g, r) for g, resources in _workload_rules(workloads["rules"]) for r in resources}
    for rule in BUILTIN_RULES:
        if rule.kind == "Pod":
            assert pods["rules"][0]["resources"] == ["pods", "pods/ephemeralcontainers"]
            continue
        for group in rule.groups - rule.legacy:
            assert (group, rule.resource) in registered, rule
    assert ("argoproj.io", "clusterworkflowtemplates") in registered  # was missing before the list was derived
    assert ("extensions", "deployments") not in registered  # read in old manifests, served by no API server
    assert "clusterworkflowtemplates" in RESOURCES  # metrics label it by name, not as "other"


def test_the_charts_rules_are_the_kinds_table_s() -> None:
    text = (ROOT / "charts" / "podsec-webhook" / "templates" / "webhooks.yaml").read_text()
    lines = [line.strip()[2:] for line in text.splitlines() if "apiGroups" in line and 'apiVersions: ["*"]' in line]
    rules = [yaml.safe_load(line) for line in lines]
    assert _workload_rules(rules) == [(g, r) for g, r in webhook_manifests.WORKLOADS]
