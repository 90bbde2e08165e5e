"""``podsec vap generate``: ValidatingAdmissionPolicies that enforce a profile the way PSA's labels do.

For a profile P, three policies, one per mode, each with the bindings that select the
namespaces whose labels ask for P in that mode:

* enforce (Deny) on ``pods`` and ``pods/ephemeralcontainers``, CREATE and the UPDATEs PSA
  evaluates (containers added or removed, an image changed, an ephemeral container added);
* warn (Warn) and audit (Audit) on pods and on the pod templates of Deployments,
  ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs, ReplicationControllers and
  PodTemplates.

A namespace asks for P in a mode with ``podsec.io/<mode>: P``, or, without that label,
with PSA's ``pod-security.kubernetes.io/<mode>: P`` (an invalid enforce level counts as
restricted, as in PSA; warn follows enforce when the warn label is absent). The version
comes from ``pod-security.kubernetes.io/<mode>-version`` inside the policy, so one
policy evaluates every version exactly; ``latest``, an absent or invalid version and
versions newer than the cluster mean ``--pss-version`` (default: the cluster's own).
Exemptions are match conditions. Denials read exactly like PSA's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from podsec.engine import NEWEST as PSS_NEWEST
from podsec.model.standards import PolicyVersion
from podsec.vap import celenv, pss_cel

OLDEST: celenv.Version = (1, 30)
"""The generated objects use admissionregistration.k8s.io/v1, GA in Kubernetes 1.30."""
PSA = "pod-security.kubernetes.io/"
OWN = "podsec.io/"
API = "admissionregistration.k8s.io/v1"
WORKLOADS = (
    ("", ("pods", "replicationcontrollers", "podtemplates")),
    ("apps", ("deployments", "replicasets", "statefulsets", "daemonsets")),
    ("batch", ("jobs", "cronjobs")),
)
_POD_TEMPLATE = (
    "request.resource.resource == 'pods' ? object : "
    "request.resource.resource == 'podtemplates' ? object.template : "
    "request.resource.resource == 'cronjobs' ? object.spec.jobTemplate.spec.template : object.spec.template"
)
# PSA evaluates a pod UPDATE only when it is significant (spec §6.5).
_SIGNIFICANT = (
    "request.resource.resource != 'pods' || request.operation != 'UPDATE' || oldObject == null || "
    "size(object.spec.?containers.orValue([])) != size(oldObject.spec.?containers.orValue([])) || "
    "size(object.spec.?initContainers.orValue([])) != size(oldObject.spec.?initContainers.orValue([])) || "
    "object.spec.?containers.orValue([]).map(c, c.?image.orValue('')) != "
    "oldObject.spec.?containers.orValue([]).map(c, c.?image.orValue('')) || "
    "object.spec.?initContainers.orValue([]).map(c, c.?image.orValue('')) != "
    "oldObject.spec.?initContainers.orValue([]).map(c, c.?image.orValue('')) || "
    "object.spec.?ephemeralContainers.orValue([]).exists(e, !oldObject.spec.?ephemeralContainers.orValue([])"
    ".exists(o, o.?name.orValue('') == e.?name.orValue('') && o.?image.orValue('') == e.?image.orValue('')))"
)

# podsec's hardened checks, and why they are not in the generated policies
NOT_GENERATED = {
    "apiPrivilegeEscalationConflict": "the API server itself rejects such pods",
    "kubeletRunAsNonRootConflict": "needs the image's user, which admission does not see",
    "apiMisplacedField": "the API server drops unknown fields before admission, so the policy never sees them",
    "apiInvalidId": "the API server itself rejects such pods",
    "apiInvalidProfile": "the API server itself rejects such pods",
    "apiOsForbiddenField": "the API server itself rejects such pods",
    "apiShareProcessNamespaceHostPID": "the API server itself rejects such pods",
    "podSecurityContextMissing": "the API server defaults spec.securityContext to {}, so admission cannot tell",
    "containerSecurityContextMissing": "not yet generated (expressible)",
    "readOnlyRootFilesystem": "not yet generated (expressible)",
    "rootGroup": "not yet generated (expressible)",
    "runAsUserMinimum": "off by default; its minimum is configuration",
    "windowsAdministrator": "not yet generated (expressible)",
    "automountServiceAccountToken": "the ServiceAccount's own automountServiceAccountToken is not visible to a policy",
    "dangerousCapabilities": "not yet generated (expressible)",
    "capabilitiesDropSpelling": "not yet generated (expressible)",
    "shareProcessNamespace": "not yet generated (expressible)",
    "userNamespace": "not yet generated (expressible)",
    "confinement": "not yet generated (expressible)",
}


def _latest(pss_version: PolicyVersion, kube: celenv.Version) -> tuple[int, str]:
    """(minor evaluated for latest, the default version's spelling in messages)."""
    newest = min(PSS_NEWEST, kube)[1]
    if pss_version.minor is None:
        return newest, "latest"
    return min(pss_version.minor, newest), str(pss_version)


def _mode_labels(mode: str) -> tuple[str, str]:
    """CEL for the level label's value (or '') and the version label's value (or '') of ``mode``."""
    labels = "(namespaceObject == null ? {} : namespaceObject.metadata.?labels.orValue({}))"
    own = f"{labels}[?'{OWN}{mode}'].orValue('')"
    psa = f"{labels}[?'{PSA}{mode}'].orValue('')"
    version = f"{labels}[?'{PSA}{mode}-version']"
    if mode == "warn":  # warn follows enforce, version included, when the warn label is absent
        follows = f"!({labels}.exists(k, k == '{PSA}warn' || k == '{OWN}warn'))"
        enforce_version = f"{labels}[?'{PSA}enforce-version']"
        return (
            f"{own} != '' ? {own} : {psa}",
            f"{version}.orValue({follows} ? {enforce_version}.orValue('') : '')",
        )
    return f"{own} != '' ? {own} : {psa}", f"{version}.orValue('')"


def _variables(level: str, mode: str, latest: int, default_spelling: str, full: bool) -> list[dict[str, str]]:
    _, version_label = _mode_labels(mode)
    valid = "s == 'latest' || s.matches('^v1\\\\.(0|[1-9][0-9]*)$')"
    spelling = f"[{version_label}].map(s, ({valid}) ? s : '{default_spelling}')[0]"
    minor = (
        f"variables.spelling == 'latest' ? {latest} : "
        f"[int(variables.spelling.substring(3))].map(n, n > {latest} ? {latest} : n)[0]"
    )
    if default_spelling != "latest":
        spelling = f"[{version_label}].map(s, s == '' || !({valid}) ? '{default_spelling}' : s)[0]"
    out = [
        {"name": "pod", "expression": _POD_TEMPLATE},
        {"name": "spec", "expression": "variables.pod.?spec.orValue({})"},
        {"name": "meta", "expression": "variables.pod.?metadata.orValue({})"},
        {"name": "psc", "expression": "variables.spec.?securityContext.orValue({})"},
        {
            "name": "all",
            "expression": "variables.spec.?initContainers.orValue([]) + variables.spec.?containers.orValue([]) + "
            "variables.spec.?ephemeralContainers.orValue([])",
        },
        {"name": "spelling", "expression": spelling},
        {"name": "v", "expression": minor},
    ]
    checks = pss_cel.checks(level, full)
    for check_id, expression in checks:
        out.append({"name": f"check_{check_id}", "expression": expression})
    failures = "[" + ", ".join(f"variables.check_{c}" for c, _ in checks) + "].filter(m, m != '')"
    out.append({"name": "failures", "expression": failures})
    return out


def _level_selectors(level: str, mode: str) -> list[list[dict[str, Any]]]:
    """namespaceSelector matchExpressions of the bindings that select ``level`` for ``mode``."""
    own, psa = f"{OWN}{mode}", f"{PSA}{mode}"
    selectors: list[list[dict[str, Any]]] = [[{"key": own, "operator": "In", "values": [level]}]]
    no_own: dict[str, Any] = {"key": own, "operator": "DoesNotExist"}
    if mode == "enforce" and level == "restricted":  # an invalid enforce level fails closed
        selectors.append(
            [
                no_own,
                {"key": psa, "operator": "Exists"},
                {"key": psa, "operator": "NotIn", "values": ["privileged", "baseline"]},
            ]
        )
    else:
        selectors.append([no_own, {"key": psa, "operator": "In", "values": [level]}])
    if mode == "warn":  # warn follows enforce when no warn label is set
        absent: list[dict[str, Any]] = [{"key": psa, "operator": "DoesNotExist"}, no_own]
        selectors.append([*absent, {"key": f"{OWN}enforce", "operator": "In", "values": [level]}])
        enforce: dict[str, Any] = {"key": f"{PSA}enforce", "operator": "In", "values": [level]}
        selectors.append([*absent, {"key": f"{OWN}enforce", "operator": "DoesNotExist"}, enforce])
    return selectors


def build(
    profile: str,
    pss_version: PolicyVersion,
    kube: celenv.Version,
    *,
    exempt_namespaces: Sequence[str] = (),
    exempt_usernames: Sequence[str] = (),
    exempt_runtime_classes: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The policies and bindings for ``profile``."""
    level = "baseline" if profile == "baseline" else "restricted"
    latest, spelling = _latest(pss_version, kube)
    full = celenv.compatibility(kube) >= (1, 34)
    shown = profile if profile != "hardened" else "restricted"
    objects: list[dict[str, Any]] = []
    for mode, action in (("enforce", "Deny"), ("warn", "Warn"), ("audit", "Audit")):
        name = f"podsec-{profile}-{mode}"
        if mode == "enforce":
            rules = [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": ["pods", "pods/ephemeralcontainers"],
                }
            ]
        else:
            rules = [
                {
                    "apiGroups": [group],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": list(resources),
                }
                for group, resources in WORKLOADS
            ]
        conditions = [
            {"name": "significant-change", "expression": _SIGNIFICANT},
            {
                "name": "has-pod-template",
                "expression": "request.resource.resource != 'replicationcontrollers' || has(object.spec.template)",
            },
        ]
        if exempt_namespaces:
            conditions.append(
                {"name": "exempt-namespaces", "expression": f"!(request.namespace in {_list(exempt_namespaces)})"}
            )
        if exempt_usernames:
            conditions.append(
                {"name": "exempt-usernames", "expression": f"!(request.userInfo.username in {_list(exempt_usernames)})"}
            )
        if exempt_runtime_classes:
            conditions.append(
                {
                    "name": "exempt-runtime-classes",
                    "expression": f"!(variables.spec.?runtimeClassName.orValue('') in {_list(exempt_runtime_classes)})",
                }
            )
        verb = "violates" if mode == "enforce" else "would violate"
        message = f"'{verb} PodSecurity \"{shown}:' + variables.spelling + '\": ' + variables.failures.join(', ')"
        objects.append(
            {
                "apiVersion": API,
                "kind": "ValidatingAdmissionPolicy",
                "metadata": {
                    "name": name,
                    "labels": {"app.kubernetes.io/managed-by": "podsec"},
                    "annotations": {
                        "podsec.io/profile": profile,
                        "podsec.io/mode": mode,
                        "podsec.io/kube-version": f"1.{kube[1]}",
                    },
                },
                "spec": {
                    "failurePolicy": "Fail" if mode == "enforce" else "Ignore",
                    "matchConstraints": {"resourceRules": rules},
                    "matchConditions": conditions,
                    "variables": _variables(level, mode, latest, spelling, full),
                    "validations": [
                        {
                            "expression": "size(variables.failures) == 0",
                            "messageExpression": message,
                            "message": f'{verb} PodSecurity "{shown}"',
                            "reason": "Forbidden",
                        }
                    ],
                },
            }
        )
        for i, expressions in enumerate(_level_selectors(profile if profile != "hardened" else "hardened", mode)):
            if profile == "hardened" and i > 0:
                break  # hardened is podsec's own profile: only podsec.io/<mode>: hardened selects it
            objects.append(
                {
                    "apiVersion": API,
                    "kind": "ValidatingAdmissionPolicyBinding",
                    "metadata": {"name": f"{name}-{i}", "labels": {"app.kubernetes.io/managed-by": "podsec"}},
                    "spec": {
                        "policyName": name,
                        "validationActions": [action],
                        "matchResources": {"namespaceSelector": {"matchExpressions": expressions}},
                    },
                }
            )
    return objects


def _list(items: Sequence[str]) -> str:
    return "[" + ", ".join("'" + i.replace("\\", "\\\\").replace("'", "\\'") + "'" for i in items) + "]"


def main(args: argparse.Namespace) -> int:
    if args.not_expressible:
        for check, why in NOT_GENERATED.items():
            sys.stdout.write(f"{check}: {why}\n")
        return 0
    if args.kube_version < OLDEST:
        print(f"podsec: error: podsec vap generate needs Kubernetes 1.{OLDEST[1]} or newer", file=sys.stderr)
        return 2
    try:
        version = PolicyVersion.parse(args.pss_version)
    except ValueError as exc:
        print(f"podsec: error: {exc}", file=sys.stderr)
        return 2
    objects = build(
        args.profile,
        version,
        args.kube_version,
        exempt_namespaces=args.exempt_namespace,
        exempt_usernames=args.exempt_username,
        exempt_runtime_classes=args.exempt_runtime_class,
    )
    sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=False, width=1_000_000))
    return 0
