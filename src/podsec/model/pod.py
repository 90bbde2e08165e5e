"""The pod view that every check reads: one per pod (or pod template) in an object.

`build_pod` validates the raw fields (wrong types become `TypeProblem`s, never
exceptions), then builds frozen views. Containers are visited in PSA's order: init
containers, then regular containers, then ephemeral containers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from podsec.model import schema, security
from podsec.model.paths import Path
from podsec.model.prepare import prepare_pod
from podsec.model.security import EffectiveSecurityContext, PodSecurityContext, Resolved

ContainerKind = Literal["initContainers", "containers", "ephemeralContainers"]
CONTAINER_KINDS: tuple[ContainerKind, ...] = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True, slots=True)
class HostPort:
    value: int
    path: Path


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class VolumeView:
    name: str
    path: Path
    sources: tuple[str, ...]  # the volume-source fields that are set, in schema order


@dataclass(frozen=True, slots=True)
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


class _Layers:
    """The mappings holding a pod's pod-level fields, looked up once; the first that sets a field wins."""

    __slots__ = ("maps", "paths")

    def __init__(self, root: Any, layers: Sequence[Path]) -> None:
        self.paths = layers
        self.maps = [(m, p) for p in layers if isinstance(m := get_path(root, p), dict)]

    def first(self, name: str) -> tuple[Any, Path]:
        for mapping, path in self.maps:
            value = mapping.get(name)
            if value is not None:
                return value, (*path, name)
        return None, (*self.paths[0], name)

    def resolved(self, name: str) -> Resolved[Any]:
        value, path = self.first(name)
        return Resolved(value, "pod" if value is not None else "unset", path)


def _containers(root: Any, src: PodSource) -> list[tuple[ContainerKind, Path, Any]]:
    found: list[tuple[ContainerKind, Path, Any]] = []
    for kind in CONTAINER_KINDS:  # PSA order, whatever order the sources are listed in
        for cs in src.containers:
            if cs.kind != kind:
                continue
            value = get_path(root, cs.path)
            if value is None:
                continue
            if cs.many:
                found.extend((kind, (*cs.path, i), c) for i, c in enumerate(value))
            else:
                found.append((kind, cs.path, value))
    return found


_POD_LEVEL = {k: v for k, v in schema.POD_SPEC.items() if not k.endswith("ontainers")}  # containers: per source
_CONTAINER_LIST = schema.ListOf(schema.CONTAINER)


def validate_pod(root: Any, src: PodSource) -> list[schema.TypeProblem]:
    """Every wrong-typed field podsec would read for this pod."""
    problems: list[schema.TypeProblem] = []
    for layer in src.layers:
        value = get_path(root, layer)
        schema.validate(value, _POD_LEVEL, layer, problems)
    for meta in src.metadata:
        schema.validate(get_path(root, meta), schema.METADATA, meta, problems)
    for cs in src.containers:
        value = get_path(root, cs.path)
        schema.validate(value, _CONTAINER_LIST if cs.many else schema.CONTAINER, cs.path, problems)
    return problems


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


def _volumes(layers: _Layers) -> tuple[VolumeView, ...]:
    raw, path = layers.first("volumes")
    views = []
    for i, vol in enumerate(raw or ()):
        vol = vol or {}
        found = [k for k, v in vol.items() if v is not None and k in _SOURCE_ORDER]
        sources = tuple(found if len(found) < 2 else sorted(found, key=_SOURCE_ORDER.__getitem__))
        views.append(VolumeView(vol.get("name") or "", (*path, i), sources))
    return tuple(views)


def build_pod(root: Any, src: PodSource) -> PodView:
    """Build the view of a pod whose fields passed `validate_pod` (a bare Pod as the API server
    prepares it: its paths stay those of the object as written)."""
    if src.bare_pod:
        root = prepare_pod(root)
    meta_path = src.metadata[0] if src.metadata else ("metadata",)
    annotations: Mapping[str, str] = {}
    annotations_path: Path = (*meta_path, "annotations")
    for mp in src.metadata:
        candidate = get_path(root, (*mp, "annotations"))
        if candidate:
            annotations, annotations_path = candidate, (*mp, "annotations")
            break
    layers = _Layers(root, src.layers)
    sc_raw, sc_path = layers.first("securityContext")
    pod_sc = security.pod_security_context(sc_raw, sc_path)
    os_raw, os_path = layers.first("os")
    return PodView(
        label=src.label,
        metadata_path=meta_path,
        spec_path=src.layers[0],
        annotations=annotations,
        annotations_path=annotations_path,
        host_network=layers.resolved("hostNetwork"),
        host_pid=layers.resolved("hostPID"),
        host_ipc=layers.resolved("hostIPC"),
        host_users=layers.resolved("hostUsers"),
        os_name=Resolved((os_raw or {}).get("name"), "pod" if os_raw else "unset", (*os_path, "name")),
        runtime_class_name=layers.first("runtimeClassName")[0],
        security_context=pod_sc,
        volumes=_volumes(layers),
        containers=tuple(_container(k, p, c, pod_sc) for k, p, c in _containers(root, src)),
        automount_token=layers.resolved("automountServiceAccountToken"),
        share_process_namespace=layers.resolved("shareProcessNamespace"),
        node_os=_node_os(layers),
    )


NODE_OS_LABELS = ("kubernetes.io/os", "beta.kubernetes.io/os")


def _node_os(layers: _Layers) -> Resolved[str]:
    """The OS a pod's ``nodeSelector`` asks for (``kubernetes.io/os``, or its deprecated beta label)."""
    selector, path = layers.first("nodeSelector")
    if isinstance(selector, dict):
        for label in NODE_OS_LABELS:
            value = selector.get(label)
            if isinstance(value, str):
                return Resolved(value, "pod", (*path, label))
    return Resolved(None, "unset", (*path, NODE_OS_LABELS[0]))
