"""The pod view that every check reads: one per pod (or pod template) in an object.

`build_pod` validates the raw fields (wrong types become `TypeProblem`s, never
exceptions), then builds frozen views. Containers are visited in PSA's order: init
containers, then regular containers, then ephemeral containers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from mypy_extensions import mypyc_attr

from podsec.model import schema, security
from podsec.model.paths import Path
from podsec.model.prepare import APPARMOR_PREFIX, prepare_pod
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


@mypyc_attr(native_class=False)  # a subclass of a builtin: mypyc keeps it a Python class
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


@dataclass(slots=True, unsafe_hash=True, init=False)  # immutable by convention (CONTRIBUTING.md, "Hot values")
class VolumeView:
    name: str
    path: Path
    sources: tuple[str, ...]  # the volume-source fields that are set, in schema order

    def __init__(self, name: str, path: Path, sources: tuple[str, ...]) -> None:
        self.name, self.path, self.sources = name, path, sources


_UNSET_OS: Resolved[str] = Resolved(None, "unset", ())


@dataclass(slots=True, unsafe_hash=True, init=False)  # immutable by convention (CONTRIBUTING.md, "Hot values")
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
    node_os: Resolved[str]  # nodeSelector's OS label

    def __init__(  # one parameter per field
        self,
        label: str | None,
        metadata_path: Path,
        spec_path: Path,
        annotations: Mapping[str, str],
        annotations_path: Path,
        host_network: Resolved[bool],
        host_pid: Resolved[bool],
        host_ipc: Resolved[bool],
        host_users: Resolved[bool],
        os_name: Resolved[str],
        runtime_class_name: str | None,
        security_context: PodSecurityContext,
        volumes: tuple[VolumeView, ...],
        containers: tuple[ContainerView, ...],
        automount_token: Resolved[bool],
        share_process_namespace: Resolved[bool],
        node_os: Resolved[str] = _UNSET_OS,
    ) -> None:
        self.label, self.metadata_path, self.spec_path = label, metadata_path, spec_path
        self.annotations, self.annotations_path = annotations, annotations_path
        self.host_network, self.host_pid, self.host_ipc, self.host_users = host_network, host_pid, host_ipc, host_users
        self.os_name, self.runtime_class_name, self.security_context = os_name, runtime_class_name, security_context
        self.volumes, self.containers = volumes, containers
        self.automount_token, self.share_process_namespace, self.node_os = (
            automount_token,
            share_process_namespace,
            node_os,
        )

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
    # For a pod in the standard place (one spec, its metadata, the three container lists in the
    # spec): its paths and unset values, made once (`read_pod` reads such a pod in one pass).
    layout: _Layout | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        outside = tuple(c.path for c in self.containers if not any(c.path[: len(p)] == p for p in self.layers))
        annotations = tuple((*m, "annotations") for m in self.metadata)
        object.__setattr__(self, "reads", (*annotations, *self.layers, *outside))
        standard = len(self.layers) == 1 and len(self.metadata) == 1
        containers = tuple(ContainerSource(k, (*self.layers[0], k)) for k in CONTAINER_KINDS) if standard else ()
        layout = _Layout(self.layers[0], self.metadata[0]) if standard and self.containers == containers else None
        object.__setattr__(self, "layout", layout)


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
    admission; its paths stay those of the object as written.

    A pod in the standard place (a spec and its metadata) is read in one pass that checks each
    field's type as it reads it (`_read_standard`); anything that pass does not handle (a wrong
    type, a pod the API server's preparation changes, rare shapes) is read the general way,
    which says exactly what is wrong."""
    layout = src.layout
    if layout is not None:
        view = _read_standard(root, src, layout)
        if view is not None:
            return view
    return read_pod_generally(root, src)


def read_pod_generally(root: Any, src: PodSource) -> PodView | list[schema.TypeProblem]:
    """`read_pod` without its fast path: validate every field (`validate_pod`), then build the view."""
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


# The fast path (`read_pod`): a pod in the standard place, read in one pass.

_BOOLEANS = ("hostNetwork", "hostPID", "hostIPC", "hostUsers", "automountServiceAccountToken", "shareProcessNamespace")
_STRINGS = ("runtimeClassName", "serviceAccountName")  # the pod-level strings the schema types
_BOOLEAN_NAMES = frozenset(_BOOLEANS)
_new_tuple = tuple.__new__
_HANDLERS = {name: schema.CONTAINER[name] for name in _HANDLER_FIELDS}
_CACHED_CONTAINERS = 16  # a container's unset effective context is kept for the first few of each list


class _Layout:
    """What reading a pod in one place needs that its values do not change: the paths of its
    fields and the values of unset ones (shared by every view: views are immutable)."""

    __slots__ = ("annotations", "booleans", "containers", "metadata", "node_os", "node_os_unset", "os_name",
                 "os_unset", "pod_sc_path", "pod_sc_unset", "spec", "top_level", "unset_booleans",
                 "unset_effective", "volumes")  # fmt: skip

    def __init__(self, spec: Path, metadata: Path) -> None:
        self.spec = spec
        self.metadata = metadata
        self.annotations: Path = (*metadata, "annotations")
        self.top_level = len(spec) == 1 and len(metadata) == 1  # a bare Pod's spec and metadata
        # Each boolean: its name, and its value unset, true and false.
        self.booleans: tuple[tuple[str, Resolved[bool], Resolved[bool], Resolved[bool]], ...] = tuple(
            (name, Resolved(None, "unset", p), Resolved(True, "pod", p), Resolved(False, "pod", p))
            for name, p in ((name, (*spec, name)) for name in _BOOLEANS)
        )
        self.unset_booleans = tuple(unset for _, unset, _, _ in self.booleans)
        self.os_name: Path = (*spec, "os", "name")
        self.os_unset: Resolved[str] = Resolved(None, "unset", self.os_name)
        self.pod_sc_path: Path = (*spec, "securityContext")
        self.pod_sc_unset = security.pod_security_context(None, self.pod_sc_path)
        self.volumes: Path = (*spec, "volumes")
        self.containers = tuple((kind, (*spec, kind)) for kind in CONTAINER_KINDS)
        selector = (*spec, "nodeSelector")
        self.node_os = tuple((label, (*selector, label)) for label in NODE_OS_LABELS)
        self.node_os_unset: Resolved[str] = Resolved(None, "unset", (*selector, NODE_OS_LABELS[0]))
        # The effective context of a container that sets none, in a pod that sets none, by path.
        self.unset_effective: dict[Path, EffectiveSecurityContext] = {}

    def parts(self, root: Any) -> tuple[Any, Any]:
        """The raw spec and metadata (each None when absent or not reached)."""
        if self.top_level and isinstance(root, dict):
            return root.get(self.spec[0]), root.get(self.metadata[0])
        return get_path(root, self.spec), get_path(root, self.metadata)


def _read_standard(root: Any, src: PodSource, layout: _Layout) -> PodView | None:
    """The view of a pod in the standard place, each field's type checked as it is read; None
    when a field is not of its type or the API server's preparation would change the pod
    (`read_pod_generally` then reads it). Every value and path is what `_build` makes."""
    spec, meta = layout.parts(root)
    if not isinstance(spec, dict):
        return None
    annotations = _annotations(meta, src.bare_pod)
    booleans = _booleans(spec, layout, src.bare_pod)
    raw_os, raw_sc, volumes = spec.get("os"), spec.get("securityContext"), spec.get("volumes")
    os_name = layout.os_unset if raw_os is None else _os_name(raw_os, layout)
    pod_sc = layout.pod_sc_unset if raw_sc is None else _pod_security_context(raw_sc, layout)
    volume_views = () if volumes is None else _standard_volumes(volumes, layout.volumes)
    if annotations is None or booleans is None or os_name is None or pod_sc is None or volume_views is None:
        return None
    containers = _standard_containers(spec, pod_sc, layout)
    if containers is None:
        return None
    host_network, host_pid, host_ipc, host_users, automount, share = booleans
    selector = spec.get("nodeSelector")
    # Positional (PodView's field order): keywords cost twice as much as the whole call.
    return PodView(
        src.label,
        layout.metadata,
        layout.spec,
        annotations,
        layout.annotations,
        host_network,
        host_pid,
        host_ipc,
        host_users,
        os_name,
        spec.get("runtimeClassName"),
        pod_sc,
        volume_views,
        containers,
        automount,
        share,
        layout.node_os_unset if selector is None else _standard_node_os(selector, layout),
    )


def _booleans(spec: Mapping[str, Any], layout: _Layout, bare_pod: bool) -> Sequence[Resolved[bool]] | None:
    """The pod's booleans (`_BOOLEANS`), None when one is not a boolean, or when the pod-level
    strings are not strings, or a bare Pod's ``hostNetwork`` is true (`prepare_pod` defaults its ports)."""
    for name in _STRINGS:
        value = spec.get(name)
        if value is not None and not isinstance(value, str):
            return None
    if _BOOLEAN_NAMES.isdisjoint(spec):  # the common case
        return layout.unset_booleans
    booleans = []
    for name, unset, true, false in layout.booleans:
        value = spec.get(name)
        if value is None:
            booleans.append(unset)
        elif value is True:
            if bare_pod and name == "hostNetwork":
                return None
            booleans.append(true)
        elif value is False:
            booleans.append(false)
        else:
            return None
    return booleans


def _annotations(meta: Any, bare_pod: bool) -> Mapping[str, str] | None:
    """The annotations of pod metadata that fits `schema.METADATA` (``{}`` when none); None when
    it does not fit, or when a bare Pod carries an annotation `prepare_pod` reads (then the
    general path prepares it)."""
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        return None
    name, namespace, generate_name = meta.get("name"), meta.get("namespace"), meta.get("generateName")
    if (
        (name is not None and not isinstance(name, str))
        or (namespace is not None and not isinstance(namespace, str))
        or (generate_name is not None and not isinstance(generate_name, str))
    ):
        return None
    labels = meta.get("labels")
    annotations: Mapping[str, str] | None = meta.get("annotations")
    if not _strings(labels) or not _strings(annotations):
        return None
    if not annotations:
        return {}
    return None if bare_pod and _apparmor(annotations) else annotations


def _apparmor(annotations: Mapping[str, str]) -> bool:
    """Whether any annotation may be one `prepare_pod` syncs (AppArmor's, or a key of another type)."""
    return not all(isinstance(key, str) and not key.startswith(APPARMOR_PREFIX) for key in annotations)


def _strings(mapping: Any) -> bool:
    """Whether ``mapping`` is a mapping of strings, or None (`schema.MapOf` `schema.STR`)."""
    if mapping is None:
        return True
    if not isinstance(mapping, dict):
        return False
    for value in mapping.values():  # noqa: SIM110 (a loop: faster than all() over a generator)
        if value is not None and not isinstance(value, str):
            return False
    return True


def _os_name(raw: Any, layout: _Layout) -> Resolved[str] | None:
    if not isinstance(raw, dict):
        return None
    if not raw:
        return layout.os_unset
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        return None
    return Resolved(name, "pod", layout.os_name)


def _pod_security_context(raw: Any, layout: _Layout) -> PodSecurityContext | None:
    if not isinstance(raw, dict) or not schema.conforms(raw, schema.POD_SECURITY_CONTEXT):
        return None
    return security.pod_security_context(raw, layout.pod_sc_path)


def _standard_volumes(raw: Any, path: Path) -> tuple[VolumeView, ...] | None:
    if not isinstance(raw, list):
        return None
    views = []
    for i, vol in enumerate(raw):
        if not isinstance(vol, dict):
            return None
        name = vol.get("name")
        if name is not None and not isinstance(name, str):
            return None
        found = []
        for key, value in vol.items():
            if value is not None and key in _SOURCE_ORDER:
                if not isinstance(value, dict):
                    return None
                found.append(key)
        sources = tuple(found if len(found) < 2 else sorted(found, key=_SOURCE_ORDER.__getitem__))
        views.append(VolumeView(name or "", (*path, i), sources))
    return tuple(views)


def _standard_containers(
    spec: Mapping[str, Any], pod_sc: PodSecurityContext, layout: _Layout
) -> tuple[ContainerView, ...] | None:
    views = []
    for kind, path in layout.containers:
        raw = spec.get(kind)
        if raw is None:
            continue
        if not isinstance(raw, list):
            return None
        for i, c in enumerate(raw):
            view = _standard_container(kind, (*path, i), c, pod_sc, layout)
            if view is None:
                return None
            views.append(view)
    return tuple(views)


def _standard_container(
    kind: ContainerKind, path: Path, raw: Any, pod_sc: PodSecurityContext, layout: _Layout
) -> ContainerView | None:
    """`_container`, each field's type checked as it is read (None: one is not of its type)."""
    if not isinstance(raw, dict):
        return None
    name = raw.get("name")
    image = raw.get("image")
    if (name is not None and not isinstance(name, str)) or (image is not None and not isinstance(image, str)):
        return None
    sc = raw.get("securityContext")
    effective = layout.unset_effective.get(path) if sc is None and pod_sc is layout.pod_sc_unset else None
    if effective is None:  # not the common case of a pod and a container that set no context
        effective = _standard_effective(sc, path, pod_sc, layout)
    ports = raw.get("ports")
    host_ports = () if ports is None else _standard_ports(ports, path)
    if effective is None or host_ports is None:
        return None
    if _HANDLER_FIELDS.isdisjoint(raw):
        hosts: tuple[HandlerHost, ...] = ()
    elif schema.conforms(raw, _HANDLERS):
        hosts = _handler_hosts(raw, path)
    else:
        return None
    # tuple.__new__ is what ContainerView(...) calls, without its Python-level __new__ (a third of the cost)
    return _new_tuple(ContainerView, (name or "", kind, path, image, effective, host_ports, hosts))


def _standard_effective(
    raw: Any, path: Path, pod_sc: PodSecurityContext, layout: _Layout
) -> EffectiveSecurityContext | None:
    if raw is not None:
        if not isinstance(raw, dict) or not schema.conforms(raw, schema.CONTAINER_SECURITY_CONTEXT):
            return None
        return security.resolve(pod_sc, raw, (*path, "securityContext"))
    if pod_sc is not layout.pod_sc_unset:
        return security.resolve(pod_sc, None, (*path, "securityContext"))
    found = layout.unset_effective.get(path)
    if found is None:
        found = security.resolve(pod_sc, None, (*path, "securityContext"))
        if path[-1] < _CACHED_CONTAINERS:  # type: ignore[operator]
            layout.unset_effective[path] = found
    return found


def _standard_ports(raw: Any, path: Path) -> tuple[HostPort, ...] | None:
    """The host ports of a container's ports; None when one is not of its type (integers
    written as floats, too: `_container` converts those; the general path reads them)."""
    if not isinstance(raw, list):
        return None
    found = []
    for i, port in enumerate(raw):
        if port is None:
            continue
        if not isinstance(port, dict):
            return None
        host, container = port.get("hostPort"), port.get("containerPort")
        if (host is not None and type(host) is not int) or (container is not None and type(container) is not int):
            return None
        if host:
            found.append(HostPort(host, (*path, "ports", i, "hostPort")))
    return tuple(found)


def _standard_node_os(selector: Any, layout: _Layout) -> Resolved[str]:
    if isinstance(selector, dict):
        for label, path in layout.node_os:
            value = selector.get(label)
            if isinstance(value, str):
                return Resolved(value, "pod", path)
    return layout.node_os_unset
