"""Baseline checks: exact PSA reason and detail, per revision and version gate."""

from __future__ import annotations

import pytest

from tests.helpers import add_ephemeral, container_sc, messages, minimal_pod, pod_sc, tweak


def _b(minor: int) -> dict:
    return minimal_pod("baseline", minor)


CASES = [
    # --- hostNamespaces ---
    (
        "hostNetwork",
        "v1.0",
        lambda p: p["spec"].update(hostNetwork=True),
        {"hostNamespaces": "host namespaces (hostNetwork=true)"},
    ),
    (
        "all three namespaces, fixed order",
        "v1.37",
        lambda p: p["spec"].update(hostIPC=True, hostPID=True, hostNetwork=True),
        {"hostNamespaces": "host namespaces (hostNetwork=true, hostPID=true, hostIPC=true)"},
    ),
    ("false namespaces pass", "v1.37", lambda p: p["spec"].update(hostIPC=False, hostPID=False), {}),
    # --- privileged ---
    (
        "privileged init and regular, visiting order",
        "v1.0",
        lambda p: (container_sc(p).update(privileged=True), container_sc(p, "initContainers").update(privileged=True)),
        {
            "privileged": 'privileged (containers "initcontainer1", "container1" must not set securityContext.privileged=true)'
        },
    ),
    ("privileged false passes", "v1.0", lambda p: container_sc(p).update(privileged=False), {}),
    (
        "privileged ephemeral container",
        "v1.37",
        lambda p: add_ephemeral(p, privileged=True),
        {"privileged": 'privileged (container "debugger" must not set securityContext.privileged=true)'},
    ),
    # --- capabilities_baseline ---
    (
        "allowed capabilities pass",
        "v1.37",
        lambda p: container_sc(p).update(
            capabilities={"add": ["AUDIT_WRITE", "CHOWN", "NET_BIND_SERVICE", "SYS_CHROOT"]}
        ),
        {},
    ),
    (
        "NET_RAW, lower case and CAP_ prefix are forbidden",
        "v1.0",
        lambda p: container_sc(p).update(capabilities={"add": ["NET_RAW", "chown", "CAP_CHOWN", "NET_RAW"]}),
        {
            "capabilities_baseline": 'non-default capabilities (container "container1" must not include "CAP_CHOWN", '
            '"NET_RAW", "chown" in securityContext.capabilities.add)'
        },
    ),
    ("drop ignored by baseline", "v1.37", lambda p: container_sc(p).update(capabilities={"drop": ["ALL"]}), {}),
    # --- hostPathVolumes ---
    (
        "hostPath volumes in order",
        "v1.0",
        lambda p: p["spec"].update(
            volumes=[
                {"name": "b", "hostPath": {"path": "/"}},
                {"name": "ok", "emptyDir": {}},
                {"name": "a", "hostPath": {"path": "/a"}},
            ]
        ),
        {"hostPathVolumes": 'hostPath volumes (volumes "b", "a")'},
    ),
    # --- hostPorts ---
    (
        "host ports sorted as strings",
        "v1.0",
        lambda p: (
            p["spec"]["containers"][0].update(
                ports=[
                    {"containerPort": 1, "hostPort": 8080},
                    {"containerPort": 2, "hostPort": 10000},
                    {"containerPort": 3, "hostPort": 0},
                ]
            ),
            p["spec"]["initContainers"][0].update(ports=[{"containerPort": 4, "hostPort": 8080}]),
        ),
        {"hostPorts": 'hostPort (containers "initcontainer1", "container1" use hostPorts 10000, 8080)'},
    ),
    (
        "single host port",
        "v1.37",
        lambda p: p["spec"]["containers"][0].update(ports=[{"hostPort": 80, "containerPort": 80}]),
        {"hostPorts": 'hostPort (container "container1" uses hostPort 80)'},
    ),
    (
        "hostPort 0 passes",
        "v1.37",
        lambda p: p["spec"]["containers"][0].update(ports=[{"hostPort": 0, "containerPort": 80}]),
        {},
    ),
    # --- hostProbesAndHostLifecycle ---
    (
        "probe host ignored before v1.34",
        "v1.33",
        lambda p: p["spec"]["containers"][0].update(livenessProbe={"httpGet": {"host": "8.8.8.8", "port": 80}}),
        {},
    ),
    (
        "probe host denied from v1.34",
        "v1.34",
        lambda p: p["spec"]["containers"][0].update(livenessProbe={"httpGet": {"host": "8.8.8.8", "port": 80}}),
        {
            "hostProbesAndHostLifecycle": 'probe or lifecycle host (container "container1" uses probe or lifecycle host "8.8.8.8")'
        },
    ),
    (
        "probe hosts and names sorted",
        "v1.37",
        lambda p: (
            p["spec"]["containers"][0].update(
                readinessProbe={"tcpSocket": {"host": "b.example", "port": 1}},
                lifecycle={"preStop": {"httpGet": {"host": "a.example", "port": 1}}},
            ),
            p["spec"]["initContainers"][0].update(startupProbe={"tcpSocket": {"host": "a.example", "port": 1}}),
        ),
        {
            "hostProbesAndHostLifecycle": 'probe or lifecycle host (containers "container1", "initcontainer1" use probe or '
            'lifecycle hosts "a.example", "b.example")'
        },
    ),
    (
        "empty host and grpc/exec ignored",
        "v1.37",
        lambda p: p["spec"]["containers"][0].update(
            livenessProbe={"httpGet": {"host": "", "port": 1}}, readinessProbe={"grpc": {"port": 1}}
        ),
        {},
    ),
    # --- appArmorProfile ---
    (
        "apparmor field unconfined at v1.0",
        "v1.0",
        lambda p: pod_sc(p).update(appArmorProfile={"type": "Unconfined"}),
        {"appArmorProfile": 'forbidden AppArmor profile (pod must not set AppArmor profile type to "Unconfined")'},
    ),
    (
        "apparmor profile without type",
        "v1.37",
        lambda p: container_sc(p).update(appArmorProfile={"localhostProfile": "x"}),
        {
            "appArmorProfile": 'forbidden AppArmor profile (container "container1" must not set AppArmor profile type to "")'
        },
    ),
    (
        "apparmor localhost and runtime default pass",
        "v1.37",
        lambda p: (
            pod_sc(p).update(appArmorProfile={"type": "RuntimeDefault"}),
            container_sc(p).update(appArmorProfile={"type": "Localhost", "localhostProfile": "p"}),
        ),
        {},
    ),
    (
        "apparmor pod, containers and annotations together",
        "v1.37",
        lambda p: (
            pod_sc(p).update(appArmorProfile={"type": "Unconfined"}),
            container_sc(p).update(appArmorProfile={"type": "Unconfined"}),
            container_sc(p, "initContainers").update(appArmorProfile={"type": "Bogus"}),
            p["metadata"].update(
                annotations={
                    "container.apparmor.security.beta.kubernetes.io/container1": "unconfined",
                    "container.apparmor.security.beta.kubernetes.io/nosuch": "bad",
                }
            ),
        ),
        {
            "appArmorProfile": 'forbidden AppArmor profiles (pod and containers "initcontainer1", "container1" and '
            'annotations must not set AppArmor profile type to "Bogus", "Unconfined", '
            '"container.apparmor.security.beta.kubernetes.io/container1="unconfined"", '
            '"container.apparmor.security.beta.kubernetes.io/nosuch="bad"")'
        },
    ),
    (
        "apparmor annotation values allowed",
        "v1.0",
        lambda p: p["metadata"].update(
            annotations={
                "container.apparmor.security.beta.kubernetes.io/a": "",
                "container.apparmor.security.beta.kubernetes.io/b": "runtime/default",
                "container.apparmor.security.beta.kubernetes.io/c": "localhost/prof",
            }
        ),
        {},
    ),
    (
        "apparmor annotation escaping like Go %q",
        "v1.0",
        lambda p: p["metadata"].update(annotations={"container.apparmor.security.beta.kubernetes.io/a": 'un"c\n'}),
        {
            "appArmorProfile": "forbidden AppArmor profile (annotation must not set AppArmor profile type to "
            '"container.apparmor.security.beta.kubernetes.io/a="un\\"c\\n"")'
        },
    ),
    # --- seLinuxOptions ---
    (
        "selinux container_engine_t before v1.31",
        "v1.30",
        lambda p: pod_sc(p).update(seLinuxOptions={"type": "container_engine_t"}),
        {
            "seLinuxOptions": 'seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "container_engine_t")'
        },
    ),
    (
        "selinux container_engine_t from v1.31",
        "v1.31",
        lambda p: pod_sc(p).update(seLinuxOptions={"type": "container_engine_t"}),
        {},
    ),
    (
        "selinux user only (no type)",
        "v1.37",
        lambda p: container_sc(p).update(seLinuxOptions={"user": "root"}),
        {
            "seLinuxOptions": 'seLinuxOptions (container "container1" set forbidden securityContext.seLinuxOptions: user may not be set)'
        },
    ),
    (
        "selinux everything",
        "v1.37",
        lambda p: (
            pod_sc(p).update(seLinuxOptions={"type": "spc_t", "role": "r"}),
            container_sc(p, "initContainers").update(seLinuxOptions={"type": "foo_t", "user": "u"}),
            container_sc(p).update(seLinuxOptions={"level": "s0:c1", "type": "container_t"}),
        ),
        {
            "seLinuxOptions": 'seLinuxOptions (pod and container "initcontainer1" set forbidden securityContext.seLinuxOptions: '
            'types "foo_t", "spc_t"; user may not be set; role may not be set)'
        },
    ),
    # --- seccompProfile_baseline ---
    (
        "seccomp annotations before v1.19",
        "v1.18",
        lambda p: p["metadata"].update(
            annotations={
                "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
                "container.seccomp.security.alpha.kubernetes.io/container1": "",
                "container.seccomp.security.alpha.kubernetes.io/nosuch": "unconfined",
                "container.seccomp.security.alpha.kubernetes.io/initcontainer1": "docker/default",
            }
        ),
        {
            "seccompProfile_baseline": "seccompProfile (forbidden annotations "
            'container.seccomp.security.alpha.kubernetes.io/container1="", '
            'seccomp.security.alpha.kubernetes.io/pod="unconfined")'
        },
    ),
    (
        "seccomp fields ignored before v1.19",
        "v1.18",
        lambda p: pod_sc(p).update(seccompProfile={"type": "Unconfined"}),
        {},
    ),
    (
        "seccomp annotations ignored from v1.19",
        "v1.19",
        lambda p: p["metadata"].update(annotations={"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}),
        {},
    ),
    (
        "seccomp fields from v1.19",
        "v1.19",
        lambda p: (
            pod_sc(p).update(seccompProfile={"type": "Unconfined"}),
            container_sc(p).update(seccompProfile={"type": "Unconfined"}),
            container_sc(p, "initContainers").update(seccompProfile={}),
        ),
        {
            "seccompProfile_baseline": 'seccompProfile (pod and containers "initcontainer1", "container1" must not set '
            'securityContext.seccompProfile.type to "", "Unconfined")'
        },
    ),
    # --- sysctls ---
    (
        "sysctl allowed from v1.27 only",
        "v1.26",
        lambda p: pod_sc(p).update(sysctls=[{"name": "net.ipv4.ip_local_reserved_ports", "value": "1"}]),
        {"sysctls": "forbidden sysctls (net.ipv4.ip_local_reserved_ports)"},
    ),
    (
        "sysctl allowed at v1.27",
        "v1.27",
        lambda p: pod_sc(p).update(sysctls=[{"name": "net.ipv4.ip_local_reserved_ports", "value": "1"}]),
        {},
    ),
    (
        "keepalive sysctls gated at v1.29",
        "v1.28",
        lambda p: pod_sc(p).update(sysctls=[{"name": "net.ipv4.tcp_keepalive_time", "value": "1"}]),
        {"sysctls": "forbidden sysctls (net.ipv4.tcp_keepalive_time)"},
    ),
    (
        "rmem gated at v1.32",
        "v1.31",
        lambda p: pod_sc(p).update(sysctls=[{"name": "net.ipv4.tcp_rmem", "value": "1"}]),
        {"sysctls": "forbidden sysctls (net.ipv4.tcp_rmem)"},
    ),
    (
        "rmem allowed at v1.32",
        "v1.32",
        lambda p: pod_sc(p).update(sysctls=[{"name": "net.ipv4.tcp_rmem", "value": "1"}]),
        {},
    ),
    (
        "v1.37 sysctls gated",
        "v1.36",
        lambda p: pod_sc(p).update(sysctls=[{"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}]),
        {"sysctls": "forbidden sysctls (net.ipv4.tcp_notsent_lowat)"},
    ),
    (
        "v1.37 sysctls allowed (and latest)",
        "latest",
        lambda p: pod_sc(p).update(sysctls=[{"name": "net.ipv4.tcp_slow_start_after_idle", "value": "1"}]),
        {},
    ),
    (
        "sysctls in order with duplicates, no separator conversion",
        "v1.37",
        lambda p: pod_sc(p).update(
            sysctls=[
                {"name": "kernel.msgmax"},
                {"name": "net/ipv4/tcp_syncookies"},
                {"name": "kernel.msgmax"},
                {"name": "kernel.shm_rmid_forced"},
            ]
        ),
        {"sysctls": "forbidden sysctls (kernel.msgmax, net/ipv4/tcp_syncookies, kernel.msgmax)"},
    ),
    # --- windowsHostProcess ---
    (
        "hostProcess on pod and container, linux or not",
        "v1.0",
        lambda p: (
            pod_sc(p).update(windowsOptions={"hostProcess": True}),
            container_sc(p).update(windowsOptions={"hostProcess": True}),
        ),
        {
            "windowsHostProcess": 'hostProcess (pod and container "container1" must not set '
            "securityContext.windowsOptions.hostProcess=true)"
        },
    ),
    ("hostProcess false passes", "v1.37", lambda p: container_sc(p).update(windowsOptions={"hostProcess": False}), {}),
    # --- procMount ---
    (
        "procMount Unmasked",
        "v1.0",
        lambda p: container_sc(p).update(procMount="Unmasked"),
        {"procMount": 'procMount (container "container1" must not set securityContext.procMount to "Unmasked")'},
    ),
    ("procMount Default passes", "v1.37", lambda p: container_sc(p).update(procMount="Default"), {}),
    (
        "procMount empty string fails",
        "v1.37",
        lambda p: container_sc(p).update(procMount=""),
        {"procMount": 'procMount (container "container1" must not set securityContext.procMount to "")'},
    ),
    (
        "hostUsers false does nothing before v1.35",
        "v1.34",
        lambda p: (container_sc(p).update(procMount="Unmasked"), p["spec"].update(hostUsers=False)),
        {"procMount": 'procMount (container "container1" must not set securityContext.procMount to "Unmasked")'},
    ),
    (
        "hostUsers false relaxes baseline procMount from v1.35",
        "v1.35",
        lambda p: (container_sc(p).update(procMount="Unmasked"), p["spec"].update(hostUsers=False)),
        {},
    ),
    (
        "hostUsers true does not relax",
        "v1.37",
        lambda p: (container_sc(p).update(procMount="Unmasked"), p["spec"].update(hostUsers=True)),
        {"procMount": 'procMount (container "container1" must not set securityContext.procMount to "Unmasked")'},
    ),
]


@pytest.mark.parametrize(("name", "version", "fn", "expected"), CASES, ids=[c[0] for c in CASES])
def test_baseline(name: str, version: str, fn, expected: dict[str, str]) -> None:
    minor = 37 if version == "latest" else int(version.split(".")[1])
    pod = tweak(_b(minor), fn)
    got = messages(pod, "baseline", version)
    assert got == {k: v for k, v in expected.items()}


def test_minimal_baseline_pod_passes_every_version() -> None:
    for minor in range(0, 40):
        assert messages(_b(minor), "baseline", f"v1.{minor}") == {}
