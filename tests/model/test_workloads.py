"""Every pod-bearing kind gives the same findings as the bare pod, at the right paths."""

from __future__ import annotations

import copy

import pytest

from podsec.evaluate import Context, evaluate_object
from podsec.findings import ObjectResult
from podsec.model.paths import format_path
from podsec.model.workloads import KindRule, KindTable
from tests.helpers import container_sc, context, evaluated, minimal_pod, tweak

POD = tweak(
    minimal_pod("restricted", 37),
    lambda p: (
        container_sc(p).pop("allowPrivilegeEscalation"),
        p["metadata"].update(annotations={"container.apparmor.security.beta.kubernetes.io/container1": "unconfined"}),
    ),
)
TEMPLATE = {"metadata": POD["metadata"], "spec": POD["spec"]}


def wrap(kind: str, api: str, path: tuple[str, ...]) -> dict:
    obj: dict = {"apiVersion": api, "kind": kind, "metadata": {"name": "w", "namespace": "ns"}}
    node = obj
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = copy.deepcopy(TEMPLATE)
    return obj


KINDS = [
    ("PodTemplate", "v1", ("template",)),
    ("ReplicationController", "v1", ("spec", "template")),
    ("ReplicaSet", "apps/v1", ("spec", "template")),
    ("Deployment", "apps/v1", ("spec", "template")),
    ("StatefulSet", "apps/v1", ("spec", "template")),
    ("DaemonSet", "apps/v1", ("spec", "template")),
    ("Job", "batch/v1", ("spec", "template")),
    ("CronJob", "batch/v1", ("spec", "jobTemplate", "spec", "template")),
    ("CronJob", "batch/v1beta1", ("spec", "jobTemplate", "spec", "template")),
    ("Rollout", "argoproj.io/v1alpha1", ("spec", "template")),
    ("DeploymentConfig", "apps.openshift.io/v1", ("spec", "template")),
    ("Service", "serving.knative.dev/v1", ("spec", "template")),
]

CTX = context("restricted")


def evaluate(obj: dict, ctx: Context = CTX) -> ObjectResult:
    return evaluated(obj, ctx)


# A bare Pod is evaluated as the API server prepares it: the AppArmor annotation is also
# copied into the container's field (podsec.model.prepare), so PSA names both. Templates are not.
SYNCED = "spec.containers[0].securityContext.appArmorProfile.type"


def test_bare_pod() -> None:
    got = evaluate(POD)
    assert [(f.check.id, format_path(f.field)) for f in got.findings] == [
        ("appArmorProfile", SYNCED),
        ("appArmorProfile", 'metadata.annotations["container.apparmor.security.beta.kubernetes.io/container1"]'),
        ("allowPrivilegeEscalation", "spec.containers[0].securityContext.allowPrivilegeEscalation"),
    ]
    assert 'forbidden AppArmor profiles (container "container1" and annotation must not' in got.verdicts[0][1]


@pytest.mark.parametrize(("kind", "api", "path"), KINDS, ids=[f"{k[0]}-{k[1]}" for k in KINDS])
def test_every_kind_matches_the_pod(kind: str, api: str, path: tuple[str, ...]) -> None:
    got = evaluate(wrap(kind, api, path))
    prefix = ".".join(path)
    assert [(f.check.id, format_path(f.field), f.message) for f in got.findings] == [
        (f.check.id, f"{prefix}.{format_path(f.field)}", f.message)
        for f in evaluate(POD).findings
        if format_path(f.field) != SYNCED
    ]
    assert got.verdicts == evaluate(wrap("Deployment", "apps/v1", ("spec", "template"))).verdicts
    assert "forbidden AppArmor profile (annotation must not set" in got.verdicts[0][1]


def test_objects_without_pods_are_ignored() -> None:
    assert evaluate_object({"apiVersion": "v1", "kind": "ConfigMap", "data": {}}, CTX, file=None) is None
    assert evaluate_object({"apiVersion": "v1", "kind": "Service", "spec": {}}, CTX, file=None) is None
    # a kind podsec does not know is evaluated when it carries a pod in a standard shape ...
    crd = {"apiVersion": "example.com/v1", "kind": "Deployment", "spec": {"template": TEMPLATE}}
    assert evaluate_object(crd, CTX, file=None) is not None
    # ... unless that is switched off (detectPodShapes: false)
    assert evaluate_object(crd, context("restricted", kinds=KindTable(detect_shapes=False)), file=None) is None
    # a ReplicationController without a template carries no pod (PSA skips it)
    assert evaluate_object({"apiVersion": "v1", "kind": "ReplicationController", "spec": {}}, CTX, file=None) is None


def test_custom_kind_from_config() -> None:
    ctx = context(
        "restricted", kinds=KindTable([KindRule("Runner", frozenset({"ex.com"}), template=("spec", "podTemplate"))])
    )
    obj = {"apiVersion": "ex.com/v2", "kind": "Runner", "metadata": {"name": "r"}, "spec": {"podTemplate": TEMPLATE}}
    assert [format_path(f.field) for f in evaluate(obj, ctx).findings][
        1
    ] == "spec.podTemplate.spec.containers[0].securityContext.allowPrivilegeEscalation"


def test_argo_workflow_templates_are_pods() -> None:
    wf = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "wf-"},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "templates": [
                {"name": "main", "steps": [[{"name": "a", "template": "work"}]]},
                {"name": "work", "container": {"name": "main", "image": "x", "securityContext": {"privileged": True}}},
            ],
        },
    }
    got = evaluate(wf)
    assert got.object.name == "wf-*"
    assert {(f.pod, f.check.id, format_path(f.field)) for f in got.findings} >= {
        ('template "work"', "privileged", "spec.templates[1].container.securityContext.privileged")
    }
    assert not any(f.check.id == "runAsNonRoot" for f in got.findings)  # inherited from the workflow spec


def test_wrong_types_are_errors_not_findings() -> None:
    obj = tweak(POD, lambda p: (container_sc(p).update(runAsUser="0"), p["spec"].update(volumes={})))
    out = evaluate_object(obj, CTX, file="f.yaml")
    assert isinstance(out, list)
    assert sorted(e.message for e in out) == [
        'Pod test: spec.containers[0].securityContext.runAsUser: expected an integer, got string "0" (remove the quotes)',
        "Pod test: spec.volumes: expected a list, got a mapping",
    ]
