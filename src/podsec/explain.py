"""`podsec explain`: the effective security context of every container, and where each value comes from.

Pure: builds rows from the same `PodView` the checks read, so what explain shows is
exactly what the checks saw. Rendering to text or JSON is done by the caller's writer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from podsec.evaluate import read_pods
from podsec.findings import InputError
from podsec.model import pod as podmodel
from podsec.model.objects import Located, ObjectRef
from podsec.model.paths import format_path, locate
from podsec.model.security import CONTAINER_ONLY_FIELDS, POD_ONLY_FIELDS, SHARED_FIELDS, Resolved
from podsec.model.workloads import KindTable
from podsec.textsafe import json_dumps, printable

UNSET = {
    "runAsUser": "runtime default applies: root (UID 0) unless the image sets USER",
    "runAsGroup": "runtime default applies: the root group (GID 0) unless the image sets one",
    "runAsNonRoot": "not enforced; the container may run as root",
    "seccompProfile": "Unconfined, unless the kubelet runs with seccompDefault (then RuntimeDefault)",
    "appArmorProfile": "the runtime's default profile, where AppArmor is enabled",
    "seLinuxOptions": "the runtime assigns a label, where SELinux is enabled",
    "windowsOptions": "the image's user (Windows only)",
    "privileged": "false",
    "allowPrivilegeEscalation": "true (no_new_privs is not set)",
    "capabilities": "the container runtime's default set (e.g. CHOWN, NET_RAW, SETUID ...)",
    "readOnlyRootFilesystem": "false (the root filesystem is writable)",
    "procMount": "Default (/proc is masked)",
    "fsGroup": "volumes keep their own ownership",
    "supplementalGroups": "only the image's groups",
    "sysctls": "none",
    "fsGroupChangePolicy": "Always (when fsGroup is set)",
    "hostNetwork": "false",
    "hostPID": "false",
    "hostIPC": "false",
    "hostUsers": "true (the host's user namespace)",
    "shareProcessNamespace": "false",
    "automountServiceAccountToken": "true, unless the ServiceAccount disables it",
    "os.name": "not declared; evaluated as a Linux pod",
}


@dataclass(frozen=True, slots=True)
class Row:
    field: str
    value: Any  # as written in the manifest; None when unset
    source: str  # "container", "pod" or "unset"
    path: str
    line: int | None
    note: str  # what an unset value means at run time

    def where(self, owner: str) -> str:
        """``container, line 31`` / ``inherited from pod, line 12`` / ``unset: ...``."""
        at = f", line {self.line}" if self.line else ""
        if self.source == "unset":
            return f"unset — {self.note}"
        if self.source == "pod" and owner == "container":
            return f"inherited from pod{at}"
        return f"{self.source}{at}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": self.value,
            "source": self.source,
            "path": self.path,
            "line": self.line,
            "note": self.note if self.source == "unset" else None,
        }


@dataclass(frozen=True, slots=True)
class ContainerRows:
    name: str
    kind: str
    path: str
    line: int | None
    rows: tuple[Row, ...]


@dataclass(frozen=True, slots=True)
class PodRows:
    label: str | None
    rows: tuple[Row, ...]
    containers: tuple[ContainerRows, ...]


@dataclass(frozen=True, slots=True)
class Explained:
    object: ObjectRef
    file: str | None
    line: int | None
    pods: tuple[PodRows, ...]


_SHOWN_DEPTH = 32
"""Values nested deeper than this are shown as "…" (they are not security settings anyone writes)."""


def _plain(value: Any, depth: int = 0) -> Any:
    """A plain-JSON copy of a manifest value: bounded depth, non-finite numbers as text."""
    if isinstance(value, dict | list) and depth >= _SHOWN_DEPTH:
        return "\u2026"
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _row(obj: Any, name: str, r: Resolved[Any], offset: int) -> Row:
    pos = locate(obj, r.path) if r.is_set else None
    value = _plain(podmodel.get_path(obj, r.path)) if r.is_set else None
    return Row(name, value, r.source, format_path(r.path), pos.line + offset if pos else None, UNSET.get(name, ""))


def pod_rows(obj: Any, view: podmodel.PodView, line_offset: int = 0) -> PodRows:
    """The rows of one pod view (the same view the checks read)."""
    sc = view.security_context
    pod_fields: list[tuple[str, Resolved[Any]]] = [
        ("os.name", view.os_name),
        ("hostNetwork", view.host_network),
        ("hostPID", view.host_pid),
        ("hostIPC", view.host_ipc),
        ("hostUsers", view.host_users),
        ("shareProcessNamespace", view.share_process_namespace),
        ("automountServiceAccountToken", view.automount_token),
        *((name, getattr(sc, attr)) for attr, name in (*SHARED_FIELDS, *POD_ONLY_FIELDS)),
    ]
    containers = []
    for c in view.containers:
        eff = c.effective
        rows = tuple(
            _row(obj, name, getattr(eff, attr), line_offset) for attr, name in (*SHARED_FIELDS, *CONTAINER_ONLY_FIELDS)
        )
        pos = locate(obj, c.path)
        containers.append(
            ContainerRows(c.label, c.kind, format_path(c.path), pos.line + line_offset if pos else None, rows)
        )
    return PodRows(view.label, tuple(_row(obj, n, r, line_offset) for n, r in pod_fields), tuple(containers))


def from_views(
    obj: Mapping[str, Any],
    views: Sequence[podmodel.PodView],
    *,
    file: str | None,
    line_offset: int = 0,
    line: int | None = None,
) -> Explained:
    """The explanation of an object whose pod views are already built (as the evaluation has them)."""
    return Explained(ObjectRef.of(obj), file, line, tuple(pod_rows(obj, v, line_offset) for v in views))


def explain_object(
    obj: Mapping[str, Any], kinds: KindTable, *, file: str | None, line_offset: int = 0, line: int | None = None
) -> Explained | list[InputError] | None:
    """Rows for every pod and container of ``obj``; input errors when it cannot be read; None without a pod."""
    return explain(Located(obj, file, line, line_offset), kinds)


def explain(item: Located, kinds: KindTable) -> Explained | list[InputError] | None:
    """Rows for every pod and container of a located object, its pods read as evaluation reads
    them (`podsec.evaluate.read_pods`); input errors when it cannot be read; None without a pod."""
    pods = read_pods(item, kinds)
    if isinstance(pods, list):
        return pods
    if not pods.views:
        return None
    return from_views(item.obj, pods.views, file=item.file, line_offset=item.line_offset, line=item.line)


def describe(item: Located, views: Sequence[podmodel.PodView]) -> Mapping[str, Any]:
    """The JSON form of the explanation of pods already read (`podsec.evaluate.Describe`): what
    HTML reports show and Rego policies read as ``data.podsec``."""
    return as_data(from_views(item.obj, views, file=item.file, line_offset=item.line_offset, line=item.line))


_KIND_LABEL = {
    "initContainers": "init container",
    "containers": "container",
    "ephemeralContainers": "ephemeral container",
}


def _show(value: Any) -> str:
    if value is None:
        return "-"
    return printable(json_dumps(value, separators=(", ", ": ")))


def write_text(out: TextIO, items: Iterable[Explained | InputError]) -> None:
    last_file: str | None = None
    for item in items:
        if isinstance(item, InputError):
            out.write(f"error: {printable(str(item))}\n")
            continue
        if item.file != last_file:
            out.write(f"{printable(item.file or '-')}\n")
            last_file = item.file
        out.write(f"  {printable(str(item.object))}" + (f" (line {item.line})" if item.line else "") + "\n")
        for pod in item.pods:
            out.write(f"    pod{' ' + printable(pod.label) if pod.label else ''}\n")
            for row in pod.rows:
                out.write(f"      {row.field:<29} {_show(row.value):<22}  {row.where('pod')}\n")
            for c in pod.containers:
                at = f" (line {c.line})" if c.line else ""
                out.write(f"    {_KIND_LABEL.get(c.kind, c.kind)} {printable(c.name)}{at}\n")
                for row in c.rows:
                    out.write(f"      {row.field:<29} {_show(row.value):<22}  {row.where('container')}\n")
        out.write("\n")


def as_data(item: Explained) -> dict[str, Any]:
    """The JSON form of one explained object (also ``data.podsec`` for Rego policies)."""
    o = item.object
    return {
        "object": {"apiVersion": o.api_version, "kind": o.kind, "namespace": o.namespace, "name": o.name},
        "file": item.file,
        "line": item.line,
        "pods": [
            {
                "pod": pod.label,
                "fields": [r.as_dict() for r in pod.rows],
                "containers": [
                    {
                        "name": c.name,
                        "kind": c.kind,
                        "path": c.path,
                        "line": c.line,
                        "fields": [r.as_dict() for r in c.rows],
                    }
                    for c in pod.containers
                ],
            }
            for pod in item.pods
        ],
    }


def write_json(out: TextIO, items: Iterable[Explained | InputError]) -> None:
    objects, errors = [], []
    for item in items:
        if isinstance(item, InputError):
            errors.append(item.as_dict())
        else:
            objects.append(as_data(item))
    out.write(json_dumps({"objects": objects, "errors": errors}, indent=1))
    out.write("\n")
