"""``podsec vap test`` against a real API server (issue 19, item 3): users' own policies,
bindings, params and namespaces are created on a kube-apiserver of its own (their bindings may
select every namespace, so not the session's shared one), every resource is sent as a
server-side dry-run create, and the server's answer — admitted or denied, the denial's text,
the warnings — must equal what ``podsec vap test`` computes offline from the same files.

The scenarios cover matching (resource rules, namespace and object selectors, excluded
resources, workloads), match conditions (false skips; an error falls to the failure policy),
lazy variables, message expressions and their fallback, params with both
``parameterNotFoundAction``s, ``namespaceObject``, Warn and Deny, and Kubernetes' CEL libraries.
Two more scenarios are policies in the style of Kubescape's CEL admission library and of the
policies Gatekeeper generates from gatekeeper-library's pod-security-policy templates
(tests/data/vap/peer-style/: written for podsec, since neither library is served by a registry CI
may use), over pods and every workload kind, with ConfigMap and constraint (CRD) params.
Each scenario's bindings also require the label ``scenario: <n>`` on the namespace (added to
the same files offline and online), so scenarios, created together, do not see each other.
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from podsec.vap import admission, inputs
from tests.kube import harness
from tests.kube.fixtures import own_server

SCENARIOS: dict[str, str] = {
    "messages-and-variables": """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: images}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  variables:
  - {name: images, expression: "object.spec.containers.map(c, c.image)"}
  - {name: untagged, expression: "variables.images.filter(i, !i.contains(':') || i.endsWith(':latest'))"}
  - {name: broken, expression: "object.spec.nope"}
  validations:
  - expression: "size(variables.untagged) == 0"
    messageExpression: "'untagged images: ' + variables.untagged.join(', ')"
  - expression: "object.metadata.name.size() < 20"
    messageExpression: "string(variables.broken)"
    message: name too long
  - expression: "!object.metadata.name.startsWith('bad')"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: images}
spec: {policyName: images, validationActions: [Deny]}
---
apiVersion: v1
kind: Namespace
metadata: {name: s1, labels: {}}
---
apiVersion: v1
kind: Pod
metadata: {name: ok, namespace: s1}
spec: {containers: [{name: a, image: "nginx:1.27"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: untagged, namespace: s1}
spec: {containers: [{name: a, image: nginx}, {name: b, image: "redis:latest"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: a-name-that-is-far-too-long, namespace: s1}
spec: {containers: [{name: a, image: "nginx:1.27"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: bad, namespace: s1}
spec: {containers: [{name: a, image: "nginx:1.27"}]}
""",
    "match-conditions-and-failure-policy": """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: conditions}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  matchConditions:
  - {name: not-system, expression: "!object.metadata.name.startsWith('system-')"}
  - {name: labelled, expression: "object.metadata.labels.team != ''"}
  validations:
  - {expression: "object.metadata.labels.team in ['a', 'b']", message: unknown team}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: conditions}
spec: {policyName: conditions, validationActions: [Deny]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: lenient}
spec:
  failurePolicy: Ignore
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  validations:
  - {expression: "object.metadata.annotations.owner != ''", message: no owner}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: lenient}
spec: {policyName: lenient, validationActions: [Deny]}
---
apiVersion: v1
kind: Namespace
metadata: {name: s2}
---
apiVersion: v1
kind: Pod
metadata: {name: team-a, namespace: s2, labels: {team: a}}
spec: {containers: [{name: a, image: "nginx:1.27"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: team-z, namespace: s2, labels: {team: z}, annotations: {owner: me}}
spec: {containers: [{name: a, image: "nginx:1.27"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: system-z, namespace: s2, labels: {team: z}}
spec: {containers: [{name: a, image: "nginx:1.27"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: unlabelled, namespace: s2}
spec: {containers: [{name: a, image: "nginx:1.27"}]}
""",
    "params-and-namespace-object": """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replicas}
spec:
  failurePolicy: Fail
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}]
  validations:
  - expression: "object.spec.replicas <= int(params.data.max)"
    messageExpression: "'at most ' + params.data.max + ' replicas in ' + namespaceObject.metadata.name"
  - expression: "namespaceObject.metadata.labels.tier != 'gold' || object.spec.replicas >= 2"
    message: gold namespaces run two replicas or more
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: replicas-deny}
spec:
  policyName: replicas
  validationActions: [Deny]
  paramRef: {name: limits, parameterNotFoundAction: Deny}
  matchResources: {namespaceSelector: {matchLabels: {params: deny}}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: replicas-allow}
spec:
  policyName: replicas
  validationActions: [Warn]
  paramRef: {name: limits, parameterNotFoundAction: Allow}
  matchResources: {namespaceSelector: {matchLabels: {params: allow}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: s3-gold, labels: {tier: gold, params: deny}}
---
apiVersion: v1
kind: Namespace
metadata: {name: s3-none, labels: {params: deny}}
---
apiVersion: v1
kind: Namespace
metadata: {name: s3-warn, labels: {params: allow}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: limits, namespace: s3-gold}
data: {max: "3"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: limits, namespace: s3-warn}
data: {max: "1"}
""",
    "selectors-and-libraries": """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: libraries}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
    objectSelector: {matchExpressions: [{key: skip, operator: DoesNotExist}]}
  validations:
  - expression: >-
      object.spec.containers.all(c, !has(c.resources) || !has(c.resources.limits) ||
      !('memory' in c.resources.limits) || quantity(c.resources.limits.memory).compareTo(quantity('1Gi')) <= 0)
    message: memory limit above 1Gi
  - expression: "object.spec.containers.all(c, c.image.matches('^[a-z0-9./-]+(:[a-zA-Z0-9._-]+)?$'))"
    messageExpression: "'bad image reference in ' + object.metadata.name"
  - expression: >-
      !has(object.metadata.annotations) || !('docs' in object.metadata.annotations) ||
      (isURL(object.metadata.annotations.docs) && url(object.metadata.annotations.docs).getScheme() == 'https')
    message: docs must be an https URL
  - expression: >-
      !has(object.metadata.annotations) || !('egress' in object.metadata.annotations) ||
      (isCIDR(object.metadata.annotations.egress) && !cidr(object.metadata.annotations.egress).containsIP(ip('10.0.0.1')))
    message: egress must be a CIDR outside 10.0.0.0/8
  - expression: >-
      !has(object.metadata.labels) || !('version' in object.metadata.labels) ||
      (isSemver(object.metadata.labels.version) && semver(object.metadata.labels.version).major() >= 2)
    message: version 2 or newer
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: libraries}
spec:
  policyName: libraries
  validationActions: [Deny, Audit]
  matchResources:
    excludeResourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods], resourceNames: [excluded]}]
---
apiVersion: v1
kind: Namespace
metadata: {name: s4}
---
apiVersion: v1
kind: Pod
metadata: {name: fine, namespace: s4, labels: {version: "2.1.0"}, annotations: {docs: "https://example.com/x", egress: "192.168.0.0/16"}}
spec: {containers: [{name: a, image: "nginx:1.27", resources: {limits: {memory: 512Mi}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: greedy, namespace: s4}
spec: {containers: [{name: a, image: "nginx:1.27", resources: {limits: {memory: 2Gi}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: shouty, namespace: s4}
spec: {containers: [{name: a, image: "NGINX:1.27"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: plain-docs, namespace: s4, annotations: {docs: "http://example.com"}}
spec: {containers: [{name: a, image: "nginx:1.27"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: private, namespace: s4, annotations: {egress: "10.0.0.0/8"}}
spec: {containers: [{name: a, image: "nginx:1.27"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: old, namespace: s4, labels: {version: "1.9.0"}}
spec: {containers: [{name: a, image: "nginx:1.27"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: skipped, namespace: s4, labels: {skip: "yes", version: "0.1.0"}}
spec: {containers: [{name: a, image: "nginx:1.27"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: excluded, namespace: s4, labels: {version: "0.1.0"}}
spec: {containers: [{name: a, image: "nginx:1.27"}]}
""",
}

PEER_STYLE = pathlib.Path(__file__).parent.parent / "data" / "vap" / "peer-style"
SCENARIOS.update(
    {
        f"{style}-style": (PEER_STYLE / f"{style}-style.yaml").read_text()
        + "\n---\n"
        + (PEER_STYLE / f"{style}-resources.yaml").read_text()
        for style in ("kubescape", "gatekeeper")
    }
)

DEPLOYMENTS = [(ns, replicas) for ns in ("s3-gold", "s3-none", "s3-warn") for replicas in (1, 2, 5)]


def _documents(name: str, text: str) -> list[dict[str, Any]]:
    """The scenario's documents, each binding narrowed to namespaces labelled ``scenario: name``
    (and those namespaces labelled), plus its Deployments for the params scenario."""
    docs = [d for d in yaml.safe_load_all(text) if d]
    for doc in docs:
        if doc["kind"] == "ValidatingAdmissionPolicyBinding":
            match = doc["spec"].setdefault("matchResources", {})
            selector = match.setdefault("namespaceSelector", {})
            selector.setdefault("matchLabels", {})["scenario"] = name
        elif doc["kind"] == "Namespace":
            doc["metadata"].setdefault("labels", {})["scenario"] = name
    if name == "params-and-namespace-object":
        for ns, replicas in DEPLOYMENTS:
            labels = {"app": "web"}
            docs.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": f"web-{replicas}", "namespace": ns},
                    "spec": {
                        "replicas": replicas,
                        "selector": {"matchLabels": labels},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {"containers": [{"name": "a", "image": "nginx:1.27"}]},
                        },
                    },
                }
            )
    return docs


EXPECTED_COUNTS = {
    "messages-and-variables": 4,
    "match-conditions-and-failure-policy": 4,
    "params-and-namespace-object": 9,
    "selectors-and-libraries": 8,
    "kubescape-style": 13,
    "gatekeeper-style": 12,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.KubeEnv]:
    """A kube-apiserver of this module's own: users' bindings may select every namespace."""
    yield from own_server(tmp_path_factory, "kube-vap")


PATHS = {
    "ValidatingAdmissionPolicy": "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding": "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
    "Namespace": "/api/v1/namespaces",
    "ConfigMap": "/api/v1/namespaces/{ns}/configmaps",
    "Pod": "/api/v1/namespaces/{ns}/pods",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "ReplicaSet": "/apis/apps/v1/namespaces/{ns}/replicasets",
    "DaemonSet": "/apis/apps/v1/namespaces/{ns}/daemonsets",
    "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs",
    "CronJob": "/apis/batch/v1/namespaces/{ns}/cronjobs",
    "CustomResourceDefinition": "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
}
ADMITTED = ("Pod", "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job", "CronJob")
CONSTRAINTS = "constraints.podsec.example"  # the gatekeeper-style scenario's constraint CRDs' group
SETUP = ("Namespace", "ConfigMap", "constraint", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")


def _path(doc: dict[str, Any]) -> str:
    if doc["apiVersion"].startswith(CONSTRAINTS + "/"):  # a cluster-scoped constraint, plural = kind
        return f"/apis/{doc['apiVersion']}/{doc['kind'].lower()}"
    return PATHS[doc["kind"]].format(ns=doc["metadata"].get("namespace", ""))


def _setup_kind(doc: dict[str, Any]) -> str:
    return "constraint" if doc["apiVersion"].startswith(CONSTRAINTS + "/") else str(doc["kind"])


def _post(env: harness.KubeEnv, doc: dict[str, Any], dry_run: bool = False) -> tuple[int, Any, list[str]]:
    path = _path(doc)
    return env.request("POST", path + ("?dryRun=All" if dry_run else ""), doc)


def _sentinel(env: harness.KubeEnv) -> None:
    """Created last, a policy denying pods named ``sentinel``: once it denies, the API server's
    policy caches hold everything created before it (each cache is filled in creation order)."""
    for doc in yaml.safe_load_all(
        """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: sentinel}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  validations: [{expression: "object.metadata.name != 'sentinel'"}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: sentinel}
spec:
  policyName: sentinel
  validationActions: [Deny]
  matchResources: {namespaceSelector: {matchLabels: {sentinel: "yes"}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: sentinel, labels: {sentinel: "yes"}}
"""
    ):
        assert _post(env, doc)[0] == 201
    probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sentinel", "namespace": "sentinel"}}
    probe["spec"] = {"containers": [{"name": "a", "image": "nginx:1.27"}]}
    deadline = time.monotonic() + 120
    while (answer := _post(env, probe, dry_run=True))[0] == 201:
        assert time.monotonic() < deadline, f"the policies were not active after 120 s: {answer}"
        time.sleep(0.2)


def _define(env: harness.KubeEnv, crds: list[dict[str, Any]]) -> None:
    """Creates the constraint CRDs and waits (bounded) until each is served."""
    for crd in crds:
        status, answer, _ = _post(env, crd)
        assert status == 201, (crd["metadata"], answer)
    deadline = time.monotonic() + 120
    for crd in crds:
        path = f"/apis/{crd['spec']['group']}/v1beta1/{crd['spec']['names']['plural']}"
        while (answer := env.request("GET", path))[0] != 200:
            assert time.monotonic() < deadline, f"{path} not served after 120 s: {answer}"
            time.sleep(0.2)


def _await_params(env: harness.KubeEnv, probe: dict[str, Any]) -> None:
    """Waits (bounded) until a pod every gatekeeper-style policy admits is admitted: until then the
    API server may not yet resolve the policies' paramKind (a CRD created moments ago) and fails
    closed. The probe is compared with ``podsec vap test`` afterwards like every other resource."""
    deadline = time.monotonic() + 120
    while (answer := _post(env, probe, dry_run=True))[0] != 201:
        assert time.monotonic() < deadline, f"the constraint params were not resolved after 120 s: {answer}"
        time.sleep(0.5)


def test_offline_verdicts_equal_the_api_servers(server: harness.KubeEnv, tmp_path: pathlib.Path) -> None:
    scenarios = {name: _documents(name, text) for name, text in SCENARIOS.items()}
    _define(server, [d for docs in scenarios.values() for d in docs if d["kind"] == "CustomResourceDefinition"])
    for docs in scenarios.values():
        for kind in SETUP:
            for doc in docs:
                if _setup_kind(doc) == kind:
                    status, answer, _ = _post(server, doc)
                    assert status == 201, (doc["metadata"], answer)
    _sentinel(server)
    gatekeeper = scenarios["gatekeeper-style"]
    _await_params(server, next(d for d in gatekeeper if d["kind"] == "Pod" and d["metadata"]["name"] == "clean"))
    compared, per_scenario = 0, dict[str, int]()
    verdicts: dict[str, dict[str, int]] = {name: {} for name in scenarios}
    for name, docs in scenarios.items():
        policies, resources = tmp_path / f"{name}-policies.yaml", tmp_path / f"{name}.yaml"
        policies.write_text(yaml.safe_dump_all([d for d in docs if d["kind"].startswith("ValidatingAdmission")]))
        resources.write_text(yaml.safe_dump_all([d for d in docs if not d["kind"].startswith("ValidatingAdmission")]))
        loaded = inputs.load([str(policies)], [str(resources)], (1, 37))
        assert not loaded.errors, loaded.errors
        cluster = admission.Cluster(loaded.namespaces, loaded.objects, loaded.catalog)
        assert loaded.resources
        for resource in loaded.resources:
            obj = dict(resource.object)
            if obj["kind"] not in ADMITTED:
                continue  # the namespaces, CRDs and params, created above
            outcome = admission.admit(resource.request, loaded.policies, loaded.bindings, cluster)
            assert not outcome.unsupported, outcome.unsupported
            status, answer, warnings = _post(server, obj, dry_run=True)
            what = f"{name}: {obj['kind']} {obj['metadata']['namespace']}/{obj['metadata']['name']}"
            server_says, reason = None, None
            if status != 201:  # a Status: "<resource> "<name>" is forbidden: <podsec's text>", with the reason
                prefix = f"{resource.request.resource}.{resource.request.group}".rstrip(".")
                head = f'{prefix} "{obj["metadata"]["name"]}" is forbidden: '
                assert answer["message"].startswith(head), (what, status, answer)
                server_says, reason = answer["message"].removeprefix(head), answer["reason"]
            ours = outcome.denials[0].reason or "Invalid" if outcome.denials else None  # Invalid: the default
            assert (server_says, reason, warnings) == (outcome.message, ours, outcome.warnings), what
            compared += 1
            per_scenario[name] = per_scenario.get(name, 0) + 1
            verdict = "denied" if status != 201 else "warned" if warnings else "admitted"
            verdicts[name][verdict] = verdicts[name].get(verdict, 0) + 1
    print(f"\npodsec vap test against the API server: {compared}/{compared} resources agree {per_scenario}")
    print(verdicts)
    assert per_scenario == EXPECTED_COUNTS
    # the peer-style policies both deny and warn (so agreement is not agreement on "admitted")
    assert verdicts["kubescape-style"] == {"denied": 6, "warned": 2, "admitted": 5}
    assert verdicts["gatekeeper-style"] == {"denied": 6, "warned": 2, "admitted": 4}
