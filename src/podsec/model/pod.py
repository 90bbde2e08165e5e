"""The pod view that every check reads: one per pod (or pod template) in an object.

`build_pod` validates the raw fields (wrong types become `TypeProblem`s, never
exceptions), then builds frozen views. Containers are visited in PSA's order: init
containers, then regular containers, then ephemeral containers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from podsec.model import schema, security
from podsec.model.paths import Path
from podsec.model.prepare import prepare_pod
from podsec.model.security import EffectiveSecurityContext, PodSecurityContext, Resolved

ContainerKind = Literal["initContainers", "containers", "ephemeralContainers"]
CONTAINER_KINDS: tuple[ContainerKind, ...] = ("initContainers", "containers", "ephemeralContainers")


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention (CONTRIBUTING.md, "Hot values")
class HostPort:
    value: int
    path: Path


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention (CONTRIBUTING.md, "Hot values")
class HandlerHost:
    """A ``host`` of an httpGet/tcpSocket probe or lifecycle handler."""

    value: str
    path: Path


class Unnamed(str):
    """How a container without a name is shown: ``#N (unnamed)``, N counting from 1 in its list."""

    __slots__ = ()

    @classmethod
    def at(cls, path: Path) -> Unnamed:
        index = path[-1] if path and isinstance(path[-1], int) else 0
        return cls(f"#{index + 1} (unnamed)")


def display_name(name: str) -> str:
    """A container name as messages show it: quoted, or ``#N (unnamed)`` as it is."""
    return name if isinstance(name, Unnamed) else f'"{name}"'


class ContainerView(NamedTuple):  # a named tuple: cheap to make, and a pod may have 100,000 containers
    name: str
    kind: ContainerKind
    path: Path
    image: str | None
    effective: EffectiveSecurityContext
    host_ports: tuple[HostPort, ...]
    handler_hosts: tuple[HandlerHost, ...]

    @property
    def label(self) -> str:
        """The name, or ``#N (unnamed)`` for a container without one."""
        return self.name or Unnamed.at(self.path)


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention (CONTRIBUTING.md, "Hot values")
class VolumeView:
    name: str
    path: Path
    sources: tuple[str, ...]  # the volume-source fields that are set, in schema order


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention (CONTRIBUTING.md, "Hot values")
class PodView:
    """A pod or pod template, with everything the checks read."""

    label: str | None  # names the pod inside an object that holds several (e.g. Argo templates)
    metadata_path: Path
    spec_path: Path
    annotations: Mapping[str, str]
    annotations_path: Path
    host_network: Resolved[bool]
    host_pid: Resolved[bool]
    host_ipc: Resolved[bool]
    host_users: Resolved[bool]
    os_name: Resolved[str]
    runtime_class_name: str | None
    security_context: PodSecurityContext
    volumes: tuple[VolumeView, ...]
    containers: tuple[ContainerView, ...]
    automount_token: Resolved[bool]
    share_process_namespace: Resolved[bool]
    node_os: Resolved[str] = field(default_factory=lambda: Resolved(None, "unset", ()))  # nodeSelector's OS label

    @property
    def is_windows(self) -> bool:
        return self.os_name.value == "windows"

    @property
    def scheduled_on_windows(self) -> bool:
        """Windows by ``nodeSelector`` only (no ``spec.os.name``): PSA still judges it a Linux pod."""
        return self.os_name.value is None and self.node_os.value == "windows"

    @property
    def is_user_namespaced(self) -> bool:
        return self.host_users.value is False


@dataclass(frozen=True, slots=True)
class ContainerSource:
    """Where containers of one kind live: a list, or a single container (``many=False``)."""

    kind: ContainerKind
    path: Path
    many: bool = True


@dataclass(frozen=True, slots=True)
class PodSource:
    """Where one pod's parts live inside an object (from `workloads.pod_sources`).

    ``layers`` are the mappings that hold pod-level fields, first match wins (a plain
    pod has one: its spec). ``metadata`` likewise.
    """

    label: str | None
    metadata: tuple[Path, ...]
    layers: tuple[Path, ...]
    containers: tuple[ContainerSource, ...]
    # A bare Pod: evaluated as the API server prepares it for admission (`prepare.prepare_pod`).
    bare_pod: bool = False
    # Everything `validate_pod`/`build_pod` read: the template's annotations, the pod-level
    # mappings, and containers outside them (what an evaluation of this pod depends on).
    reads: tuple[Path, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        outside = tuple(c.path for c in self.containers if not any(c.path[: len(p)] == p for p in self.layers))
        annotations = tuple((*m, "annotations") for m in self.metadata)
        object.__setattr__(self, "reads", (*annotations, *self.layers, *outside))


def get_path(root: Any, path: Path) -> Any:
    """The value at ``path`` or None when any step is missing or of another type."""
    node = root
    for part in path:
        if isinstance(part, str):
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        else:
            if not isinstance(node, list) or not 0 <= part < len(node):
                return None
            node = node[part]
    return node


class _Parts:
    """The raw parts of one pod, each looked up once: the mappings of pod-level fields (the
    first that sets a field wins), the metadata and the container lists."""

    __slots__ = ("containers", "layers", "maps", "metadata")

    def __init__(self, root: Any, src: PodSource) -> None:
        self.layers = [(get_path(root, p), p) for p in src.layers]
        self.maps = [(m, p) for m, p in self.layers if isinstance(m, dict)]
        self.metadata = [(get_path(root, p), p) for p in src.metadata]
        self.containers = [(get_path(root, cs.path), cs) for cs in src.containers]

    def problems(self) -> list[schema.TypeProblem]:
        """Every wrong-typed field podsec would read for this pod."""
        problems: list[schema.TypeProblem] = []
        for value, path in self.layers:
            schema.validate(value, _POD_LEVEL, path, problems)
        for value, path in self.metadata:
            schema.validate(value, schema.METADATA, path, problems)
        for value, cs in self.containers:
            schema.validate(value, _CONTAINER_LIST if cs.many else schema.CONTAINER, cs.path, problems)
        return problems

    def first(self, name: str) -> tuple[Any, Path]:
        for mapping, path in self.maps:
            value = mapping.get(name)
            if value is not None:
                return value, (*path, name)
        return None, (*self.layers[0][1], name)

    def resolved(self, name: str) -> Resolved[Any]:
        value, path = self.first(name)
        return Resolved(value, "pod" if value is not None else "unset", path)

    def annotations(self) -> tuple[Mapping[str, str], Path]:
        """The first non-empty annotations, and where they are (or where they would go)."""
        for meta, path in self.metadata:
            found = meta.get("annotations") if isinstance(meta, dict) else None
            if found:
                return found, (*path, "annotations")
        return {}, (*(self.metadata[0][1] if self.metadata else ("metadata",)), "annotations")

    def container_values(self) -> list[tuple[ContainerKind, Path, Any]]:
        found: list[tuple[ContainerKind, Path, Any]] = []
        for kind in CONTAINER_KINDS:  # PSA order, whatever order the sources are listed in
            for value, cs in self.containers:
                if cs.kind != kind or value is None:
                    continue
                if cs.many:
                    found.extend((kind, (*cs.path, i), c) for i, c in enumerate(value))
                else:
                    found.append((kind, cs.path, value))
        return found


_POD_LEVEL = {k: v for k, v in schema.POD_SPEC.items() if not k.endswith("ontainers")}  # containers: per source
_CONTAINER_LIST = schema.ListOf(schema.CONTAINER)


def read_pod(root: Any, src: PodSource) -> PodView | list[schema.TypeProblem]:
    """The view of one pod, or every wrong-typed field that keeps it from being built (each part
    of the pod is looked up once). A bare Pod is read as the API server prepares it for
    admission; its paths stay those of the object as written."""
    parts = _Parts(root, src)
    problems = parts.problems()
    if problems:
        return problems
    if src.bare_pod:
        prepared = prepare_pod(root)
        if prepared is not root:
            parts = _Parts(prepared, src)
    return _build(parts, src)


def validate_pod(root: Any, src: PodSource) -> list[schema.TypeProblem]:
    """Every wrong-typed field podsec would read for this pod."""
    return _Parts(root, src).problems()


def build_pod(root: Any, src: PodSource) -> PodView:
    """The view of a pod whose fields passed `validate_pod`."""
    return _build(_Parts(prepare_pod(root) if src.bare_pod else root, src), src)


_HANDLER_FIELDS = frozenset({"livenessProbe", "readinessProbe", "startupProbe", "lifecycle"})


def _handler_hosts(raw: Mapping[str, Any], path: Path) -> tuple[HandlerHost, ...]:
    if _HANDLER_FIELDS.isdisjoint(raw):
        return ()
    hosts: list[HandlerHost] = []
    probes = [(raw.get(p), (*path, p)) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
    lifecycle = raw.get("lifecycle") or {}
    probes += [(lifecycle.get(h), (*path, "lifecycle", h)) for h in ("postStart", "preStop")]
    for handler, hpath in probes:
        if not handler:
            continue
        for action in ("httpGet", "tcpSocket"):
            host = (handler.get(action) or {}).get("host")
            if host:
                hosts.append(HandlerHost(host, (*hpath, action, "host")))
    return tuple(hosts)


def _container(kind: ContainerKind, path: Path, raw: Any, pod_sc: PodSecurityContext) -> ContainerView:
    data: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    raw_ports = data.get("ports")
    ports = (
        tuple(
            HostPort(int(p["hostPort"]), (*path, "ports", i, "hostPort"))
            for i, p in enumerate(raw_ports)
            if p and p.get("hostPort")
        )
        if raw_ports
        else ()
    )
    return ContainerView(
        name=data.get("name") or "",  # "" when unnamed: see ContainerView.label
        kind=kind,
        path=path,
        image=data.get("image"),
        effective=security.resolve(pod_sc, data.get("securityContext"), (*path, "securityContext")),
        host_ports=ports,
        handler_hosts=_handler_hosts(data, path),
    )


_SOURCE_ORDER = {name: i for i, name in enumerate(schema.VOLUME_SOURCES)}


def _volumes(parts: _Parts) -> tuple[VolumeView, ...]:
    raw, path = parts.first("volumes")
    views = []
    for i, vol in enumerate(raw or ()):
        vol = vol or {}
        found = [k for k, v in vol.items() if v is not None and k in _SOURCE_ORDER]
        sources = tuple(found if len(found) < 2 else sorted(found, key=_SOURCE_ORDER.__getitem__))
        views.append(VolumeView(vol.get("name") or "", (*path, i), sources))
    return tuple(views)


def _build(parts: _Parts, src: PodSource) -> PodView:
    annotations, annotations_path = parts.annotations()
    sc_raw, sc_path = parts.first("securityContext")
    pod_sc = security.pod_security_context(sc_raw, sc_path)
    os_raw, os_path = parts.first("os")
    return PodView(
        label=src.label,
        metadata_path=src.metadata[0] if src.metadata else ("metadata",),
        spec_path=src.layers[0],
        annotations=annotations,
        annotations_path=annotations_path,
        host_network=parts.resolved("hostNetwork"),
        host_pid=parts.resolved("hostPID"),
        host_ipc=parts.resolved("hostIPC"),
        host_users=parts.resolved("hostUsers"),
        os_name=Resolved((os_raw or {}).get("name"), "pod" if os_raw else "unset", (*os_path, "name")),
        runtime_class_name=parts.first("runtimeClassName")[0],
        security_context=pod_sc,
        volumes=_volumes(parts),
        containers=tuple(_container(k, p, c, pod_sc) for k, p, c in parts.container_values()),
        automount_token=parts.resolved("automountServiceAccountToken"),
        share_process_namespace=parts.resolved("shareProcessNamespace"),
        node_os=_node_os(parts),
    )


NODE_OS_LABELS = ("kubernetes.io/os", "beta.kubernetes.io/os")


def _node_os(parts: _Parts) -> Resolved[str]:
    """The OS a pod's ``nodeSelector`` asks for (``kubernetes.io/os``, or its deprecated beta label)."""
    selector, path = parts.first("nodeSelector")
    if isinstance(selector, dict):
        for label in NODE_OS_LABELS:
            value = selector.get(label)
            if isinstance(value, str):
                return Resolved(value, "pod", (*path, label))
    return Resolved(None, "unset", (*path, NODE_OS_LABELS[0]))
