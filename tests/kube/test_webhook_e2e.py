"""podsec's webhook end to end: the real API server calls it (URL client config, podsec's CA).

Namespaces opt in with ``podsec-e2e=<id>`` (the generated configurations, re-pointed by
tests/kube/webhook.py) plus podsec's own labels, so the API server's built-in PodSecurity
stays out of the way unless a test asks for it. Requests go through the matching kubectl,
as a user would send them.
"""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from podsec.admission import manifests
from tests.kube.fixtures import NamespaceFactory
from tests.kube.harness import KubeEnv
from tests.kube.webhook import PodsecWebhook

BAD_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "bad"},
    "spec": {"hostNetwork": True, "containers": [{"name": "app", "image": "registry.k8s.io/pause",
                                                  "securityContext": {"privileged": True}}]},
}  # fmt: skip
PLAIN_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "plain"},
    "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause"}]},
}
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": PLAIN_POD["spec"]},
    },
}
VALIDATING = 'admission webhook "pods.validate.podsec.io" denied the request: '


def _json(obj: dict[str, Any], **changes: Any) -> str:
    return json.dumps({**obj, **changes})


@pytest.fixture(scope="module")
def webhook(kube: KubeEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodsecWebhook]:
    hook = PodsecWebhook(kube, tmp_path_factory.mktemp("webhook"))
    hook.start()
    hook.register()
    try:
        yield hook
    finally:
        hook.unregister()
        hook.stop()


@pytest.fixture
def ns(webhook: PodsecWebhook, kube_namespace: NamespaceFactory) -> Callable[..., str]:
    """A fresh namespace that podsec's webhook serves, with these extra labels."""

    def make(**labels: str) -> str:
        return kube_namespace({**webhook.labels, **labels}, prefix="e2e")

    return make


def test_denial_is_worded_like_psa(kube: KubeEnv, ns: Callable[..., str], kube_namespace: NamespaceFactory) -> None:
    ours = ns(**{"podsec.io/enforce": "restricted"})
    psa = kube_namespace({"pod-security.kubernetes.io/enforce": "restricted"})
    mine = kube.kubectl("-n", ours, "create", "-f", "-", input=_json(BAD_POD), check=False)
    theirs = kube.kubectl("-n", psa, "create", "-f", "-", input=_json(BAD_POD), check=False)
    assert mine.returncode == theirs.returncode == 1
    psa_text = theirs.stderr.strip().removeprefix('Error from server (Forbidden): error when creating "STDIN": ')
    assert psa_text.startswith('pods "bad" is forbidden: violates PodSecurity "restricted:latest": host namespaces')
    assert mine.stderr.strip() == f'Error from server (Forbidden): error when creating "STDIN": {VALIDATING}{psa_text}'
    assert kube.kubectl("-n", ours, "get", "pod", "bad", check=False).returncode == 1  # nothing stored


def test_kubectl_shows_warnings_for_workloads(kube: KubeEnv, ns: Callable[..., str]) -> None:
    name = ns(**{"podsec.io/warn": "hardened"})
    out = kube.kubectl("-n", name, "apply", "-f", "-", input=_json(DEPLOYMENT))
    warnings = [line for line in out.stderr.splitlines() if line.startswith("Warning: ")]
    assert out.stdout.strip() == "deployment.apps/web created"
    assert any(
        w.startswith('Warning: would violate podsec "hardened:latest": allowPrivilegeEscalation') for w in warnings
    ), out.stderr
    assert len(warnings) >= 5


def test_stored_pod_carries_the_mutation(kube: KubeEnv, ns: Callable[..., str]) -> None:
    name = ns(**{"podsec.io/mutate": "true", "podsec.io/enforce": "restricted"})
    pod = {**PLAIN_POD, "spec": {**PLAIN_POD["spec"], "securityContext": {"runAsNonRoot": True}}}
    kube.kubectl("-n", name, "create", "-f", "-", input=_json(pod))  # restricted passes only thanks to the patch
    stored = json.loads(kube.kubectl("-n", name, "get", "pod", "plain", "-o", "json").stdout)
    assert stored["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = stored["spec"]["containers"][0]["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}


def test_server_side_dry_run_is_honoured(kube: KubeEnv, ns: Callable[..., str]) -> None:
    name = ns(**{"podsec.io/mutate": "true", "podsec.io/enforce": "baseline"})
    out = kube.kubectl("-n", name, "create", "--dry-run=server", "-o", "json", "-f", "-", input=_json(PLAIN_POD))
    assert json.loads(out.stdout)["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert kube.kubectl("-n", name, "get", "pod", "plain", check=False).returncode == 1  # not stored
    denied = kube.kubectl("-n", name, "create", "--dry-run=server", "-f", "-", input=_json(BAD_POD), check=False)
    assert denied.returncode == 1 and VALIDATING in denied.stderr and "baseline:latest" in denied.stderr


def test_ephemeral_containers_are_enforced(kube: KubeEnv, ns: Callable[..., str]) -> None:
    name = ns(**{"podsec.io/enforce": "baseline"})
    kube.kubectl("-n", name, "create", "-f", "-", input=_json(PLAIN_POD))
    denied = kube.kubectl(
        "-n", name, "debug", "plain", "--image=busybox", "--profile=sysadmin", "-c", "dbg", check=False
    )
    assert denied.returncode == 1
    assert f'{VALIDATING}pods "plain" is forbidden: violates PodSecurity "baseline:latest": privileged' in denied.stderr
    allowed = kube.kubectl(
        "-n", name, "debug", "plain", "--image=busybox", "--profile=baseline", "-c", "dbg2", check=False
    )
    assert allowed.returncode == 0, allowed.stderr
    stored = json.loads(kube.kubectl("-n", name, "get", "pod", "plain", "-o", "json").stdout)
    assert [c["name"] for c in stored["spec"]["ephemeralContainers"]] == ["dbg2"]


def test_audit_annotations_reach_the_audit_log(kube: KubeEnv, ns: Callable[..., str]) -> None:
    name = ns(**{"podsec.io/audit": "restricted", "podsec.io/enforce": "baseline"})
    kube.kubectl("-n", name, "create", "-f", "-", input=_json(PLAIN_POD))
    deadline = time.monotonic() + 10
    while True:
        events = [
            e for e in kube.audit_events()
            if e.get("objectRef", {}).get("namespace") == name and e.get("objectRef", {}).get("name") == "plain"
            and e.get("verb") == "create" and e.get("stage") == "ResponseComplete"
        ]  # fmt: skip
        if events or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    (event,) = events
    notes = event["annotations"]
    assert notes["pods.validate.podsec.io/enforce-policy"] == "baseline:latest"
    assert notes["pods.validate.podsec.io/audit-violations"].startswith(
        'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false'
    )
    assert notes["pod-security.kubernetes.io/enforce-policy"] == "privileged:latest"  # the built-in PSA, unlabelled


def test_failure_policy_when_podsec_is_down(
    kube: KubeEnv, kube_namespace: NamespaceFactory, tmp_path: pathlib.Path
) -> None:
    hook = PodsecWebhook(kube, tmp_path)
    hook.start()
    hook.register()
    try:
        name = kube_namespace(hook.labels, prefix="down")
        hook.stop()  # podsec is down: pods fail closed (Fail), workloads open (Ignore)
        pod = kube.kubectl("-n", name, "create", "-f", "-", input=_json(PLAIN_POD), check=False)
        assert pod.returncode == 1
        assert 'failed calling webhook "pods.validate.podsec.io"' in pod.stderr
        deployment = kube.kubectl("-n", name, "create", "-f", "-", input=_json(DEPLOYMENT))
        assert deployment.stdout.strip() == "deployment.apps/web created"
    finally:
        hook.unregister()
        hook.stop()


@pytest.mark.parametrize("tls", ["secret", "cert-manager"])
def test_generated_manifests_are_accepted_by_the_server(kube: KubeEnv, tls: str) -> None:
    """`podsec webhook manifests`, server-side dry run (cert-manager's own kinds aside: no CRDs here)."""
    ca = (kube.workdir / "pki" / "ca.crt").read_bytes() if tls == "secret" else None
    options = manifests.Options(image="podsec:1", tls=tls, ca_bundle=ca)
    docs = [d for d in yaml.safe_load_all(manifests.render(options)) if d]
    namespace = next(d for d in docs if d["kind"] == "Namespace")
    kube.kubectl("apply", "-f", "-", input=json.dumps(namespace))  # objects in it need it to exist
    ours = [d for d in docs if not d["apiVersion"].startswith("cert-manager.io/")]
    assert len(ours) >= 8
    out = kube.kubectl(
        "apply", "--dry-run=server", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": ours})
    )
    assert out.stdout.count("(server dry run)") == len(ours), out.stdout
