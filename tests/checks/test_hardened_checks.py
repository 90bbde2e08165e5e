"""podsec's own checks (the hardened profile), with exact findings: check, field and message."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from podsec import engine
from podsec.checks import CheckLevel
from podsec.model.paths import format_path
from podsec.model.standards import PolicyVersion, Profile
from tests import helpers
from tests.helpers import context, evaluated

Pod = dict[str, Any]


def hardened_pod() -> Pod:
    """A pod that passes every check of the hardened profile."""
    sc = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "automountServiceAccountToken": False,
            "hostUsers": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "initContainers": [{"name": "init", "image": "init:1", "securityContext": copy.deepcopy(sc)}],
            "containers": [{"name": "app", "image": "app:1", "securityContext": copy.deepcopy(sc)}],
        },
    }


def findings(
    pod: Pod, *, enable: tuple[str, ...] = (), options: dict | None = None, own_only: bool = True
) -> list[tuple[str, str, str]]:
    outcome = evaluated(pod, context("hardened", select={"enable": enable, "options": options or {}}))
    return [
        (f.check.id, format_path(f.field), f.message)
        for f in outcome.findings
        if not own_only or f.level is CheckLevel.HARDENED
    ]


def tweak(fn: Callable[[Pod], object]) -> Pod:
    return helpers.tweak(hardened_pod(), fn)


def spec(p: Pod) -> dict[str, Any]:
    s: dict[str, Any] = p["spec"]
    return s


def psc(p: Pod) -> dict[str, Any]:
    sc: dict[str, Any] = p["spec"]["securityContext"]
    return sc


def csc(p: Pod, kind: str = "containers") -> dict[str, Any]:
    sc: dict[str, Any] = p["spec"][kind][0]["securityContext"]
    return sc


def windows(p: Pod) -> None:
    """A valid Windows pod: Linux-only fields removed."""
    s = spec(p)
    s["os"] = {"name": "windows"}
    s.pop("hostUsers")
    s["securityContext"] = {"runAsNonRoot": True, "windowsOptions": {"runAsUserName": "ContainerUser"}}
    for kind in ("initContainers", "containers"):
        s[kind][0].pop("securityContext")


def test_the_base_pod_is_clean() -> None:
    assert findings(hardened_pod(), own_only=False) == []


SPEC = "spec.securityContext"
APP = "spec.containers[0].securityContext"
INIT = "spec.initContainers[0].securityContext"

CASES: list[tuple[str, Callable[[Pod], object], list[tuple[str, str, str]]]] = [
    (
        "pod securityContext missing",
        lambda p: spec(p).update(securityContext={"runAsNonRoot": True}) or spec(p).pop("securityContext"),
        [
            ("podSecurityContextMissing", SPEC, "pod securityContext not set (pod has no securityContext)"),
            (
                "confinement",
                INIT + ".seccompProfile",
                'no confinement profile (container "init" chooses no seccomp, AppArmor or SELinux profile)',
            ),
            (
                "confinement",
                APP + ".seccompProfile",
                'no confinement profile (container "app" chooses no seccomp, AppArmor or SELinux profile)',
            ),
        ],
    ),
    (
        "container securityContext missing, init containers count",
        lambda p: spec(p)["initContainers"][0].pop("securityContext"),
        [
            (
                "containerSecurityContextMissing",
                INIT,
                'container securityContext not set (container "init" has no securityContext of its own)',
            ),
            (
                "readOnlyRootFilesystem",
                INIT + ".readOnlyRootFilesystem",
                'writable root filesystem (container "init" does not set readOnlyRootFilesystem=true)',
            ),
        ],
    ),
    (
        "readOnlyRootFilesystem false",
        lambda p: csc(p).update(readOnlyRootFilesystem=False),
        [
            (
                "readOnlyRootFilesystem",
                APP + ".readOnlyRootFilesystem",
                'writable root filesystem (container "app" sets readOnlyRootFilesystem=false)',
            )
        ],
    ),
    (
        "root group everywhere it can be written",
        lambda p: (psc(p).update(runAsGroup=0, fsGroup=0, supplementalGroups=[5, 0]), csc(p).update(runAsGroup=0)),
        [
            ("rootGroup", SPEC + ".runAsGroup", "root group (pod sets runAsGroup=0)"),
            ("rootGroup", SPEC + ".fsGroup", "root group (pod sets fsGroup=0)"),
            ("rootGroup", SPEC + ".supplementalGroups[1]", "root group (pod lists group 0 in supplementalGroups)"),
            ("rootGroup", APP + ".runAsGroup", 'root group (container "app" sets runAsGroup=0)'),
        ],
    ),
    (
        "a container-level group overrides the pod's root group",
        lambda p: (
            psc(p).update(runAsGroup=0),
            csc(p).update(runAsGroup=5),
            csc(p, "initContainers").update(runAsGroup=5),
        ),
        [
            ("rootGroup", SPEC + ".runAsGroup", "root group (pod sets runAsGroup=0)"),
        ],
    ),
    ("runAsUserMinimum is off by default", lambda p: psc(p).update(runAsUser=1000), []),
    (
        "automountServiceAccountToken unset",
        lambda p: spec(p).pop("automountServiceAccountToken"),
        [
            (
                "automountServiceAccountToken",
                "spec.automountServiceAccountToken",
                "service account token mounted (pod does not set automountServiceAccountToken=false)",
            )
        ],
    ),
    (
        "automountServiceAccountToken true",
        lambda p: spec(p).update(automountServiceAccountToken=True),
        [
            (
                "automountServiceAccountToken",
                "spec.automountServiceAccountToken",
                "service account token mounted (pod sets automountServiceAccountToken=true)",
            )
        ],
    ),
    (
        "dangerous capabilities in any spelling; NET_BIND_SERVICE is fine",
        lambda p: csc(p)["capabilities"].update(add=["NET_BIND_SERVICE", "cap_sys_admin", "NET_RAW"]),
        [
            (
                "dangerousCapabilities",
                APP + ".capabilities.add[1]",
                'dangerous capability (container "app" adds "cap_sys_admin")',
            ),
            (
                "dangerousCapabilities",
                APP + ".capabilities.add[2]",
                'dangerous capability (container "app" adds "NET_RAW")',
            ),
        ],
    ),
    (
        "drop all in lower case",
        lambda p: csc(p)["capabilities"].update(drop=["all"]),
        [
            (
                "capabilitiesDropSpelling",
                APP + ".capabilities.drop[0]",
                'drop ALL misspelled (container "app" drops "all" instead of "ALL")',
            )
        ],
    ),
    (
        "shareProcessNamespace",
        lambda p: spec(p).update(shareProcessNamespace=True),
        [
            (
                "shareProcessNamespace",
                "spec.shareProcessNamespace",
                "shared process namespace (pod sets shareProcessNamespace=true)",
            )
        ],
    ),
    (
        "hostUsers unset",
        lambda p: spec(p).pop("hostUsers"),
        [
            (
                "userNamespace",
                "spec.hostUsers",
                "no user namespace (pod runs in the host's user namespace: hostUsers is not false)",
            )
        ],
    ),
    (
        "no confinement at all (an ephemeral container counts)",
        lambda p: (
            psc(p).pop("seccompProfile"),
            csc(p, "initContainers").update(seccompProfile={"type": "RuntimeDefault"}),
            spec(p)["containers"][0]["securityContext"].update(seLinuxOptions={"level": "s0:c1,c2"}),
            spec(p).update(
                ephemeralContainers=[
                    {
                        "name": "dbg",
                        "image": "busybox",
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                            "appArmorProfile": {"type": "Unconfined"},
                        },
                    }
                ]
            ),
        ),
        [
            (
                "confinement",
                "spec.ephemeralContainers[0].securityContext.seccompProfile",
                'no confinement profile (container "dbg" chooses no seccomp, AppArmor or SELinux profile)',
            )
        ],
    ),
    # --- settings the API server or the kubelet rejects ---
    (
        "privileged with allowPrivilegeEscalation false",
        lambda p: csc(p).update(privileged=True),
        [
            (
                "apiPrivilegeEscalationConflict",
                APP + ".allowPrivilegeEscalation",
                'rejected by the API server (container "app" cannot set `allowPrivilegeEscalation` to false and `privileged` to true)',
            )
        ],
    ),
    (
        "CAP_SYS_ADMIN with allowPrivilegeEscalation false is rejected; SYS_ADMIN is not (upstream compares literally)",
        lambda p: csc(p)["capabilities"].update(add=["CAP_SYS_ADMIN", "SYS_ADMIN"]),
        [
            (
                "apiPrivilegeEscalationConflict",
                APP + ".capabilities.add[0]",
                'rejected by the API server (container "app" cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN)',
            ),
            (
                "dangerousCapabilities",
                APP + ".capabilities.add[0]",
                'dangerous capability (container "app" adds "CAP_SYS_ADMIN")',
            ),
            (
                "dangerousCapabilities",
                APP + ".capabilities.add[1]",
                'dangerous capability (container "app" adds "SYS_ADMIN")',
            ),
        ],
    ),
    (
        "runAsNonRoot from the pod, runAsUser 0 from the container",
        lambda p: csc(p).update(runAsUser=0),
        [
            (
                "kubeletRunAsNonRootConflict",
                APP + ".runAsUser",
                'container will not start (container "app" has runAsNonRoot=true (pod) and runAsUser=0 (container): the kubelet will refuse to start it)',
            )
        ],
    ),
    (
        "fields at the wrong level, both ways",
        lambda p: (
            psc(p).update(allowPrivilegeEscalation=False, readOnlyRootFilesystem=True),
            csc(p).update(fsGroup=2000, sysctls=[]),
        ),
        [
            (
                "apiMisplacedField",
                SPEC + ".allowPrivilegeEscalation",
                "field at the wrong level (pod sets allowPrivilegeEscalation in its securityContext, where it does nothing: it is a container field; move it to every container's securityContext)",
            ),
            (
                "apiMisplacedField",
                SPEC + ".readOnlyRootFilesystem",
                "field at the wrong level (pod sets readOnlyRootFilesystem in its securityContext, where it does nothing: it is a container field; move it to every container's securityContext)",
            ),
            (
                "apiMisplacedField",
                APP + ".fsGroup",
                'field at the wrong level (container "app" sets fsGroup in its securityContext, where it does nothing: it is a pod field; move it to spec.securityContext)',
            ),
            (
                "apiMisplacedField",
                APP + ".sysctls",
                'field at the wrong level (container "app" sets sysctls in its securityContext, where it does nothing: it is a pod field; move it to spec.securityContext)',
            ),
        ],
    ),
    (
        "IDs out of range",
        lambda p: (psc(p).update(fsGroup=-1, supplementalGroups=[2147483648]), csc(p).update(runAsUser=-5)),
        [
            (
                "apiInvalidId",
                SPEC + ".fsGroup",
                "invalid ID (pod fsGroup=-1: must be between 0 and 2147483647, inclusive)",
            ),
            (
                "apiInvalidId",
                SPEC + ".supplementalGroups[0]",
                "invalid ID (pod supplementalGroups=2147483648: must be between 0 and 2147483647, inclusive)",
            ),
            (
                "apiInvalidId",
                APP + ".runAsUser",
                'invalid ID (container "app" runAsUser=-5: must be between 0 and 2147483647, inclusive)',
            ),
        ],
    ),
    (
        "invalid profile types and localhostProfile rules, procMount",
        lambda p: (
            psc(p).update(seccompProfile={"type": "runtimeDefault"}, appArmorProfile={"type": "Localhost"}),
            csc(p).update(
                seccompProfile={"type": "RuntimeDefault", "localhostProfile": "x.json"}, procMount="unmasked"
            ),
            csc(p, "initContainers").update(seccompProfile={}),
        ),
        [
            (
                "apiInvalidProfile",
                SPEC + ".seccompProfile.type",
                'invalid value (pod seccompProfile.type: Unsupported value: "runtimeDefault": supported values: "RuntimeDefault", "Unconfined", "Localhost")',
            ),
            (
                "apiInvalidProfile",
                SPEC + ".appArmorProfile.localhostProfile",
                "invalid value (pod appArmorProfile.localhostProfile: Required value: must be set when AppArmor type is Localhost)",
            ),
            (
                "apiInvalidProfile",
                INIT + ".seccompProfile.type",
                'invalid value (container "init" seccompProfile.type: Required value)',
            ),
            (
                "apiInvalidProfile",
                APP + ".seccompProfile.localhostProfile",
                'invalid value (container "app" seccompProfile.localhostProfile: can only be set when seccomp type is Localhost)',
            ),
            (
                "apiInvalidProfile",
                APP + ".procMount",
                'invalid value (container "app" procMount: Unsupported value: "unmasked": supported values: "Default", "Unmasked")',
            ),
        ],
    ),
    (
        "windowsOptions on a linux pod",
        lambda p: (spec(p).update(os={"name": "linux"}), csc(p).update(windowsOptions={"runAsUserName": "x"})),
        [
            (
                "apiOsForbiddenField",
                APP + ".windowsOptions",
                'field not allowed for the pod\'s OS (container "app" sets windowsOptions: Forbidden: windows options cannot be set for a linux pod)',
            )
        ],
    ),
    (
        "shareProcessNamespace with hostPID",
        lambda p: spec(p).update(shareProcessNamespace=True, hostPID=True),
        [
            (
                "apiShareProcessNamespaceHostPID",
                "spec.shareProcessNamespace",
                "rejected by the API server (pod sets shareProcessNamespace and hostPID: ShareProcessNamespace and HostPID cannot both be enabled)",
            ),
            (
                "shareProcessNamespace",
                "spec.shareProcessNamespace",
                "shared process namespace (pod sets shareProcessNamespace=true)",
            ),
        ],
    ),
    # --- Windows pods: Linux-only checks are skipped, Windows checks run ---
    ("a valid Windows pod passes every podsec check", windows, []),
    (
        "ContainerAdministrator on the pod or a container (any case)",
        lambda p: (windows(p), psc(p)["windowsOptions"].update(runAsUserName="containeradministrator")),
        [
            (
                "windowsAdministrator",
                SPEC + ".windowsOptions.runAsUserName",
                "Windows administrator (pod runs as ContainerAdministrator)",
            )
        ],
    ),
    (
        "Linux-only fields on a Windows pod are rejected, not checked",
        lambda p: (
            windows(p),
            psc(p).update(runAsUser=0, fsGroup=0),
            spec(p)["containers"][0].update(
                securityContext={"capabilities": {"add": ["NET_ADMIN"]}, "readOnlyRootFilesystem": False}
            ),
        ),
        [
            (
                "apiOsForbiddenField",
                SPEC + ".fsGroup",
                "field not allowed for the pod's OS (pod sets fsGroup: Forbidden: cannot be set for a windows pod)",
            ),
            (
                "apiOsForbiddenField",
                SPEC + ".runAsUser",
                "field not allowed for the pod's OS (pod sets runAsUser: Forbidden: cannot be set for a windows pod)",
            ),
            (
                "apiOsForbiddenField",
                APP + ".capabilities",
                'field not allowed for the pod\'s OS (container "app" sets capabilities: Forbidden: cannot be set for a windows pod)',
            ),
            (
                "apiOsForbiddenField",
                APP + ".readOnlyRootFilesystem",
                'field not allowed for the pod\'s OS (container "app" sets readOnlyRootFilesystem: Forbidden: cannot be set for a windows pod)',
            ),
        ],
    ),
    (
        "windowsAdministrator does not run on a linux pod",
        lambda p: (
            spec(p).update(os={"name": "linux"}),
            psc(p).update(windowsOptions={"runAsUserName": "ContainerAdministrator"}),
        ),
        [
            (
                "apiOsForbiddenField",
                SPEC + ".windowsOptions",
                "field not allowed for the pod's OS (pod sets windowsOptions: Forbidden: windows options cannot be set for a linux pod)",
            )
        ],
    ),
]


@pytest.mark.parametrize(("name", "change", "expected"), CASES, ids=[c[0] for c in CASES])
def test_hardened_check(name: str, change: Callable[[Pod], object], expected: list[tuple[str, str, str]]) -> None:
    assert findings(tweak(change)) == expected


def test_uid_minimum_when_enabled() -> None:
    pod = tweak(lambda p: (psc(p).update(runAsUser=1000), csc(p).update(runAsUser=20000)))
    assert findings(pod, enable=("runAsUserMinimum",)) == [
        ("runAsUserMinimum", SPEC + ".runAsUser", "low UID (pod sets runAsUser=1000, below 10000)"),
    ]
    assert findings(pod, options={"runAsUserMinimum": {"minimum": 30000}}) == [
        ("runAsUserMinimum", SPEC + ".runAsUser", "low UID (pod sets runAsUser=1000, below 30000)"),
        ("runAsUserMinimum", APP + ".runAsUser", 'low UID (container "app" sets runAsUser=20000, below 30000)'),
    ]


def test_baseline_and_restricted_run_no_podsec_checks() -> None:
    pod = tweak(lambda p: spec(p).update(shareProcessNamespace=True, automountServiceAccountToken=True))
    for level in ("baseline", "restricted"):
        ctx = context(level)
        assert all(s.check.level.value in ("baseline", "restricted") for s in ctx.policy.checks)
        assert evaluated(pod, ctx).findings == ()


def test_psa_verdict_names_the_pss_level_under_hardened() -> None:
    pod = tweak(lambda p: csc(p).update(privileged=True))
    outcome = evaluated(pod, context("hardened"))
    assert outcome.verdicts == (
        (
            None,
            'violates PodSecurity "restricted:latest": privileged (container "app" must not set securityContext.privileged=true)',
        ),
    )


def test_disable_and_unknown_ids() -> None:
    policy = engine.select(Profile.HARDENED, PolicyVersion(None), disable=["userNamespace", "runAsNonRoot"])
    ids = {s.check.id for s in policy.checks}
    assert "userNamespace" not in ids and "runAsNonRoot" not in ids and "readOnlyRootFilesystem" in ids
    with pytest.raises(engine.ConfigurationError, match='no such check: "nope"'):
        engine.select(Profile.HARDENED, PolicyVersion(None), enable=["nope"])
    with pytest.raises(engine.ConfigurationError, match='unknown option "max"'):
        engine.select(Profile.HARDENED, PolicyVersion(None), options={"runAsUserMinimum": {"max": 1}})


def windows_by_selector(label: str = "kubernetes.io/os") -> Pod:
    """A Windows workload as many charts write it: only a nodeSelector says Windows."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "iis", "namespace": "web"},
        "spec": {
            "nodeSelector": {label: "windows"},
            "securityContext": {"windowsOptions": {"runAsUserName": "ContainerUser"}},
            "containers": [{"name": "iis", "image": "mcr.microsoft.com/windows/servercore/iis"}],
        },
    }


@pytest.mark.parametrize("label", ["kubernetes.io/os", "beta.kubernetes.io/os"])
def test_windows_by_node_selector_gets_an_os_name_recommendation_not_linux_findings(label: str) -> None:
    pod = windows_by_selector(label)
    own = findings(pod)
    assert [(c, f) for c, f, _ in own] == [
        ("windowsOsName", "spec.os.name"),
        ("automountServiceAccountToken", "spec.automountServiceAccountToken"),
    ]  # none of the Linux-only checks (readOnlyRootFilesystem, userNamespace, confinement, ...)
    assert f"nodeSelector {label}: windows" in own[0][2]
    # Pod Security Admission still judges it a Linux pod: the restricted verdict is unchanged
    pss = {c for c, _, _ in findings(pod, own_only=False)} - {c for c, _, _ in own}
    assert {"allowPrivilegeEscalation", "capabilities_restricted", "seccompProfile_restricted"} <= pss


def test_windows_with_os_name_needs_no_recommendation() -> None:
    pod = windows_by_selector()
    pod["spec"]["os"] = {"name": "windows"}
    # PSA relaxes the Linux-only restricted checks; runAsNonRoot still applies to Windows pods
    assert [c for c, _, _ in findings(pod, own_only=False)] == ["runAsNonRoot", "automountServiceAccountToken"]


def test_a_linux_node_selector_changes_nothing() -> None:
    pod = hardened_pod()
    pod["spec"]["nodeSelector"] = {"kubernetes.io/os": "linux"}
    assert findings(pod) == []
