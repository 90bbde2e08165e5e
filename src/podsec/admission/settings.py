"""The ``webhook:`` section of ``.podsec.yaml``: what the admission server needs beyond the scan settings.

webhook:
  exemptions:                  # Pod Security Admission's exemptions
    usernames: [system:serviceaccount:kube-system:replicaset-controller]
    runtimeClasses: [kata]
    namespaces: [kube-system]
  defaults:                    # for namespaces without labels (PSA's defaults)
    enforce: privileged
    enforce-version: latest
    audit: restricted
    warn: restricted
  enforceWorkloads: false      # true: deny bad workload objects too, not only pods
  failureMode: deny            # deny | allow: the answer to a review not finished in time
  annotationExemptions:        # podsec.io/exempt annotations: off unless turned on here
    enabled: false
    namespaces: [legacy-*]     # globs; empty or absent: every namespace
    checks: [readOnlyRootFilesystem]   # empty or absent: any check
    enforcedLevels: false      # true: may also exempt checks of the PSS level the namespace enforces
  mutateByDefault: false       # true: mutate in every namespace unless podsec.io/mutate: "false"
  policySets:                  # Rego policies a namespace can ask for (podsec.io/policies: org)
    org: [policies/org]
  namespaces:                  # fixed namespace labels instead of reading them from the API
    shop: {pod-security.kubernetes.io/enforce: restricted}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podsec.admission.labels import NamespacePolicy, policy_for
from podsec.admission.review import AnnotationExemptions, WebhookConfig
from podsec.config import Config, ConfigError
from podsec.model.workloads import KindTable

_KEYS = {
    "exemptions",
    "defaults",
    "enforceWorkloads",
    "mutateByDefault",
    "policySets",
    "namespaces",
    "failureMode",
    "annotationExemptions",
}
_ANNOTATION_KEYS = {"enabled", "namespaces", "checks", "enforcedLevels"}


@dataclass(frozen=True, slots=True)
class Settings:
    review: WebhookConfig
    namespaces: Mapping[str, Mapping[str, str]] | None  # None: read namespace labels from the API


def _strings(value: object, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return frozenset(value)


def _labels(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{where}: expected a mapping of label to string value")
    return dict(value)


def _annotation_exemptions(value: Any, sets: Mapping[str, Any]) -> AnnotationExemptions:
    """``webhook.annotationExemptions``: true/false, or a mapping that also limits them."""
    where = "webhook.annotationExemptions"
    if value is None:
        return AnnotationExemptions()
    if isinstance(value, bool):
        return AnnotationExemptions(enabled=value)
    if not isinstance(value, dict) or set(value) - _ANNOTATION_KEYS:
        raise ConfigError(f"{where}: expected true, false or a mapping of {', '.join(sorted(_ANNOTATION_KEYS))}")
    for key in ("enabled", "enforcedLevels"):
        if not isinstance(value.get(key, False), bool):
            raise ConfigError(f"{where}.{key}: expected true or false")
    checks = _strings(value.get("checks"), f"{where}.checks")
    from podsec import catalog

    known = {c.id for c in catalog.BUILTIN} | {c.id for s in sets.values() for c in s.checks}
    for check in sorted(checks - known):
        raise ConfigError(f'{where}.checks: no such check: "{check}" (see `podsec checks`)')
    return AnnotationExemptions(
        enabled=value.get("enabled", True),
        namespaces=tuple(sorted(_strings(value.get("namespaces"), f"{where}.namespaces"))),
        checks=checks,
        enforced_levels=value.get("enforcedLevels", False),
    )


def _section(data: Any) -> dict[str, Any]:
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError("webhook: expected a mapping")
    unknown = set(data) - _KEYS
    if unknown:
        raise ConfigError(f'webhook: unknown key "{sorted(unknown)[0]}" (known keys: {", ".join(sorted(_KEYS))})')
    return data


def _exemptions(data: dict[str, Any]) -> dict[str, Any]:
    ex = data.get("exemptions") or {}
    if not isinstance(ex, dict) or set(ex) - {"usernames", "runtimeClasses", "namespaces"}:
        raise ConfigError("webhook.exemptions: expected usernames, runtimeClasses and namespaces lists")
    return ex


def _defaults(value: object) -> NamespacePolicy:
    """``webhook.defaults``: levels through podsec's labels (hardened allowed), versions through PSA's."""
    labels = {
        (f"pod-security.kubernetes.io/{k}" if k.endswith("-version") else f"podsec.io/{k}"): v
        for k, v in _labels(value or {}, "webhook.defaults").items()
    }
    defaults: NamespacePolicy = policy_for(labels)
    if defaults.errors:
        raise ConfigError(f"webhook.defaults: {defaults.errors[0]}")
    return defaults


def _policy_sets(value: object, config: Config) -> dict[str, Any]:
    """``webhook.policySets``: each name's Rego policies, paths relative to the config file."""
    raw_sets = value or {}
    if not isinstance(raw_sets, dict):
        raise ConfigError("webhook.policySets: expected a mapping of name to a list of policy paths")
    sets: dict[str, Any] = {}
    if not raw_sets:
        return sets
    from podsec.rego import policies as rego

    base = os.path.dirname(config.path) if config.path else ""
    for name, paths in raw_sets.items():
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ConfigError(f"webhook.policySets.{name}: expected a list of .rego files or directories")
        sets[name] = rego.load([p if os.path.isabs(p) else os.path.join(base, p) for p in paths])
    return sets


def _namespaces(data: dict[str, Any]) -> dict[str, dict[str, str]] | None:
    if "namespaces" not in data:
        return None
    raw = data["namespaces"] or {}
    if not isinstance(raw, dict):
        raise ConfigError("webhook.namespaces: expected a mapping of namespace to labels")
    return {ns: _labels(labels or {}, f"webhook.namespaces.{ns}") for ns, labels in raw.items()}


def _failure_mode(data: dict[str, Any]) -> str:
    """The failure mode, once the two flags before it are checked (in the order errors are reported)."""
    for key in ("enforceWorkloads", "mutateByDefault"):
        if not isinstance(data.get(key, False), bool):
            raise ConfigError(f"webhook.{key}: expected true or false")
    failure_mode = data.get("failureMode", "deny")
    if failure_mode not in ("deny", "allow"):
        raise ConfigError(f"webhook.failureMode: expected deny or allow, got {failure_mode!r}")
    return str(failure_mode)


def settings(data: Any, config: Config) -> Settings:
    """Settings from the parsed ``webhook:`` section (None: all defaults) and the scan config."""
    data = _section(data)
    ex = _exemptions(data)
    defaults = _defaults(data.get("defaults"))
    sets = _policy_sets(data.get("policySets"), config)
    namespaces = _namespaces(data)
    failure_mode = _failure_mode(data)
    review = WebhookConfig(
        exempt_usernames=_strings(ex.get("usernames"), "webhook.exemptions.usernames"),
        exempt_runtime_classes=_strings(ex.get("runtimeClasses"), "webhook.exemptions.runtimeClasses"),
        exempt_namespaces=_strings(ex.get("namespaces"), "webhook.exemptions.namespaces"),
        enforce_workloads=data.get("enforceWorkloads", False),
        annotation_exemptions=_annotation_exemptions(data.get("annotationExemptions"), sets),
        exemptions=config.exemptions,
        policy_sets=sets,
        kinds=KindTable(config.kinds),
        defaults=defaults,
        mutate_default=data.get("mutateByDefault", False),
        failure_mode=failure_mode,
    )
    return Settings(review, namespaces)
