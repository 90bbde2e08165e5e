"""A PodSecurityPolicy as Pod Security Standards: its level, what keeps it from the next, what it mutates.

Follows the upstream mapping (kubernetes/website, "Mapping PodSecurityPolicies to Pod Security
Standards") field by field: a PSP is equivalent to the strictest level whose allowed values
every one of its fields keeps to; anything outside both columns is privileged. The table's
cells, as implemented (`FIELDS` holds one function per row):

- ``privileged``, ``hostNetwork``, ``hostPID``, ``hostIPC``: false or unset (both levels).
- ``hostPorts``, ``allowedUnsafeSysctls``: empty or unset (both levels).
- ``allowedCapabilities``, ``defaultAddCapabilities``: baseline, a subset of the 13 baseline
  capabilities; restricted, empty or only ``NET_BIND_SERVICE``.
- ``requiredDropCapabilities``: baseline, no opinion; restricted, includes ``ALL``.
- ``volumes``: baseline, anything but ``hostPath`` and ``*``; restricted, a subset of configMap,
  csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret.
- ``seLinux`` (both levels): ``rule: MustRunAs`` with ``user`` and ``role`` unset and ``type``
  unset or container_t, container_init_t, container_kvm_t.
- ``runAsUser``: baseline, anything; restricted, ``rule: MustRunAsNonRoot``.
- ``allowPrivilegeEscalation``: baseline, no opinion; restricted, ``false`` (unset means true).
- ``allowedProcMountTypes`` (both levels): ``[Default]`` or empty or unset.
- the seccomp and the AppArmor ``allowedProfileNames`` annotations: baseline, ``runtime/default,``
  (the empty entry after the comma allows pods without a profile); restricted, ``runtime/default``.

``localhost/*`` profiles are allowed at both levels. Where the table is silent, podsec follows
what the PSP admission controller did: ``docker/default`` is the same seccomp profile as
``runtime/default`` (the controller allowed each for the other); without a seccomp annotation
a PSP admits only pods with no seccomp profile (baseline, not restricted); without an AppArmor
annotation it admits any AppArmor profile, ``unconfined`` too (privileged); ``volumes: [none]``
allows no volume at all (restricted). The other fields (``runAsGroup``, ``supplementalGroups``,
``fsGroup``, ``readOnlyRootFilesystem``, ``forbiddenSysctls``, ``runtimeClass``,
``allowedHostPaths``, ``allowedFlexVolumes``, ``allowedCSIDrivers``) have no opinion.

A PSP **mutates** pods through its ``default*`` fields and the strategies that fill in values
(``MustRunAs`` rules, ``requiredDropCapabilities``, ``readOnlyRootFilesystem: true``,
``allowPrivilegeEscalation: false``, the default-profile annotations). Pod Security Admission
never mutates: pods that relied on those values must set them themselves after the migration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from podsec.analysis.selectors import Problem
from podsec.model.paths import Path, format_path
from podsec.model.standards import Level

GROUPS = frozenset({"policy", "extensions"})

BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
RESTRICTED_VOLUMES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
SELINUX_TYPES = ("container_t", "container_init_t", "container_kvm_t")
SECCOMP_ALLOWED = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"
SECCOMP_DEFAULT = "seccomp.security.alpha.kubernetes.io/defaultProfileName"
APPARMOR_ALLOWED = "apparmor.security.beta.kubernetes.io/allowedProfileNames"
APPARMOR_DEFAULT = "apparmor.security.beta.kubernetes.io/defaultProfileName"
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"

P, B, R = Level.PRIVILEGED, Level.BASELINE, Level.RESTRICTED


@dataclass(frozen=True, slots=True)
class Blocker:
    """A field whose value keeps the PSP below ``level``: what it is and what ``level`` needs."""

    level: Level  # the level it keeps the PSP from
    field: str  # the API path, e.g. spec.privileged
    path: Path
    value: str  # the value as written ("unset" when absent)
    needs: str  # what that level allows


@dataclass(frozen=True, slots=True)
class Mutation:
    """A field through which the PSP changes the pods it admits."""

    field: str
    path: Path
    effect: str


@dataclass(frozen=True, slots=True)
class Assessment:
    """A PodSecurityPolicy mapped to the Pod Security Standards."""

    name: str | None
    level: Level
    blockers: tuple[Blocker, ...]  # for baseline and for restricted
    mutations: tuple[Mutation, ...]
    problems: tuple[Problem, ...] = ()

    @property
    def mutates(self) -> bool:
        return bool(self.mutations)

    @property
    def next_level(self) -> Level | None:
        """The next stricter level, which the blockers keep it from (None for restricted)."""
        return {P: B, B: R}.get(self.level)

    def blocking(self, level: Level | None = None) -> tuple[Blocker, ...]:
        """What keeps it from ``level`` (default: the next stricter level)."""
        target = level or self.next_level
        return tuple(b for b in self.blockers if b.level is target)

    @property
    def labels(self) -> dict[str, str]:
        """The namespace label that enforces the equivalent level with Pod Security Admission."""
        return {ENFORCE_LABEL: self.level.value}


def is_psp(obj: Mapping[str, Any]) -> bool:
    api = obj.get("apiVersion")
    return obj.get("kind") == "PodSecurityPolicy" and isinstance(api, str) and api.rpartition("/")[0] in GROUPS


# --- one function per row of the table: the strictest level the value keeps to ---------------

Row = Callable[[Any], Level]


def _flag(value: Any) -> Level:
    return R if value is None or value is False else P


def _empty(value: Any) -> Level:
    return P if value else R


def _capabilities(value: Any) -> Level:
    caps = [str(c) for c in value or []]
    if all(c == "NET_BIND_SERVICE" for c in caps):
        return R
    return B if all(c in BASELINE_CAPABILITIES for c in caps) else P


def _drop(value: Any) -> Level:
    return R if "ALL" in [str(c) for c in value or []] else B


def _volumes(value: Any) -> Level:
    kinds = [str(v) for v in value or []]
    if all(v in RESTRICTED_VOLUMES or v == "none" for v in kinds):
        return R
    return P if "hostPath" in kinds or "*" in kinds else B


def _se_linux(value: Any) -> Level:
    if not isinstance(value, dict) or value.get("rule") != "MustRunAs":
        return P
    options = value.get("seLinuxOptions") or {}
    if not isinstance(options, dict) or options.get("user") or options.get("role"):
        return P
    return R if options.get("type") in (None, "", *SELINUX_TYPES) else P


def _run_as_user(value: Any) -> Level:
    return R if isinstance(value, dict) and value.get("rule") == "MustRunAsNonRoot" else B


def _privilege_escalation(value: Any) -> Level:
    return R if value is False else B


def _proc_mount(value: Any) -> Level:
    return R if all(v == "Default" for v in value or []) else P


def _profiles(value: Any, *, seccomp: bool) -> Level:
    """An allowedProfileNames annotation: a comma-separated list, split as the PSP controller split it."""
    if value is None:  # seccomp: only pods without a profile; AppArmor: any profile
        return B if seccomp else P
    entries = str(value).split(",")
    defaults = {"runtime/default", "docker/default"} if seccomp else {"runtime/default"}
    named = [e in defaults or e.startswith("localhost/") for e in entries]
    if all(named):
        return R
    return B if all(ok or e == "" for ok, e in zip(named, entries, strict=True)) else P


def _seccomp(value: Any) -> Level:
    return _profiles(value, seccomp=True)


def _app_armor(value: Any) -> Level:
    return _profiles(value, seccomp=False)


_FLAG = ("false or unset", "false or unset")
_EMPTY = ("empty or unset", "empty or unset")
_CAPS = ("a subset of " + ", ".join(sorted(BASELINE_CAPABILITIES)), "empty, or only NET_BIND_SERVICE")
_PROFILES = (
    '"runtime/default," (the trailing comma allows no profile; localhost/* profiles too)',
    "runtime/default (localhost/* profiles too; no empty entry)",
)


@dataclass(frozen=True, slots=True)
class Field:
    """One row of the mapping table: where the value is, how it maps, and the table's cells."""

    path: Path
    row: Row
    shape: type  # the type the API expects
    cells: tuple[str, str]  # what baseline and restricted allow

    def needs(self, level: Level) -> str:
        return self.cells[0] if level is B else self.cells[1]


FIELDS: tuple[Field, ...] = (
    Field(("spec", "privileged"), _flag, bool, _FLAG),
    Field(("spec", "hostNetwork"), _flag, bool, _FLAG),
    Field(("spec", "hostPID"), _flag, bool, _FLAG),
    Field(("spec", "hostIPC"), _flag, bool, _FLAG),
    Field(("spec", "hostPorts"), _empty, list, _EMPTY),
    Field(("spec", "allowedUnsafeSysctls"), _empty, list, _EMPTY),
    Field(("spec", "allowedCapabilities"), _capabilities, list, _CAPS),
    Field(("spec", "defaultAddCapabilities"), _capabilities, list, _CAPS),
    Field(("spec", "requiredDropCapabilities"), _drop, list, ("no opinion", "a list that includes ALL")),
    Field(
        ("spec", "volumes"),
        _volumes,
        list,
        ("anything but hostPath and *", "a subset of " + ", ".join(sorted(RESTRICTED_VOLUMES))),
    ),
    Field(
        ("spec", "seLinux"),
        _se_linux,
        dict,
        ("rule MustRunAs; user and role unset; type unset or " + ", ".join(SELINUX_TYPES),) * 2,
    ),
    Field(("spec", "runAsUser"), _run_as_user, dict, ("anything", "rule MustRunAsNonRoot")),
    Field(
        ("spec", "allowPrivilegeEscalation"), _privilege_escalation, bool, ("no opinion", "false (unset means true)")
    ),
    Field(("spec", "allowedProcMountTypes"), _proc_mount, list, ('["Default"] or unset',) * 2),
    Field(("metadata", "annotations", SECCOMP_ALLOWED), _seccomp, str, _PROFILES),
    Field(("metadata", "annotations", APPARMOR_ALLOWED), _app_armor, str, _PROFILES),
)
"""Every row of the mapping table that has an opinion, in the table's order."""


def _get(obj: Mapping[str, Any], path: Path) -> Any:
    node: Any = obj
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) if not isinstance(v, str) else v for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shown(v) if not isinstance(v, str) else v}" for k, v in value.items()) + "}"
    return str(value)


def _mutations(obj: Mapping[str, Any]) -> list[Mutation]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    found = [
        *_capability_mutations(spec),
        *_strategy_mutations(spec),
        *_container_default_mutations(spec),
        *_annotation_mutations(obj),
    ]
    return [Mutation(format_path(path), path, effect) for path, effect in found]


_Effect = tuple[Path, str]
"""A field of a policy, and what it changes in the pods it admits."""


def _capability_mutations(spec: Mapping[str, Any]) -> Iterable[_Effect]:
    if spec.get("defaultAddCapabilities"):
        added = _shown(spec["defaultAddCapabilities"])
        yield ("spec", "defaultAddCapabilities"), f"adds {added} to every container's capabilities"
    if spec.get("requiredDropCapabilities"):
        dropped = _shown(spec["requiredDropCapabilities"])
        yield ("spec", "requiredDropCapabilities"), f"drops {dropped} from every container's capabilities"


_STRATEGIES = (
    ("seLinux", "seLinuxOptions"),
    ("runAsUser", "runAsUser"),
    ("runAsGroup", "runAsGroup"),
    ("supplementalGroups", "supplementalGroups"),
    ("fsGroup", "fsGroup"),
)
"""Strategies (``spec.<key>.rule``) and the field ``MustRunAs`` sets."""


def _strategy_mutations(spec: Mapping[str, Any]) -> Iterable[_Effect]:
    for key, target in _STRATEGIES:
        strategy = spec.get(key)
        if not isinstance(strategy, dict):
            continue
        if key == "seLinux" and not strategy.get("seLinuxOptions"):
            continue  # MustRunAs with no options has nothing to set
        if strategy.get("rule") == "MustRunAs":
            yield ("spec", key, "rule"), f"sets {target} on pods that do not set it (rule MustRunAs)"
        elif key == "runAsUser" and strategy.get("rule") == "MustRunAsNonRoot":
            yield ("spec", key, "rule"), "sets runAsNonRoot: true on pods that set neither runAsNonRoot nor runAsUser"


def _container_default_mutations(spec: Mapping[str, Any]) -> Iterable[_Effect]:
    if spec.get("readOnlyRootFilesystem") is True:
        yield ("spec", "readOnlyRootFilesystem"), "sets readOnlyRootFilesystem: true on containers that do not set it"
    if isinstance(spec.get("defaultAllowPrivilegeEscalation"), bool):
        value = _shown(spec["defaultAllowPrivilegeEscalation"])
        effect = f"sets allowPrivilegeEscalation: {value} on containers that do not set it"
        yield ("spec", "defaultAllowPrivilegeEscalation"), effect
    if spec.get("allowPrivilegeEscalation") is False:
        effect = "sets allowPrivilegeEscalation: false on containers that do not set it"
        yield ("spec", "allowPrivilegeEscalation"), effect
    runtime = spec.get("runtimeClass")
    if isinstance(runtime, dict) and runtime.get("defaultRuntimeClassName"):
        effect = "sets runtimeClassName on pods that do not set it"
        yield ("spec", "runtimeClass", "defaultRuntimeClassName"), effect


def _annotation_mutations(obj: Mapping[str, Any]) -> Iterable[_Effect]:
    for key, what in ((SECCOMP_DEFAULT, "seccomp"), (APPARMOR_DEFAULT, "AppArmor")):
        value = _get(obj, ("metadata", "annotations", key))
        if value:
            yield ("metadata", "annotations", key), f"sets the {what} profile {value} on pods that do not set one"


def assess(obj: Mapping[str, Any]) -> Assessment:
    """The Pod Security Standards level a PodSecurityPolicy object is equivalent to."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    name = meta.get("name") if isinstance(meta.get("name"), str) else None
    problems: list[Problem] = []
    if not isinstance(obj.get("spec"), dict):
        problems.append(Problem(("spec",), "expected a mapping (a PodSecurityPolicy needs a spec)"))
    blockers: list[Blocker] = []
    level = R
    for f in FIELDS:
        value = _get(obj, f.path)
        if value is not None and not isinstance(value, f.shape):
            problems.append(Problem(f.path, f"expected {_TYPE_NAMES[f.shape]}, got {_shown(value)}"))
            allowed = P
        else:
            allowed = f.row(value)
        level = min(level, allowed, key=lambda lv: lv.strictness)
        blockers += [
            Blocker(t, format_path(f.path), f.path, _shown(value), f.needs(t))
            for t in (B, R)
            if allowed.strictness < t.strictness
        ]
    return Assessment(name, level, tuple(blockers), tuple(_mutations(obj)), tuple(problems))


_TYPE_NAMES: dict[type, str] = {bool: "true or false", list: "a list", dict: "a mapping", str: "a string"}
