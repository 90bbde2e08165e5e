"""The effective security context of a container, with the source of every value.

This module is the only place that knows the core/v1 precedence rule: "If set in both
SecurityContext and PodSecurityContext, the value specified in SecurityContext takes
precedence." Nothing here guesses runtime defaults: a value nobody set stays ``unset``,
and each check decides what unset means, as Pod Security Admission does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from podsec.model.paths import Path

T = TypeVar("T")
Source = Literal["container", "pod", "unset"]


class Resolved(NamedTuple, Generic[T]):
    """A value and where it came from.

    ``path`` is where the value is written in the object; for an unset value it is where
    it would have to be written (the container's own field). A named tuple: a pod view
    holds a dozen of these per container, and a tuple is several times cheaper to make
    than a frozen dataclass (huge pods reach the webhook too).
    """

    value: T | None
    source: Source
    path: Path

    @property
    def is_set(self) -> bool:
        return self.source != "unset"


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention (CONTRIBUTING.md, "Hot values")
class ProfileOption:
    """``seccompProfile`` or ``appArmorProfile``; an unset ``type`` reads as ``""`` as in Go."""

    type: str
    localhost_profile: str | None


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention (CONTRIBUTING.md, "Hot values")
class SELinuxOptions:
    user: str
    role: str
    type: str
    level: str


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention (CONTRIBUTING.md, "Hot values")
class WindowsOptions:
    host_process: bool | None
    run_as_user_name: str | None


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention (CONTRIBUTING.md, "Hot values")
class Capabilities:
    add: tuple[str, ...]
    drop: tuple[str, ...]


@dataclass(slots=True)
class _Settings:
    """The settings both levels may write (a container's own value wins): each declared once,
    here; the tables below (`SHARED_FIELDS`, ...) are derived from these declarations.

    Plain (not frozen) slotted dataclasses, treated as immutable: one is made per container,
    and a frozen dataclass costs ten times as much to make (huge pods reach the webhook too).
    """

    present: bool  # the securityContext mapping is written
    path: Path  # where it is (or would be) written
    run_as_user: Resolved[int]
    run_as_group: Resolved[int]
    run_as_non_root: Resolved[bool]
    seccomp_profile: Resolved[ProfileOption]
    app_armor_profile: Resolved[ProfileOption]
    se_linux_options: Resolved[SELinuxOptions]
    windows_options: Resolved[WindowsOptions]


@dataclass(slots=True)
class PodSecurityContext(_Settings):
    """The pod-level ``securityContext`` as written (every source is ``pod`` or ``unset``)."""

    fs_group: Resolved[int]
    supplemental_groups: Resolved[tuple[int, ...]]
    sysctls: Resolved[tuple[str, ...]]
    fs_group_change_policy: Resolved[str]
    misplaced: tuple[Path, ...] = ()  # container-only fields written here


@dataclass(slots=True)
class EffectiveSecurityContext(_Settings):
    """What applies to one container: its own value, else the pod's, else unset."""

    privileged: Resolved[bool]
    allow_privilege_escalation: Resolved[bool]
    capabilities: Resolved[Capabilities]
    read_only_root_filesystem: Resolved[bool]
    proc_mount: Resolved[str]
    misplaced: tuple[Path, ...] = ()  # pod-only fields written in the container's securityContext

    def own(self, attr: str) -> Resolved[Any]:
        """The container's own value of a field (unset when only the pod sets it)."""
        resolved: Resolved[Any] = getattr(self, attr)
        if resolved.source == "pod":
            return _unset_at(self.path)[_SHARED_INDEX[attr]]
        return resolved


def _api_name(attr: str) -> str:
    first, *rest = attr.split("_")
    return first + "".join(part.title() for part in rest)


def _declared(cls: type, skip: tuple[tuple[str, str], ...] = ()) -> tuple[tuple[str, str], ...]:
    """(attribute, API field name) of the settings ``cls`` declares, but those in ``skip``."""
    names = [f.name for f in dataclasses.fields(cls) if f.name not in ("present", "path", "misplaced")]
    return tuple((a, _api_name(a)) for a in names if (a, _api_name(a)) not in skip)


# The fields a container may override; those only containers, or only pods, have.
SHARED_FIELDS: tuple[tuple[str, str], ...] = _declared(_Settings)
CONTAINER_ONLY_FIELDS: tuple[tuple[str, str], ...] = _declared(EffectiveSecurityContext, SHARED_FIELDS)
POD_ONLY_FIELDS: tuple[tuple[str, str], ...] = _declared(PodSecurityContext, SHARED_FIELDS)
_SHARED_INDEX = {attr: i for i, (attr, _) in enumerate(SHARED_FIELDS)}  # its place in `_unset_at`'s tuple
_SPELLED_OUT = ("run_as_user", "run_as_group", "run_as_non_root", "seccomp_profile", "app_armor_profile",
                "se_linux_options", "windows_options")  # fmt: skip
if tuple(_SHARED_INDEX) != _SPELLED_OUT:  # `_resolve_unset` names them in this order
    raise AssertionError(f"_Settings' shared fields changed: update _resolve_unset ({tuple(_SHARED_INDEX)})")
# Written at the wrong level, these are dropped by the API server's decoder (unknown
# field) and silently do nothing; `misplaced` records them so a check can say so.
_POD_ONLY_NAMES = (*(n for _, n in POD_ONLY_FIELDS), "supplementalGroupsPolicy", "seLinuxChangePolicy")
_CONTAINER_ONLY_NAMES = tuple(n for _, n in CONTAINER_ONLY_FIELDS)


def _profile(raw: Any) -> ProfileOption:
    return ProfileOption(raw.get("type") or "", raw.get("localhostProfile"))


def _se_linux(raw: Any) -> SELinuxOptions:
    return SELinuxOptions(*(raw.get(k) or "" for k in ("user", "role", "type", "level")))


def _windows(raw: Any) -> WindowsOptions:
    return WindowsOptions(raw.get("hostProcess"), raw.get("runAsUserName"))


def _capabilities(raw: Any) -> Capabilities:
    return Capabilities(tuple(c or "" for c in raw.get("add") or ()), tuple(c or "" for c in raw.get("drop") or ()))


def _groups(raw: Any) -> tuple[int, ...]:
    return tuple(int(g) for g in raw if g is not None)


def _sysctls(raw: Any) -> tuple[str, ...]:
    return tuple((s or {}).get("name") or "" for s in raw)


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "seccompProfile": _profile,
    "appArmorProfile": _profile,
    "seLinuxOptions": _se_linux,
    "windowsOptions": _windows,
    "capabilities": _capabilities,
    "supplementalGroups": _groups,
    "sysctls": _sysctls,
}


def _convert(name: str, raw: Any) -> Any:
    """Turn a validated raw field into its model value."""
    convert = _CONVERT.get(name)
    if convert is not None:
        return convert(raw)
    if isinstance(raw, float):
        return int(raw)
    return raw


_UNSET: dict[tuple[Path, tuple[tuple[str, str], ...]], dict[str, Any]] = {}


def _all_unset(names: tuple[tuple[str, str], ...], path: Path) -> dict[str, Any]:
    """``attr -> Resolved`` with every field unset at ``path``, shared (values are immutable, paths repeat)."""
    key = (path, names)
    found = _UNSET.get(key)
    if found is None:
        if len(_UNSET) > 4096:
            _UNSET.clear()
        found = _UNSET[key] = {attr: Resolved(None, "unset", (*path, name)) for attr, name in names}
    return found


def _fields(data: Mapping[str, Any], names: tuple[tuple[str, str], ...], path: Path, source: Source) -> dict[str, Any]:
    """``attr -> Resolved`` for each field, as written in ``data``."""
    unset = _all_unset(names, path)
    if not data:
        return dict(unset)
    out: dict[str, Any] = {}
    for attr, name in names:
        value = data.get(name)
        out[attr] = unset[attr] if value is None else Resolved(_convert(name, value), source, (*path, name))
    return out


_POD_FIELDS = (*SHARED_FIELDS, *POD_ONLY_FIELDS)


def pod_security_context(raw: Mapping[str, Any] | None, path: Path) -> PodSecurityContext:
    """Read a (validated) pod-level ``securityContext``."""
    data = raw or {}
    misplaced = tuple((*path, n) for n in _CONTAINER_ONLY_NAMES if n in data) if data else ()
    return PodSecurityContext(raw is not None, path, **_fields(data, _POD_FIELDS, path, "pod"), misplaced=misplaced)


_EFFECTIVE_FIELDS = (*SHARED_FIELDS, *CONTAINER_ONLY_FIELDS)
_UNSET_TUPLES: dict[Path, tuple[Resolved[Any], ...]] = {}


def _unset_at(path: Path) -> tuple[Resolved[Any], ...]:
    """Every effective field unset at ``path``, in `_EFFECTIVE_FIELDS` order. Shared for the first
    containers' paths (every small pod has them: no objects made per review); made afresh for
    the rest (a pod with 100,000 containers would only churn a cache)."""
    found = _UNSET_TUPLES.get(path)
    if found is None:
        found = tuple(Resolved(None, "unset", (*path, name)) for _, name in _EFFECTIVE_FIELDS)
        index = path[-2] if len(path) > 1 else 0
        if isinstance(index, int) and index < 16 and len(_UNSET_TUPLES) < 1024:
            _UNSET_TUPLES[path] = found
    return found


def _resolve_unset(pod: PodSecurityContext, present: bool, path: Path) -> EffectiveSecurityContext:
    """`resolve` for a container that sets nothing itself: the pod's values where it sets them,
    else unset at the container's own field. The common case (and the whole of a pod of many
    minimal containers), so it makes nothing it need not: no dicts, no lookups by name."""
    unset = _unset_at(path)
    # Each shared field spelled out (no loop, no getattr): this runs for every container.
    user = pod.run_as_user if pod.run_as_user.source != "unset" else unset[0]
    group = pod.run_as_group if pod.run_as_group.source != "unset" else unset[1]
    non_root = pod.run_as_non_root if pod.run_as_non_root.source != "unset" else unset[2]
    seccomp = pod.seccomp_profile if pod.seccomp_profile.source != "unset" else unset[3]
    app_armor = pod.app_armor_profile if pod.app_armor_profile.source != "unset" else unset[4]
    se_linux = pod.se_linux_options if pod.se_linux_options.source != "unset" else unset[5]
    windows = pod.windows_options if pod.windows_options.source != "unset" else unset[6]
    privileged, escalation, caps, read_only, proc_mount = unset[len(SHARED_FIELDS) :]
    return EffectiveSecurityContext(
        present, path, user, group, non_root, seccomp, app_armor, se_linux, windows,
        privileged, escalation, caps, read_only, proc_mount,
    )  # fmt: skip


def resolve(pod: PodSecurityContext, raw: Mapping[str, Any] | None, path: Path) -> EffectiveSecurityContext:
    """Merge a container's (validated) ``securityContext`` over the pod's."""
    if not raw:
        return _resolve_unset(pod, raw is not None, path)
    data = raw
    fields = _fields(data, SHARED_FIELDS, path, "container")
    for attr, own in fields.items():
        if own.source == "unset":
            inherited = getattr(pod, attr)
            if inherited.source != "unset":
                fields[attr] = inherited
    fields.update(_fields(data, CONTAINER_ONLY_FIELDS, path, "container"))
    misplaced = tuple((*path, n) for n in _POD_ONLY_NAMES if n in data) if data else ()
    return EffectiveSecurityContext(raw is not None, path, **fields, misplaced=misplaced)
