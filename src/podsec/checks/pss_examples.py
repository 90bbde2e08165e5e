"""Documented examples for the Pod Security Standards checks (pod-spec YAML: failing, fixed).

Kept apart from the check modules, which restate upstream's rules line by line; the
registry attaches them (`podsec.checks.ALL_CHECKS`), and the docs tests run every one.
"""

from __future__ import annotations

from podsec.checks._base import Example

_APP = "containers:\n- name: app\n  image: registry.example/app:1.0\n"


def _sc(body: str) -> str:
    """One container whose securityContext holds ``body`` (indented YAML lines)."""
    lines = "".join(f"    {line}\n" for line in body.splitlines())
    return _APP + "  securityContext:\n" + lines


EXAMPLES: dict[str, Example] = {
    "appArmorProfile": Example(
        _sc("appArmorProfile:\n  type: Unconfined"), _sc("appArmorProfile:\n  type: RuntimeDefault")
    ),
    "capabilities_baseline": Example(_sc("capabilities:\n  add: [SYS_ADMIN]"), _sc("capabilities:\n  drop: [ALL]")),
    "hostNamespaces": Example("hostNetwork: true\n" + _APP, _APP),
    "hostPathVolumes": Example(
        _APP + "volumes:\n- name: data\n  hostPath:\n    path: /var/lib/data\n",
        _APP + "volumes:\n- name: data\n  emptyDir: {}\n",
    ),
    "hostPorts": Example(
        _APP + "  ports:\n  - containerPort: 8080\n    hostPort: 8080\n", _APP + "  ports:\n  - containerPort: 8080\n"
    ),
    "hostProbesAndHostLifecycle": Example(
        _APP + "  livenessProbe:\n    httpGet:\n      host: 10.0.0.1\n      port: 8080\n",
        _APP + "  livenessProbe:\n    httpGet:\n      port: 8080\n",
    ),
    "privileged": Example(_sc("privileged: true"), _sc("privileged: false")),
    "procMount": Example(_sc("procMount: Unmasked"), _sc("procMount: Default")),
    "seLinuxOptions": Example(_sc("seLinuxOptions:\n  type: spc_t"), _sc('seLinuxOptions:\n  level: "s0:c123,c456"')),
    "seccompProfile_baseline": Example(
        _sc("seccompProfile:\n  type: Unconfined"), _sc("seccompProfile:\n  type: RuntimeDefault")
    ),
    "sysctls": Example(
        'securityContext:\n  sysctls:\n  - name: kernel.msgmax\n    value: "65536"\n' + _APP,
        'securityContext:\n  sysctls:\n  - name: net.ipv4.ip_local_port_range\n    value: "1024 65535"\n' + _APP,
    ),
    "windowsHostProcess": Example(
        "os:\n  name: windows\nhostNetwork: true\nsecurityContext:\n  windowsOptions:\n    hostProcess: true\n" + _APP,
        "os:\n  name: windows\n" + _APP,
    ),
    "allowPrivilegeEscalation": Example(_APP, _sc("allowPrivilegeEscalation: false")),
    "capabilities_restricted": Example(_APP, _sc("capabilities:\n  drop: [ALL]")),
    "procMount_restricted": Example(
        "hostUsers: false\n" + _sc("procMount: Unmasked"), "hostUsers: false\n" + _sc("procMount: Default")
    ),
    "restrictedVolumes": Example(
        _APP + "volumes:\n- name: data\n  nfs:\n    server: nfs.example\n    path: /exports\n",
        _APP + "volumes:\n- name: data\n  persistentVolumeClaim:\n    claimName: data\n",
    ),
    "runAsNonRoot": Example(_APP, "securityContext:\n  runAsNonRoot: true\n" + _APP),
    "runAsUser": Example("securityContext:\n  runAsUser: 0\n" + _APP, "securityContext:\n  runAsUser: 10001\n" + _APP),
    "seccompProfile_restricted": Example(
        _APP, "securityContext:\n  seccompProfile:\n    type: RuntimeDefault\n" + _APP
    ),
}
