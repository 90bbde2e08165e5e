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
if tuple(_SHARED_INDEX) != _SPELLED_OUT:  # `_inherited` names them in this order
    raise AssertionError(f"_Settings' shared fields changed: update _inherited ({tuple(_SHARED_INDEX)})")
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


_POD_FIELDS = (*SHARED_FIELDS, *POD_ONLY_FIELDS)


# The classes made positionally from lists of fields (mypy cannot match star-arguments to a
# dataclass's fields: `_POSITIONAL` below checks their order when the module is loaded).
_make_pod: Callable[..., PodSecurityContext] = PodSecurityContext
_make_effective: Callable[..., EffectiveSecurityContext] = EffectiveSecurityContext
_POD_INDEX = {name: i for i, (_, name) in enumerate(_POD_FIELDS)}  # an API field's place in `_POD_FIELDS`
_CONTAINER_ONLY_SET = frozenset(_CONTAINER_ONLY_NAMES)
_POD_UNSET: dict[Path, tuple[Resolved[Any], ...]] = {}


def pod_security_context(raw: Mapping[str, Any] | None, path: Path) -> PodSecurityContext:
    """Read a (validated) pod-level ``securityContext``: only the fields it writes are visited,
    the others are unset (shared values)."""
    unset = _POD_UNSET.get(path)
    if unset is None:
        if len(_POD_UNSET) > 256:
            _POD_UNSET.clear()
        unset = _POD_UNSET[path] = tuple(Resolved(None, "unset", (*path, name)) for _, name in _POD_FIELDS)
    if not raw:
        return _make_pod(raw is not None, path, *unset)
    values = list(unset)
    for name, value in raw.items():
        i = _POD_INDEX.get(name)
        if i is not None and value is not None:
            values[i] = Resolved(_convert(name, value), "pod", (*path, name))
    misplaced = (
        () if _CONTAINER_ONLY_SET.isdisjoint(raw) else tuple((*path, n) for n in _CONTAINER_ONLY_NAMES if n in raw)
    )
    return _make_pod(True, path, *values, misplaced)


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


def _inherited(pod: PodSecurityContext, path: Path) -> list[Resolved[Any]]:
    """The effective fields of a container that sets nothing itself, in `_EFFECTIVE_FIELDS` order:
    the pod's values where it sets them, else unset at the container's own field. The common
    case (and the whole of a pod of many minimal containers), so it makes nothing it need not."""
    unset = _unset_at(path)
    # Each shared field spelled out (no loop, no getattr): this runs for every container.
    return [
        pod.run_as_user if pod.run_as_user.source != "unset" else unset[0],
        pod.run_as_group if pod.run_as_group.source != "unset" else unset[1],
        pod.run_as_non_root if pod.run_as_non_root.source != "unset" else unset[2],
        pod.seccomp_profile if pod.seccomp_profile.source != "unset" else unset[3],
        pod.app_armor_profile if pod.app_armor_profile.source != "unset" else unset[4],
        pod.se_linux_options if pod.se_linux_options.source != "unset" else unset[5],
        pod.windows_options if pod.windows_options.source != "unset" else unset[6],
        *unset[len(SHARED_FIELDS) :],
    ]


# `pod_security_context` and `resolve` make their classes positionally, fields in these orders.
_POSITIONAL = (
    (PodSecurityContext, (*(a for a, _ in _POD_FIELDS), "misplaced")),
    (EffectiveSecurityContext, (*(a for a, _ in _EFFECTIVE_FIELDS), "misplaced")),
)
for _cls, _order in _POSITIONAL:
    if tuple(f.name for f in dataclasses.fields(_cls))[2:] != _order:
        raise AssertionError(f"{_cls.__name__}'s fields changed: update pod_security_context and resolve")
_EFFECTIVE_INDEX = {name: i for i, (_, name) in enumerate(_EFFECTIVE_FIELDS)}  # an API field's place
_POD_ONLY_SET = frozenset(_POD_ONLY_NAMES)


def resolve(pod: PodSecurityContext, raw: Mapping[str, Any] | None, path: Path) -> EffectiveSecurityContext:
    """Merge a container's (validated) ``securityContext`` over the pod's: the pod's values
    (`_inherited`), then the container's own over them (only the fields it writes are visited)."""
    values = _inherited(pod, path)
    if not raw:
        return _make_effective(raw is not None, path, *values)
    for name, value in raw.items():
        i = _EFFECTIVE_INDEX.get(name)
        if i is not None and value is not None:
            values[i] = Resolved(_convert(name, value), "container", (*path, name))
    misplaced = () if _POD_ONLY_SET.isdisjoint(raw) else tuple((*path, n) for n in _POD_ONLY_NAMES if n in raw)
    return _make_effective(True, path, *values, misplaced)
