"""Pod Security Admission's own configuration (``--psa-config``): its defaults and exemptions.

Accepts the API server's ``AdmissionConfiguration`` (``apiserver.config.k8s.io/v1``, its
``PodSecurity`` plugin entry with an inline ``configuration`` or a ``path``) or a bare
``PodSecurityConfiguration`` (``pod-security.admission.config.k8s.io/v1``, ``v1beta1``,
``v1alpha1``). Unknown keys are errors, as a typo in an exemption list must not pass silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

from podsec.admission.labels import DEFAULTS, PSA, NamespacePolicy, policy_for
from podsec.model.standards import PolicyVersion

ADMISSION_VERSIONS = frozenset({"apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1alpha1",
                                "apiserver.k8s.io/v1alpha1"})  # fmt: skip
PSA_VERSIONS = frozenset({f"pod-security.admission.config.k8s.io/{v}" for v in ("v1", "v1beta1", "v1alpha1")})
_DEFAULT_KEYS = ("enforce", "enforce-version", "audit", "audit-version", "warn", "warn-version")
_EXEMPTION_KEYS = ("usernames", "runtimeClasses", "namespaces")
_LEVELS = ("privileged", "baseline", "restricted")


class PsaConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PsaConfig:
    defaults: NamespacePolicy = DEFAULTS  # for namespaces without labels
    usernames: frozenset[str] = frozenset()
    runtime_classes: frozenset[str] = frozenset()
    namespaces: frozenset[str] = frozenset()
    source: str | None = None  # the file it came from

    def as_dict(self) -> dict[str, Any]:
        d = self.defaults
        return {
            "file": self.source,
            "defaults": {m: str(d.mode(m)) for m in ("enforce", "audit", "warn")},
            "exemptions": {
                "usernames": sorted(self.usernames),
                "runtimeClasses": sorted(self.runtime_classes),
                "namespaces": sorted(self.namespaces),
            },
        }


def _strings(value: object, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PsaConfigError(f"{where}: expected a list of strings")
    return frozenset(value)


def _psa(doc: dict[str, Any], where: str, source: str) -> PsaConfig:
    unknown = set(doc) - {"apiVersion", "kind", "defaults", "exemptions"}
    if unknown:
        raise PsaConfigError(f'{where}: unknown field "{sorted(unknown)[0]}"')
    defaults = doc.get("defaults") or {}
    exemptions = doc.get("exemptions") or {}
    if not isinstance(defaults, dict) or not isinstance(exemptions, dict):
        raise PsaConfigError(f"{where}: defaults and exemptions must be mappings")
    for key, value in defaults.items():
        if key not in _DEFAULT_KEYS:
            raise PsaConfigError(f'{where}.defaults: unknown field "{key}" (fields: {", ".join(_DEFAULT_KEYS)})')
        if key.endswith("-version"):
            try:
                PolicyVersion.parse(str(value))
            except ValueError as exc:
                raise PsaConfigError(f"{where}.defaults.{key}: {exc}") from None
        elif value not in _LEVELS:
            raise PsaConfigError(f'{where}.defaults.{key}: "{value}" is not one of {", ".join(_LEVELS)}')
    for key in exemptions:
        if key not in _EXEMPTION_KEYS:
            raise PsaConfigError(f'{where}.exemptions: unknown field "{key}" (fields: {", ".join(_EXEMPTION_KEYS)})')
    return PsaConfig(
        policy_for({PSA + k: str(v) for k, v in defaults.items()}),
        _strings(exemptions.get("usernames"), f"{where}.exemptions.usernames"),
        _strings(exemptions.get("runtimeClasses"), f"{where}.exemptions.runtimeClasses"),
        _strings(exemptions.get("namespaces"), f"{where}.exemptions.namespaces"),
        source,
    )


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except OSError as exc:
        raise PsaConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise PsaConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise PsaConfigError(f"{path}: expected an AdmissionConfiguration or a PodSecurityConfiguration")
    return doc


def _checked(doc: dict[str, Any], where: str) -> dict[str, Any]:
    if doc.get("kind") != "PodSecurityConfiguration" or doc.get("apiVersion") not in PSA_VERSIONS:
        raise PsaConfigError(f"{where}: expected a PodSecurityConfiguration (pod-security.admission.config.k8s.io/v1)")
    return doc


def load(path: str) -> PsaConfig:
    doc = _read(path)
    api, kind = doc.get("apiVersion"), doc.get("kind")
    if kind == "PodSecurityConfiguration" and api in PSA_VERSIONS:
        return _psa(doc, path, path)
    if kind != "AdmissionConfiguration" or api not in ADMISSION_VERSIONS:
        raise PsaConfigError(
            f"{path}: expected an AdmissionConfiguration (apiserver.config.k8s.io/v1) or a "
            f"PodSecurityConfiguration (pod-security.admission.config.k8s.io/v1), not {kind} {api}"
        )
    for i, plugin in enumerate(doc.get("plugins") or []):
        if not isinstance(plugin, dict) or plugin.get("name") != "PodSecurity":
            continue
        where = f"{path}: plugins[{i}]"
        inline = plugin.get("configuration")
        if isinstance(inline, dict):
            return _psa(_checked(inline, f"{where}.configuration"), f"{where}.configuration", path)
        if isinstance(plugin.get("path"), str):
            inner = os.path.join(os.path.dirname(os.path.abspath(path)), plugin["path"])
            return _psa(_checked(_read(inner), inner), inner, inner)
        raise PsaConfigError(f"{where}: the PodSecurity plugin has neither configuration nor path")
    return PsaConfig(source=path)  # no PodSecurity entry: PSA runs with its built-in defaults
