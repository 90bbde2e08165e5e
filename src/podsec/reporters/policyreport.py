"""``wgpolicyk8s.io/v1alpha2`` PolicyReports, so results can live in a cluster beside Kyverno's.

One ``PolicyReport`` per namespace, one ``ClusterPolicyReport`` for cluster-scoped
objects; a result per object and check evaluated: ``fail`` (with every message),
``pass``, or ``skip`` for an exempted check. Objects whose manifest names no
namespace are reported in ``default`` (where ``kubectl apply`` would put them without
``-n``), with the property ``namespace: unspecified``. The output is YAML documents,
ready for ``kubectl apply -f``.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

import yaml

from podsec.checks._base import Check
from podsec.findings import Finding, ObjectResult, Summary
from podsec.reporters.base import CATEGORY, Collected, RunInfo, clip, evaluated, relative

CLUSTER_SCOPED = frozenset(
    {
        "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
        "StorageClass", "PriorityClass", "RuntimeClass", "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration", "APIService", "CSIDriver", "IngressClass", "ClusterWorkflowTemplate",
    }
)  # fmt: skip
_STATUSES = ("pass", "fail", "warn", "error", "skip")


def _resource(obj: ObjectResult, namespace: str | None) -> dict[str, Any]:
    o = obj.object
    ref = {"apiVersion": o.api_version, "kind": o.kind, "name": o.name}
    if namespace:
        ref["namespace"] = namespace
    return ref


class PolicyReportReporter:
    def __init__(self, out: TextIO, run: RunInfo) -> None:
        self._out, self._run = out, run
        self._seen = Collected()

    def file(self, result: Any) -> None:
        self._seen.add(result)

    def _result(self, check: Check | None, check_id: str, status: str, obj: ObjectResult, namespace: str | None,
                found: list[Finding], extra: dict[str, str]) -> dict[str, Any]:  # fmt: skip
        level = check.level.value if check else (found[0].level if found else "policy")
        severity = found[0].severity if found else (check.severity.value if check else "medium")
        result: dict[str, Any] = {
            "policy": f"podsec-{level}",
            "rule": check_id,
            "result": status,
            "scored": True,
            "source": "podsec",
            "timestamp": {"seconds": int(self._run.started), "nanos": 0},
            "resources": [_resource(obj, namespace)],
        }
        if severity in ("critical", "high", "medium", "low", "info"):
            result["severity"] = severity
        elif severity == "error":  # the schema has no "error" severity: the API would reject the pod
            result["severity"] = "critical"
        if check is not None:
            result["category"] = CATEGORY[check.level]
        if found:
            result["message"] = clip("; ".join(f.message for f in found))
        elif check is not None:
            result["message"] = check.title
        props = dict(extra)
        if found:
            props["field"] = clip(", ".join(dict.fromkeys(f.field for f in found if f.field)))
            containers = clip(", ".join(dict.fromkeys(f.container for f in found if f.container)))
            if containers:
                props["container"] = containers
            props["line"] = str(found[0].line or "")
        file = relative(obj.file, self._run.base_dir)
        if file:
            props["file"] = file
        result["properties"] = {k: v for k, v in props.items() if v}
        return result

    def finish(self, summary: Summary) -> None:
        by_id = {c.id: c for c in self._run.checks}
        reports: dict[str | None, list[dict[str, Any]]] = {}
        for obj in self._seen.objects:
            cluster = obj.object.kind in CLUSTER_SCOPED
            namespace = None if cluster else (obj.object.namespace or "default")
            extra = {} if cluster or obj.object.namespace else {"namespace": "unspecified"}
            failing: dict[str, list[Finding]] = {}
            for f in obj.findings:
                failing.setdefault(f.check, []).append(f)
            skipped = {s.finding.check: s for s in obj.suppressed}
            results = reports.setdefault(namespace, [])
            ids = evaluated(self._run, obj)
            for check_id in [*ids, *(c for c in failing if c not in ids)]:
                check = by_id.get(check_id)
                if check_id in failing:
                    results.append(self._result(check, check_id, "fail", obj, namespace, failing[check_id], extra))
                elif check_id in skipped:
                    reason = {"exemption": skipped[check_id].exemption.reason}
                    results.append(self._result(check, check_id, "skip", obj, namespace, [], {**extra, **reason}))
                elif self._run.passes:
                    results.append(self._result(check, check_id, "pass", obj, namespace, [], extra))
        docs = []
        for namespace in sorted(reports, key=lambda n: (n is not None, n or "")):
            chunks = _split(reports[namespace], MAX_OBJECT_BYTES)
            for i, results in enumerate(chunks):
                name = "podsec" if len(chunks) == 1 else f"podsec-{i + 1}"
                meta: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/managed-by": "podsec"}}
                if namespace is not None:
                    meta["namespace"] = namespace
                docs.append(
                    {
                        "apiVersion": "wgpolicyk8s.io/v1alpha2",
                        "kind": "PolicyReport" if namespace is not None else "ClusterPolicyReport",
                        "metadata": meta,
                        "summary": {s: sum(1 for r in results if r["result"] == s) for s in _STATUSES},
                        "results": results,
                    }
                )
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: 20x faster than pure Python
        text = yaml.dump_all(docs, Dumper=dumper, sort_keys=False, default_flow_style=False, explicit_start=True)
        self._out.write(text)


MAX_OBJECT_BYTES = 240 * 1024
"""No report object is larger than this as JSON (what the API server stores): far below etcd's
1.5 MiB, and small enough for ``kubectl apply``, which copies the whole object into its
last-applied-configuration annotation (the API server allows 256 KiB of annotations)."""
_OVERHEAD = 2048  # apiVersion, kind, metadata and summary of one report


def _split(results: list[dict[str, Any]], limit: int) -> list[list[dict[str, Any]]]:
    """``results`` in consecutive chunks whose report objects stay under ``limit`` bytes."""
    chunks: list[list[dict[str, Any]]] = [[]]
    size = _OVERHEAD
    for r in results:
        n = len(json.dumps(r).encode()) + 2  # as spaced JSON: more than the API server stores
        if chunks[-1] and size + n > limit:
            chunks.append([])
            size = _OVERHEAD
        chunks[-1].append(r)
        size += n
    return chunks
