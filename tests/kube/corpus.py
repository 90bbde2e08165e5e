"""Pods and workloads of ../shared/corpus, as the API server would be sent them.

Every object podsec finds a pod in (PSA's kinds and the CRDs podsec knows) gives the Pod that
its controller would create: the template's metadata and spec (Argo templates, whose pods
Argo assembles from several places, are left out). Fragments get what the server requires and
PSA never reads (`complete`). Pods are de-duplicated by content, so
the corpus' thousands of near-identical manifests cost one request each.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from podsec.model import pod as podmodel
from podsec.model.workloads import KindTable
from podsec.sources.files import Located, read_objects

KINDS = KindTable()

# Workload kinds PSA evaluates (warn and audit only), with their API path.
WORKLOADS: dict[tuple[str, str], str] = {
    ("v1", "ReplicationController"): "/api/v1/namespaces/{ns}/replicationcontrollers",
    ("v1", "PodTemplate"): "/api/v1/namespaces/{ns}/podtemplates",
    ("apps/v1", "Deployment"): "/apis/apps/v1/namespaces/{ns}/deployments",
    ("apps/v1", "ReplicaSet"): "/apis/apps/v1/namespaces/{ns}/replicasets",
    ("apps/v1", "StatefulSet"): "/apis/apps/v1/namespaces/{ns}/statefulsets",
    ("apps/v1", "DaemonSet"): "/apis/apps/v1/namespaces/{ns}/daemonsets",
    ("batch/v1", "Job"): "/apis/batch/v1/namespaces/{ns}/jobs",
    ("batch/v1", "CronJob"): "/apis/batch/v1/namespaces/{ns}/cronjobs",
}


@dataclass
class CorpusPod:
    pod: dict[str, Any]  # apiVersion, kind, metadata (annotations, labels), spec
    origins: list[str] = field(default_factory=list)  # "file:line kind" of every object giving this pod
    completed: bool = False  # a fragment made creatable (see `complete`)


IMAGE = "registry.k8s.io/pause:3.10"


def complete(spec: dict[str, Any]) -> bool:
    """Make a fragment creatable without touching anything PSA reads: a container without an
    image gets one, and volume mounts of volumes the fragment does not define are dropped
    (kustomize patches and chart snippets often leave both to another file). True if changed."""
    volumes = {v.get("name") for v in spec.get("volumes") or () if isinstance(v, dict)}
    changed = False
    for kind in ("initContainers", "containers"):
        for c in spec.get(kind) or ():
            if not isinstance(c, dict):
                continue
            if not c.get("image"):
                c["image"] = IMAGE
                changed = True
            mounts = c.get("volumeMounts")
            if isinstance(mounts, list):
                kept = [m for m in mounts if isinstance(m, dict) and m.get("name") and m.get("name") in volumes]
                if len(kept) != len(mounts):
                    c["volumeMounts"] = kept
                    changed = True
    return changed


@dataclass
class CorpusWorkload:
    obj: dict[str, Any]
    path: str  # API collection path, with {ns}
    origin: str


def _plain(value: Any) -> Any:
    """JSON-ready copy (podsec's position-carrying dicts and lists become plain ones)."""
    return json.loads(json.dumps(value))


def _files(root: pathlib.Path) -> Iterator[pathlib.Path]:
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith((".yaml", ".yml", ".json")):
                yield pathlib.Path(dirpath) / name


def objects(root: pathlib.Path) -> Iterator[tuple[str, Located]]:
    for path in _files(root):
        name = str(path.relative_to(root))
        for item in read_objects(path.read_bytes(), name, KINDS):
            if isinstance(item, Located):
                yield name, item


def collect(root: pathlib.Path) -> tuple[list[CorpusPod], list[CorpusWorkload], int]:
    """(unique pods, built-in workload objects, objects podsec cannot read as pods)."""
    pods: dict[str, CorpusPod] = {}
    workloads: list[CorpusWorkload] = []
    unreadable = 0
    for name, located in objects(root):
        obj = located.obj
        sources = KINDS.pod_sources(obj)
        origin = f"{name}:{located.line} {obj.get('kind')}"
        for src in sources:
            if len(src.layers) != 1 or podmodel.validate_pod(obj, src):
                unreadable += len(src.layers) == 1
                continue
            metadata = podmodel.get_path(obj, src.metadata[0])
            metadata = metadata if isinstance(metadata, Mapping) else {}
            meta: dict[str, Any] = {}
            for key in ("labels", "annotations"):
                if isinstance(metadata.get(key), Mapping):
                    meta[key] = _plain(metadata[key])
            spec = _plain(podmodel.get_path(obj, src.layers[0]))
            if not isinstance(spec, dict):
                continue  # a template without a spec: nothing to create
            completed = complete(spec)
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
            key = json.dumps(pod, sort_keys=True)
            pods.setdefault(key, CorpusPod(pod, completed=completed)).origins.append(origin)
        workload = WORKLOADS.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
        if workload and sources and not any(podmodel.validate_pod(obj, s) for s in sources):
            plain = _plain(obj)
            spec = podmodel.get_path(plain, sources[0].layers[0])
            if isinstance(spec, dict):
                complete(spec)
            workloads.append(CorpusWorkload(plain, workload, origin))
    return list(pods.values()), workloads, unreadable
