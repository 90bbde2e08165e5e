"""Which policy a namespace asks for: Pod Security Admission's labels, and podsec's own.

PSA (``pod-security.kubernetes.io/{enforce,audit,warn}`` and ``…-version``), with PSA's
fallbacks for invalid values (``PolicyToEvaluate``): an invalid enforce level fails
closed (restricted), an invalid audit or warn level fails open (privileged), an invalid
version means latest; when enforce is set and warn is not, warn follows enforce if that
is stricter than warn's default.

podsec adds, per mode, ``podsec.io/{enforce,audit,warn}`` with a profile (``baseline``,
``restricted``, ``hardened`` or ``privileged``) that replaces PSA's level for that mode,
``podsec.io/policies`` naming configured Rego policy sets, and ``podsec.io/mutate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from podsec.model.standards import Level, PolicyVersion, Profile

PSA = "pod-security.kubernetes.io/"
OWN = "podsec.io/"
MODES = ("enforce", "audit", "warn")
_LABEL_VALUES = {PSA: tuple(level.value for level in Level), OWN: tuple(p.value for p in Profile)}


@dataclass(frozen=True, slots=True)
class ModePolicy:
    profile: Profile
    version: PolicyVersion
    name: str = field(init=False, repr=False, compare=False)  # "restricted:latest", made once

    def __post_init__(self) -> None:
        object.__setattr__(self, "profile", Profile(self.profile))
        object.__setattr__(self, "name", f"{self.profile}:{self.version}")

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        return self.profile is not Profile.PRIVILEGED  # Profile.active, without a second call


@dataclass(frozen=True, slots=True)
class NamespacePolicy:
    enforce: ModePolicy
    audit: ModePolicy
    warn: ModePolicy
    policies: tuple[str, ...] = ()  # names of configured Rego policy sets
    mutate: bool = False
    errors: tuple[str, ...] = field(default=())  # invalid label values, as PSA reports them

    def mode(self, name: str) -> ModePolicy:
        policy: ModePolicy = getattr(self, name)
        return policy


PRIVILEGED = ModePolicy(Profile.PRIVILEGED, PolicyVersion(None))
DEFAULTS = NamespacePolicy(PRIVILEGED, PRIVILEGED, PRIVILEGED)


def _level(value: str, allowed: Sequence[str]) -> str | None:
    return value if value in allowed else None


def _profile(labels: Mapping[str, str], mode: str, profile: Profile, errors: list[str]) -> tuple[Profile, bool]:
    """The profile the labels give ``mode`` (podsec's label over PSA's; ``profile`` when neither is
    set), and whether one was set. An invalid value is an error: enforce fails closed, the others open."""
    explicit = False
    for prefix, allowed in _LABEL_VALUES.items():
        key = prefix + mode
        if key in labels:
            explicit = True
            parsed = _level(labels[key], allowed)
            if parsed is None:
                errors.append(f'{key}: invalid value "{labels[key]}": must be one of {", ".join(allowed)}')
                profile = Profile.RESTRICTED if mode == "enforce" else Profile.PRIVILEGED  # PSA: enforce fails closed
            else:
                profile = Profile(parsed)
    return profile, explicit


def _version(labels: Mapping[str, str], mode: str, version: PolicyVersion, errors: list[str]) -> PolicyVersion:
    """The version the labels give ``mode`` (``version`` when not set; latest when invalid)."""
    key = PSA + mode + "-version"
    if key not in labels:
        return version
    try:
        return PolicyVersion.parse(labels[key])
    except ValueError:
        errors.append(f'{key}: invalid value "{labels[key]}": must be "latest" or "v1.<minor>"')
        return PolicyVersion(None)


def policy_for(
    labels: Mapping[str, str] | None, defaults: NamespacePolicy = DEFAULTS, *, mutate_default: bool = False
) -> NamespacePolicy:
    """The policy of a namespace with these labels (None: no labels at all)."""
    labels = labels or {}
    errors: list[str] = []
    result: dict[str, ModePolicy] = {}
    explicit: dict[str, bool] = {}
    for mode in MODES:
        base = defaults.mode(mode)
        profile, explicit[mode] = _profile(labels, mode, base.profile, errors)
        result[mode] = ModePolicy(profile, _version(labels, mode, base.version, errors))
    enforce, warn = result["enforce"], result["warn"]
    if explicit["enforce"] and not explicit["warn"] and enforce.profile.strictness > warn.profile.strictness:
        warn_version_set = PSA + "warn-version" in labels
        result["warn"] = ModePolicy(enforce.profile, warn.version if warn_version_set else enforce.version)
    policies = tuple(p.strip() for p in labels.get(OWN + "policies", "").split(",") if p.strip())
    mutate_label = labels.get(OWN + "mutate")
    mutate = mutate_default if mutate_label is None else mutate_label.strip().lower() == "true"
    return NamespacePolicy(result["enforce"], result["audit"], result["warn"], policies, mutate, tuple(errors))
