"""Hypothesis strategies for pods that exercise every field the Pod Security Standards read.

Values are drawn from the right ones, the wrong ones, and the wrong-but-accepted ones the
API server lets through (lower-case and ``CAP_``-prefixed capabilities, unknown seccomp and
AppArmor types, empty strings, ``procMount: bogus``, Windows fields on Linux pods, ...), for
init, regular and ephemeral containers, at the pod and container levels, with and without
``os`` and ``hostUsers``. Every pod is well-typed: podsec reports type errors as input errors,
and the API server would refuse it before PSA sees it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

Pod = dict[str, Any]


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The value, or "leave the key out" (represented by None and dropped by `_compact`)."""
    return st.one_of(st.none(), strategy)


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


BOOL = st.booleans()
CAPS = st.sampled_from(
    ["ALL", "all", "NET_BIND_SERVICE", "CAP_NET_BIND_SERVICE", "net_bind_service", "CHOWN", "chown",
     "NET_RAW", "SYS_ADMIN", "CAP_SYS_ADMIN", "AUDIT_WRITE", "KILL", "SETFCAP", "SYS_CHROOT", "BPF", ""]
)  # fmt: skip
PROFILE_TYPES = st.sampled_from(["RuntimeDefault", "Localhost", "Unconfined", "runtimedefault", "", "Bogus"])
SELINUX_TYPES = st.sampled_from(
    ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t", "spc_t", "unconfined_t"]
)
USERS = st.sampled_from([0, 1, 1000, 65534, 2147483647])
SYSCTLS = st.sampled_from(
    ["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
     "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
     "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem",
     "net.ipv4.tcp_wmem", "net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat", "kernel.msgmax",
     "net/ipv4/tcp_syncookies", "vm.swappiness"]
)  # fmt: skip
VOLUME_SOURCES = st.sampled_from(
    ["emptyDir", "configMap", "secret", "projected", "downwardAPI", "persistentVolumeClaim", "csi", "ephemeral",
     "image", "hostPath", "nfs", "gitRepo", "iscsi", "rbd", "cephfs", "flexVolume", "azureFile", "fc", "cinder"]
)  # fmt: skip
VOLUME_BODIES: dict[str, Any] = {
    "emptyDir": {},
    "configMap": {"name": "cm"},
    "secret": {"secretName": "s"},
    "projected": {"sources": []},
    "downwardAPI": {"items": []},
    "persistentVolumeClaim": {"claimName": "c"},
    "csi": {"driver": "d"},
    "ephemeral": {"volumeClaimTemplate": {"spec": {}}},
    "image": {"reference": "img"},
    "hostPath": {"path": "/var/run"},
    "nfs": {"server": "s", "path": "/"},
    "gitRepo": {"repository": "r"},
    "iscsi": {"targetPortal": "t", "iqn": "i", "lun": 0},
    "rbd": {"monitors": ["m"], "image": "i"},
    "cephfs": {"monitors": ["m"]},
    "flexVolume": {"driver": "d"},
    "azureFile": {"secretName": "s", "shareName": "s"},
    "fc": {},
    "cinder": {"volumeID": "v"},
}
APPARMOR_VALUES = st.sampled_from(["runtime/default", "localhost/prof", "unconfined", "", "bogus"])
SECCOMP_ANNOTATION_VALUES = st.sampled_from(
    ["runtime/default", "docker/default", "localhost/prof", "unconfined", "", "bogus"]
)
HOSTS = st.sampled_from(["", "127.0.0.1", "example.com"])


def _profile() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda t, lp: _compact({"type": t, "localhostProfile": lp}), _maybe(PROFILE_TYPES), _maybe(st.just("p.json"))
    )


def _selinux() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda t, u, r, lv: _compact({"type": t, "user": u, "role": r, "level": lv}),
        _maybe(SELINUX_TYPES),
        _maybe(st.sampled_from(["", "system_u"])),
        _maybe(st.sampled_from(["", "system_r"])),
        _maybe(st.sampled_from(["", "s0:c1,c2"])),
    )


def _windows_options() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda h: _compact({"hostProcess": h}), _maybe(BOOL))


def _container_sc() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "privileged": BOOL,
            "allowPrivilegeEscalation": BOOL,
            "capabilities": st.fixed_dictionaries(
                {}, optional={"add": st.lists(CAPS, max_size=3), "drop": st.lists(CAPS, max_size=3)}
            ),
            "procMount": st.sampled_from(["Default", "Unmasked", "bogus", ""]),
            "runAsNonRoot": BOOL,
            "runAsUser": USERS,
            "runAsGroup": USERS,
            "readOnlyRootFilesystem": BOOL,
            "seccompProfile": _profile(),
            "appArmorProfile": _profile(),
            "seLinuxOptions": _selinux(),
            "windowsOptions": _windows_options(),
        },
    )


def _handler() -> st.SearchStrategy[dict[str, Any]]:
    http = st.builds(lambda h: {"httpGet": _compact({"port": 80, "host": h})}, _maybe(HOSTS))
    tcp = st.builds(lambda h: {"tcpSocket": _compact({"port": 80, "host": h})}, _maybe(HOSTS))
    return st.one_of(http, tcp, st.just({"exec": {"command": ["true"]}}))


def _container(ephemeral: bool) -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, st.SearchStrategy[Any]] = {"securityContext": _container_sc()}
    if not ephemeral:  # ephemeral containers may have no ports, probes or lifecycle
        optional["ports"] = st.lists(
            st.builds(
                lambda cp, hp: _compact({"containerPort": cp, "hostPort": hp}),
                st.sampled_from([80, 8080, 10000]),
                _maybe(st.sampled_from([0, 80, 8080, 10000])),
            ),
            max_size=2,
        )
        optional["livenessProbe"] = _handler()
        optional["readinessProbe"] = _handler()
        optional["lifecycle"] = st.fixed_dictionaries({}, optional={"postStart": _handler(), "preStop": _handler()})
    return st.fixed_dictionaries({"image": st.just("registry.k8s.io/pause")}, optional=optional)


CONTAINER = _container(ephemeral=False)
EPHEMERAL_CONTAINER = _container(ephemeral=True)
POD_SECURITY_CONTEXT = st.fixed_dictionaries(
    {},
    optional={
        "runAsNonRoot": BOOL,
        "runAsUser": USERS,
        "runAsGroup": USERS,
        "fsGroup": USERS,
        "supplementalGroups": st.lists(USERS, max_size=2),
        "seccompProfile": _profile(),
        "appArmorProfile": _profile(),
        "seLinuxOptions": _selinux(),
        "windowsOptions": _windows_options(),
        "sysctls": st.lists(st.builds(lambda n: {"name": n, "value": "1"}, SYSCTLS), max_size=3),
    },
)


@st.composite
def pods(draw: st.DrawFn) -> Pod:
    """A Pod: metadata (legacy seccomp and AppArmor annotations) and a spec of every PSS-relevant field."""
    lists: dict[str, list[dict[str, Any]]] = {}
    for key, prefix, low in (
        ("initContainers", "init", 0),
        ("containers", "app", 1),
        ("ephemeralContainers", "debug", 0),
    ):
        count = draw(st.integers(low, 2))
        if count or draw(BOOL):
            strategy = EPHEMERAL_CONTAINER if key == "ephemeralContainers" else CONTAINER
            lists[key] = [{"name": f"{prefix}{i}", **draw(strategy)} for i in range(count)]
    names = [c["name"] for cs in lists.values() for c in cs] + ["ghost"]
    annotations: dict[str, str] = {}
    if draw(BOOL):
        annotations["seccomp.security.alpha.kubernetes.io/pod"] = draw(SECCOMP_ANNOTATION_VALUES)
    for name in draw(st.lists(st.sampled_from(names), max_size=2, unique=True)):
        annotations[f"container.seccomp.security.alpha.kubernetes.io/{name}"] = draw(SECCOMP_ANNOTATION_VALUES)
    for name in draw(st.lists(st.sampled_from(names), max_size=2, unique=True)):
        annotations[f"container.apparmor.security.beta.kubernetes.io/{name}"] = draw(APPARMOR_VALUES)
    pod_sc = draw(POD_SECURITY_CONTEXT)
    spec: dict[str, Any] = {**lists}
    for key in ("hostNetwork", "hostPID", "hostIPC", "hostUsers", "shareProcessNamespace"):
        value = draw(_maybe(BOOL))
        if value is not None:
            spec[key] = value
    os_name = draw(_maybe(st.sampled_from(["linux", "windows", "Windows", ""])))
    if os_name is not None:
        spec["os"] = {"name": os_name}
    if pod_sc or draw(BOOL):
        spec["securityContext"] = pod_sc
    volumes = draw(st.lists(VOLUME_SOURCES, max_size=3))
    if volumes:
        spec["volumes"] = [{"name": f"v{i}", kind: VOLUME_BODIES[kind]} for i, kind in enumerate(volumes)]
    metadata: dict[str, Any] = {"name": "fuzzed"}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
