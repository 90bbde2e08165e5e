"""Restricted checks, overrides and the quirks of spec §8, with exact PSA messages."""

from __future__ import annotations

import pytest

from tests.helpers import add_ephemeral, container_sc, messages, minimal_pod, pod_sc, results, tweak

WIN = lambda p: p["spec"].update(os={"name": "windows"})


def _r(minor: int) -> dict:
    return minimal_pod("restricted", minor)


CASES = [
    # --- allowPrivilegeEscalation ---
    ("ape not run before v1.8", "v1.7", lambda p: None, {}),
    (
        "ape unset and true fail",
        "v1.8",
        lambda p: (
            container_sc(p).pop("allowPrivilegeEscalation"),
            container_sc(p, "initContainers").update(allowPrivilegeEscalation=True),
        ),
        {
            "allowPrivilegeEscalation": 'allowPrivilegeEscalation != false (containers "initcontainer1", "container1" must set '
            "securityContext.allowPrivilegeEscalation=false)"
        },
    ),
    (
        "ape windows not exempt at v1.24",
        "v1.24",
        lambda p: (WIN(p), container_sc(p).pop("allowPrivilegeEscalation")),
        {
            "allowPrivilegeEscalation": 'allowPrivilegeEscalation != false (container "container1" must set '
            "securityContext.allowPrivilegeEscalation=false)"
        },
    ),
    ("ape windows exempt from v1.25", "v1.25", lambda p: (WIN(p), container_sc(p).pop("allowPrivilegeEscalation")), {}),
    (
        "ape ephemeral container",
        "v1.37",
        lambda p: add_ephemeral(p, capabilities={"drop": ["ALL"]}),
        {
            "allowPrivilegeEscalation": 'allowPrivilegeEscalation != false (container "debugger" must set '
            "securityContext.allowPrivilegeEscalation=false)"
        },
    ),
    # --- capabilities ---
    ("no drop needed before v1.22", "v1.21", lambda p: None, {}),
    (
        "baseline caps rule at restricted before v1.22",
        "v1.21",
        lambda p: container_sc(p).update(capabilities={"add": ["SYS_ADMIN"]}),
        {
            "capabilities_baseline": 'non-default capabilities (container "container1" must not include "SYS_ADMIN" in '
            "securityContext.capabilities.add)"
        },
    ),
    (
        "restricted caps replace baseline from v1.22",
        "v1.22",
        lambda p: (
            container_sc(p).update(capabilities={"add": ["SYS_ADMIN", "CHOWN", "NET_BIND_SERVICE"], "drop": ["ALL"]}),
            container_sc(p, "initContainers").pop("capabilities"),
        ),
        {
            "capabilities_restricted": 'unrestricted capabilities (container "initcontainer1" must set '
            'securityContext.capabilities.drop=["ALL"]; container "container1" must not include "CHOWN", "SYS_ADMIN" in '
            "securityContext.capabilities.add)"
        },
    ),
    (
        "drop must be exactly ALL",
        "v1.37",
        lambda p: (
            container_sc(p).update(capabilities={"drop": ["all"]}),
            container_sc(p, "initContainers").update(capabilities={"drop": ["NET_RAW"]}),
        ),
        {
            "capabilities_restricted": 'unrestricted capabilities (containers "initcontainer1", "container1" must set '
            'securityContext.capabilities.drop=["ALL"])'
        },
    ),
    # --- restrictedVolumes / hostPathVolumes override ---
    (
        "allowed volumes and source-less volume (emptyDir default)",
        "v1.0",
        lambda p: p["spec"].update(
            volumes=[
                {"name": "a"},
                {"name": "b", "configMap": {"name": "x"}},
                {"name": "c", "image": {"reference": "x"}},
                {"name": "d", "csi": {"driver": "x"}},
            ]
        ),
        {},
    ),
    (
        "restricted volume types",
        "v1.37",
        lambda p: p["spec"].update(
            volumes=[
                {"name": "h", "hostPath": {"path": "/"}},
                {"name": "n", "nfs": {"server": "s", "path": "/"}},
                {"name": "h2", "hostPath": {"path": "/x"}},
            ]
        ),
        {
            "restrictedVolumes": 'restricted volume types (volumes "h", "n", "h2" use restricted volume types "hostPath", "nfs")'
        },
    ),
    (
        "one volume, one type",
        "v1.37",
        lambda p: p["spec"].update(volumes=[{"name": "g", "gitRepo": {"repository": "r"}}]),
        {"restrictedVolumes": 'restricted volume types (volume "g" uses restricted volume type "gitRepo")'},
    ),
    (
        "quirk 8.2: emptyDir + hostPath passes restricted",
        "v1.37",
        lambda p: p["spec"].update(volumes=[{"name": "both", "emptyDir": {}, "hostPath": {"path": "/"}}]),
        {},
    ),
    # --- runAsNonRoot ---
    (
        "runAsNonRoot unset everywhere",
        "v1.0",
        lambda p: pod_sc(p).pop("runAsNonRoot"),
        {
            "runAsNonRoot": 'runAsNonRoot != true (pod or containers "initcontainer1", "container1" must set '
            "securityContext.runAsNonRoot=true)"
        },
    ),
    (
        "runAsNonRoot set per container passes",
        "v1.37",
        lambda p: (
            pod_sc(p).pop("runAsNonRoot"),
            container_sc(p).update(runAsNonRoot=True),
            container_sc(p, "initContainers").update(runAsNonRoot=True),
        ),
        {},
    ),
    (
        "quirk 8.7: pod false fails although containers are true",
        "v1.37",
        lambda p: (
            pod_sc(p).update(runAsNonRoot=False),
            container_sc(p).update(runAsNonRoot=True),
            container_sc(p, "initContainers").update(runAsNonRoot=True),
        ),
        {"runAsNonRoot": "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)"},
    ),
    (
        "explicit false wins over implicit",
        "v1.37",
        lambda p: (pod_sc(p).pop("runAsNonRoot"), container_sc(p).update(runAsNonRoot=False)),
        {
            "runAsNonRoot": 'runAsNonRoot != true (container "container1" must not set securityContext.runAsNonRoot=false)'
        },
    ),
    (
        "runAsUser does not satisfy runAsNonRoot",
        "v1.37",
        lambda p: (pod_sc(p).pop("runAsNonRoot"), pod_sc(p).update(runAsUser=1000)),
        {
            "runAsNonRoot": 'runAsNonRoot != true (pod or containers "initcontainer1", "container1" must set '
            "securityContext.runAsNonRoot=true)"
        },
    ),
    (
        "runAsNonRoot: windows not exempt",
        "v1.37",
        lambda p: (WIN(p), pod_sc(p).pop("runAsNonRoot")),
        {
            "runAsNonRoot": 'runAsNonRoot != true (pod or containers "initcontainer1", "container1" must set '
            "securityContext.runAsNonRoot=true)"
        },
    ),
    (
        "runAsNonRoot: hostUsers false does nothing at v1.34",
        "v1.34",
        lambda p: (p["spec"].update(hostUsers=False), pod_sc(p).update(runAsNonRoot=False)),
        {"runAsNonRoot": "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)"},
    ),
    (
        "runAsNonRoot: hostUsers false relaxes from v1.35",
        "v1.35",
        lambda p: (p["spec"].update(hostUsers=False), pod_sc(p).update(runAsNonRoot=False)),
        {},
    ),
    # --- runAsUser ---
    ("runAsUser 0 not checked before v1.23", "v1.22", lambda p: container_sc(p).update(runAsUser=0), {}),
    (
        "runAsUser 0 from v1.23; quirk: pod-level 0 fails although overridden",
        "v1.23",
        lambda p: (
            pod_sc(p).update(runAsUser=0),
            container_sc(p).update(runAsUser=1000),
            container_sc(p, "initContainers").update(runAsUser=0),
        ),
        {"runAsUser": 'runAsUser=0 (pod and container "initcontainer1" must not set runAsUser=0)'},
    ),
    ("runAsUser non-zero passes", "v1.37", lambda p: pod_sc(p).update(runAsUser=1), {}),
    (
        "runAsUser: hostUsers false relaxes from v1.35",
        "v1.35",
        lambda p: (p["spec"].update(hostUsers=False), pod_sc(p).update(runAsUser=0)),
        {},
    ),
    (
        "runAsUser: hostUsers false at v1.34",
        "v1.34",
        lambda p: (p["spec"].update(hostUsers=False), pod_sc(p).update(runAsUser=0)),
        {"runAsUser": "runAsUser=0 (pod must not set runAsUser=0)"},
    ),
    # --- seccompProfile_restricted ---
    ("no seccomp required before v1.19", "v1.18", lambda p: None, {}),
    (
        "seccomp required from v1.19 (baseline replaced)",
        "v1.19",
        lambda p: pod_sc(p).pop("seccompProfile"),
        {
            "seccompProfile_restricted": 'seccompProfile (pod or containers "initcontainer1", "container1" must set '
            'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
        },
    ),
    (
        "seccomp set per container passes",
        "v1.37",
        lambda p: (
            pod_sc(p).pop("seccompProfile"),
            container_sc(p).update(seccompProfile={"type": "Localhost", "localhostProfile": "x"}),
            container_sc(p, "initContainers").update(seccompProfile={"type": "RuntimeDefault"}),
        ),
        {},
    ),
    (
        "quirk 8.7: pod Unconfined fails although containers are valid",
        "v1.37",
        lambda p: (
            pod_sc(p).update(seccompProfile={"type": "Unconfined"}),
            container_sc(p).update(seccompProfile={"type": "RuntimeDefault"}),
            container_sc(p, "initContainers").update(seccompProfile={"type": "RuntimeDefault"}),
        ),
        {
            "seccompProfile_restricted": 'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")'
        },
    ),
    (
        "explicit bad seccomp wins over unset",
        "v1.37",
        lambda p: (pod_sc(p).pop("seccompProfile"), container_sc(p).update(seccompProfile={"type": "Unconfined"})),
        {
            "seccompProfile_restricted": 'seccompProfile (container "container1" must not set '
            'securityContext.seccompProfile.type to "Unconfined")'
        },
    ),
    ("seccomp: windows exempt from v1.25", "v1.25", lambda p: (WIN(p), pod_sc(p).pop("seccompProfile")), {}),
    (
        "seccomp: windows not exempt at v1.24",
        "v1.24",
        lambda p: (WIN(p), pod_sc(p).pop("seccompProfile")),
        {
            "seccompProfile_restricted": 'seccompProfile (pod or containers "initcontainer1", "container1" must set '
            'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
        },
    ),
    # --- procMount_restricted ---
    (
        "procMount_restricted never relaxes",
        "v1.35",
        lambda p: (p["spec"].update(hostUsers=False), container_sc(p).update(procMount="Unmasked")),
        {
            "procMount_restricted": 'procMount (container "container1" must not set securityContext.procMount to "Unmasked")'
        },
    ),
    (
        "procMount (baseline id) still reported at restricted v1.34",
        "v1.34",
        lambda p: container_sc(p).update(procMount="Unmasked"),
        {"procMount": 'procMount (container "container1" must not set securityContext.procMount to "Unmasked")'},
    ),
]


@pytest.mark.parametrize(("name", "version", "fn", "expected"), CASES, ids=[c[0] for c in CASES])
def test_restricted(name: str, version: str, fn, expected: dict[str, str]) -> None:
    minor = 37 if version == "latest" else int(version.split(".")[1])
    pod = tweak(_r(minor), fn)
    assert messages(pod, "restricted", version) == expected


def test_minimal_restricted_pod_passes_every_version() -> None:
    for minor in range(0, 40):
        assert messages(_r(minor), "restricted", f"v1.{minor}") == {}


def test_quirk_windows_pod_passes_restricted_but_fails_baseline() -> None:
    pod = tweak(
        _r(22),
        lambda p: (
            WIN(p),
            container_sc(p).update(capabilities={"add": ["SYS_ADMIN"]}),
            container_sc(p).update(seccompProfile={"type": "Unconfined"}),
        ),
    )
    assert messages(pod, "restricted", "v1.25") == {}
    assert set(messages(pod, "baseline", "v1.25")) == {"capabilities_baseline", "seccompProfile_baseline"}
    assert set(messages(pod, "restricted", "v1.24")) == {"capabilities_restricted", "seccompProfile_restricted"}


def test_quirk_multi_source_volume_fails_baseline() -> None:
    pod = tweak(
        _r(37), lambda p: p["spec"].update(volumes=[{"name": "both", "emptyDir": {}, "hostPath": {"path": "/"}}])
    )
    assert messages(pod, "baseline", "v1.37") == {"hostPathVolumes": 'hostPath volumes (volume "both")'}
    assert messages(pod, "restricted", "v1.37") == {}


@pytest.mark.parametrize("version", ["latest", "v1.37", "v1.38", "v1.99", "v1.100"])
def test_latest_and_higher_versions_clamp_to_newest(version: str) -> None:
    pod = tweak(_r(37), lambda p: pod_sc(p).update(sysctls=[{"name": "net.ipv4.tcp_notsent_lowat"}]))
    assert messages(pod, "restricted", version) == {}
    pod = tweak(pod, lambda p: container_sc(p).update(procMount="Unmasked"))
    assert list(messages(pod, "restricted", version)) == ["procMount_restricted"]


def test_every_failing_check_reported_in_psa_order() -> None:
    pod = tweak(
        _r(0),
        lambda p: (
            p["spec"].update(hostPID=True, volumes=[{"name": "v", "hostPath": {"path": "/"}}]),
            container_sc(p).update(
                privileged=True,
                runAsUser=0,
                procMount="Unmasked",
                seLinuxOptions={"role": "r"},
                capabilities={"add": ["SYS_ADMIN"]},
            ),
            pod_sc(p).update(
                runAsNonRoot=False,
                sysctls=[{"name": "kernel.msgmax"}],
                appArmorProfile={"type": "Unconfined"},
                windowsOptions={"hostProcess": True},
            ),
            p["spec"]["containers"][0].update(ports=[{"hostPort": 1}], livenessProbe={"tcpSocket": {"host": "h"}}),
        ),
    )
    assert [c for c, _ in results(pod, "restricted", "v1.37")] == [
        "appArmorProfile",
        "hostNamespaces",
        "hostPorts",
        "hostProbesAndHostLifecycle",
        "privileged",
        "seLinuxOptions",
        "sysctls",
        "windowsHostProcess",
        "allowPrivilegeEscalation",
        "capabilities_restricted",
        "procMount_restricted",
        "restrictedVolumes",
        "runAsNonRoot",
        "runAsUser",
        "seccompProfile_restricted",
    ]
    assert [c for c, _ in results(pod, "baseline", "v1.37")] == [
        "appArmorProfile",
        "capabilities_baseline",
        "hostNamespaces",
        "hostPathVolumes",
        "hostPorts",
        "hostProbesAndHostLifecycle",
        "privileged",
        "procMount",
        "seLinuxOptions",
        "sysctls",
        "windowsHostProcess",
    ]
