"""The generated policies, evaluated offline, agree with `podsec scan`'s engine (and so PSA):
on every upstream PSA fixture at its level and version, and on every pod of the corpus."""

from __future__ import annotations

import os
import pathlib
from collections import Counter
from typing import Any

import pytest

from podsec import engine
from podsec.findings import InputError
from podsec.model import pod as podmodel
from podsec.model.standards import Level, PolicyVersion
from podsec.model.workloads import KindTable
from podsec.sources import kyaml
from podsec.sources.files import read_objects
from podsec.vap import admission, generate, inputs, policy

PSA_RESOURCES = {
    "Pod": ("", "pods"),
    "ReplicationController": ("", "replicationcontrollers"),
    "PodTemplate": ("", "podtemplates"),
    "Deployment": ("apps", "deployments"),
    "ReplicaSet": ("apps", "replicasets"),
    "StatefulSet": ("apps", "statefulsets"),
    "DaemonSet": ("apps", "daemonsets"),
    "Job": ("batch", "jobs"),
    "CronJob": ("batch", "cronjobs"),
}


def _compiled(level: str, kube: tuple[int, int]) -> tuple[list[policy.Policy], list[policy.Binding]]:
    objects = generate.build(level, PolicyVersion(None), kube)
    origin = policy.Origin(None, None)
    policies = [policy.compile_policy(o, origin, kube) for o in objects if o["kind"] == "ValidatingAdmissionPolicy"]
    bindings = [policy.read_binding(o, origin) for o in objects if o["kind"] == "ValidatingAdmissionPolicyBinding"]
    return policies, bindings


def _request(obj: dict[str, Any], namespace: str) -> admission.Request:
    group, resource = PSA_RESOURCES[obj["kind"]]
    obj = {**obj, "metadata": {**(obj.get("metadata") or {}), "namespace": namespace}}
    name = obj["metadata"].get("name") or ""
    return admission.Request("CREATE", group, "v1", obj["kind"], resource, "", name, namespace, obj, None)


def _namespace(labels: dict[str, str]) -> admission.Cluster:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t", "labels": labels}}
    return admission.Cluster({"t": ns}, [])


def _psa(obj: dict[str, Any], level: str, version: str) -> str | None:
    """PSA's denial text for the object's pod (podsec's engine), or None."""
    kinds = KindTable()
    (source,) = kinds.pod_sources(obj)
    policy_ = engine.select(Level(level), PolicyVersion.parse(version))
    view = podmodel.build_pod(obj, source)
    return engine.verdict(engine.evaluate(view, policy_), policy_)


@pytest.mark.parametrize("kube", [(1, 37), (1, 33)], ids=["k8s-1.37", "k8s-1.33"])
def test_every_upstream_fixture(psa_fixtures: pathlib.Path, kube: tuple[int, int]) -> None:
    counts: Counter[str] = Counter()
    for level in ("baseline", "restricted"):
        policies, bindings = _compiled(level, kube)
        enforce = [p for p in policies if p.name.endswith("-enforce")]
        for path in sorted(psa_fixtures.glob(f"{level}/v1.*/*/*.yaml")):
            version, verdict = path.parent.parent.name, path.parent.name
            pod = inputs._plain(kyaml.load_all(path.read_bytes())[0].data)
            labels = {f"{generate.PSA}enforce": level, f"{generate.PSA}enforce-version": version}
            outcome = admission.admit(_request(pod, "t"), enforce, bindings, _namespace(labels))
            minor = int(version.removeprefix("v1."))
            if minor > kube[1]:  # a cluster of that version evaluates newer labels as its own latest
                counts["newer than the cluster"] += 1
                continue
            assert outcome.allowed == (verdict == "pass"), (path, outcome.message)
            counts[verdict] += 1
            if kube >= (1, 35):  # messages exactly PSA's where CEL has sort/distinct/flatten
                want = _psa(pod, level, version)
                got = outcome.denials[0].message if outcome.denials else None
                assert got == want, path
                counts["same message"] += 1
    assert counts["pass"] + counts["fail"] + counts["newer than the cluster"] == 4537
    if kube >= (1, 35):
        assert counts["same message"] == 4537


def test_every_corpus_pod(corpus: pathlib.Path) -> None:
    """Pods are denied (enforce) and workloads warned about exactly when PSA's checks fail."""
    compiled = {level: _compiled(level, (1, 37)) for level in ("baseline", "restricted")}
    kinds = KindTable()
    counts: Counter[str] = Counter()
    for root, dirs, files in os.walk(corpus):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.lower().endswith((".yaml", ".yml", ".json")) or name.startswith("."):
                continue
            path = pathlib.Path(root, name)
            for item in read_objects(path.read_bytes(), str(path), kinds):
                if isinstance(item, InputError):
                    continue
                obj = inputs._plain(item.obj)
                if obj.get("kind") not in PSA_RESOURCES or obj.get("apiVersion") not in ("v1", "apps/v1", "batch/v1"):
                    continue
                sources = kinds.pod_sources(obj)
                if len(sources) != 1 or podmodel.validate_pod(obj, sources[0]):
                    counts["not a valid pod"] += 1
                    continue
                if obj["kind"] == "ReplicationController" and "template" not in (obj.get("spec") or {}):
                    continue
                for level in ("baseline", "restricted"):
                    policies, bindings = compiled[level]
                    mode = "enforce" if obj["kind"] == "Pod" else "warn"
                    chosen = [p for p in policies if p.name.endswith(f"-{mode}")]
                    labels = {f"{generate.PSA}{mode}": level}
                    outcome = admission.admit(_request(obj, "t"), chosen, bindings, _namespace(labels))
                    want = _psa(obj, level, "latest")
                    flagged = outcome.denials if mode == "enforce" else outcome.warnings
                    assert bool(flagged) == (want is not None), (path, obj.get("metadata"), want, flagged)
                    if want is not None:
                        first = flagged[0]
                        got = first if isinstance(first, str) else first.message
                        assert want.removeprefix("violates ") in got, (path, want, got)
                    counts[f"{level} {'denied' if want else 'allowed'}"] += 1
    assert sum(v for k, v in counts.items() if k.startswith("restricted")) > 1000
    print(dict(counts))
