"""The PodSecurityPolicy -> Pod Security Standards mapping, one table row at a time, both directions.

Every row of the upstream table (kubernetes/website, "Mapping PodSecurityPolicies to Pod Security
Standards") is exercised from a PSP that is restricted in every field: a value the row allows at
each level keeps or lowers the level as the row says, and a value outside both columns makes the
PSP privileged. Rows with no opinion never change the level.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from podsec.analysis import psp
from podsec.model.standards import Level

P, B, R = Level.PRIVILEGED, Level.BASELINE, Level.RESTRICTED
SECCOMP = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"
APPARMOR = "apparmor.security.beta.kubernetes.io/allowedProfileNames"

RESTRICTED = yaml.safe_load(
    f"""
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: restricted
  annotations:
    {SECCOMP}: runtime/default
    {APPARMOR}: runtime/default
spec:
  privileged: false
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  volumes: [configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret]
  hostNetwork: false
  hostIPC: false
  hostPID: false
  runAsUser: {{rule: MustRunAsNonRoot}}
  seLinux: {{rule: MustRunAs}}
  supplementalGroups: {{rule: RunAsAny}}
  fsGroup: {{rule: RunAsAny}}
"""
)
UNSET = object()


def tweak(path: str, value: Any) -> dict[str, Any]:
    """The restricted PSP with one field (``spec.x`` or an annotation key) set, or removed with UNSET."""
    obj = copy.deepcopy(RESTRICTED)
    node = obj["spec"] if not path.startswith(("seccomp.", "apparmor.")) else obj["metadata"]["annotations"]
    key = path.removeprefix("spec.")
    if value is UNSET:
        node.pop(key, None)
    else:
        node[key] = value
    return obj


BASELINE_CAPS = [
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP",
    "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
]  # fmt: skip
RESTRICTED_VOLUMES = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
]

# (row, field, value, level): the rows of the upstream table, in its order
ROWS: list[tuple[str, str, Any, Level]] = [
    ("privileged", "spec.privileged", UNSET, R),
    ("privileged", "spec.privileged", False, R),
    ("privileged", "spec.privileged", True, P),
    ("defaultAddCapabilities", "spec.defaultAddCapabilities", [], R),
    ("defaultAddCapabilities", "spec.defaultAddCapabilities", ["NET_BIND_SERVICE"], R),
    ("defaultAddCapabilities", "spec.defaultAddCapabilities", ["CHOWN"], B),
    ("defaultAddCapabilities", "spec.defaultAddCapabilities", ["NET_RAW"], P),
    ("allowedCapabilities", "spec.allowedCapabilities", UNSET, R),
    ("allowedCapabilities", "spec.allowedCapabilities", ["NET_BIND_SERVICE"], R),
    ("allowedCapabilities", "spec.allowedCapabilities", ["NET_BIND_SERVICE", "KILL"], B),
    ("allowedCapabilities", "spec.allowedCapabilities", BASELINE_CAPS, B),
    ("allowedCapabilities", "spec.allowedCapabilities", [*BASELINE_CAPS, "SYS_ADMIN"], P),
    ("allowedCapabilities", "spec.allowedCapabilities", ["*"], P),
    ("allowedCapabilities", "spec.allowedCapabilities", ["CAP_CHOWN"], P),
    ("requiredDropCapabilities", "spec.requiredDropCapabilities", ["ALL"], R),
    ("requiredDropCapabilities", "spec.requiredDropCapabilities", ["NET_RAW", "ALL"], R),
    ("requiredDropCapabilities", "spec.requiredDropCapabilities", ["NET_RAW"], B),
    ("requiredDropCapabilities", "spec.requiredDropCapabilities", UNSET, B),
    ("volumes", "spec.volumes", RESTRICTED_VOLUMES, R),
    ("volumes", "spec.volumes", ["configMap", "secret"], R),
    ("volumes", "spec.volumes", [], R),
    ("volumes", "spec.volumes", [*RESTRICTED_VOLUMES, "nfs"], B),
    ("volumes", "spec.volumes", ["gcePersistentDisk"], B),
    ("volumes", "spec.volumes", ["configMap", "hostPath"], P),
    ("volumes", "spec.volumes", ["*"], P),
    ("hostNetwork", "spec.hostNetwork", UNSET, R),
    ("hostNetwork", "spec.hostNetwork", True, P),
    ("hostPorts", "spec.hostPorts", [], R),
    ("hostPorts", "spec.hostPorts", [{"min": 8080, "max": 8080}], P),
    ("hostPID", "spec.hostPID", UNSET, R),
    ("hostPID", "spec.hostPID", True, P),
    ("hostIPC", "spec.hostIPC", False, R),
    ("hostIPC", "spec.hostIPC", True, P),
    ("seLinux", "spec.seLinux", {"rule": "MustRunAs", "seLinuxOptions": {"type": "container_t"}}, R),
    ("seLinux", "spec.seLinux", {"rule": "MustRunAs", "seLinuxOptions": {"type": "container_init_t"}}, R),
    (
        "seLinux",
        "spec.seLinux",
        {"rule": "MustRunAs", "seLinuxOptions": {"type": "container_kvm_t", "level": "s0:c1"}},
        R,
    ),
    ("seLinux", "spec.seLinux", {"rule": "MustRunAs", "seLinuxOptions": {"user": "", "role": "", "type": ""}}, R),
    ("seLinux", "spec.seLinux", {"rule": "MustRunAs", "seLinuxOptions": {"type": "spc_t"}}, P),
    ("seLinux", "spec.seLinux", {"rule": "MustRunAs", "seLinuxOptions": {"user": "system_u"}}, P),
    ("seLinux", "spec.seLinux", {"rule": "MustRunAs", "seLinuxOptions": {"role": "system_r"}}, P),
    ("seLinux", "spec.seLinux", {"rule": "RunAsAny"}, P),
    ("seLinux", "spec.seLinux", UNSET, P),
    ("runAsUser", "spec.runAsUser", {"rule": "MustRunAsNonRoot"}, R),
    ("runAsUser", "spec.runAsUser", {"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 2000}]}, B),
    ("runAsUser", "spec.runAsUser", {"rule": "RunAsAny"}, B),
    ("runAsGroup", "spec.runAsGroup", {"rule": "RunAsAny"}, R),
    ("runAsGroup", "spec.runAsGroup", {"rule": "MustRunAs", "ranges": [{"min": 0, "max": 0}]}, R),
    ("supplementalGroups", "spec.supplementalGroups", {"rule": "MustRunAs", "ranges": [{"min": 0, "max": 10}]}, R),
    ("fsGroup", "spec.fsGroup", {"rule": "MayRunAs", "ranges": [{"min": 0, "max": 10}]}, R),
    ("readOnlyRootFilesystem", "spec.readOnlyRootFilesystem", False, R),
    ("readOnlyRootFilesystem", "spec.readOnlyRootFilesystem", True, R),
    ("defaultAllowPrivilegeEscalation", "spec.defaultAllowPrivilegeEscalation", True, R),
    ("allowPrivilegeEscalation", "spec.allowPrivilegeEscalation", False, R),
    ("allowPrivilegeEscalation", "spec.allowPrivilegeEscalation", True, B),
    ("allowPrivilegeEscalation", "spec.allowPrivilegeEscalation", UNSET, B),
    ("allowedHostPaths", "spec.allowedHostPaths", [{"pathPrefix": "/"}], R),
    ("allowedFlexVolumes", "spec.allowedFlexVolumes", [{"driver": "example/lvm"}], R),
    ("allowedCSIDrivers", "spec.allowedCSIDrivers", [{"name": "csi.example.com"}], R),
    ("allowedUnsafeSysctls", "spec.allowedUnsafeSysctls", [], R),
    ("allowedUnsafeSysctls", "spec.allowedUnsafeSysctls", ["kernel.msg*"], P),
    ("forbiddenSysctls", "spec.forbiddenSysctls", ["*"], R),
    ("allowedProcMountTypes", "spec.allowedProcMountTypes", ["Default"], R),
    ("allowedProcMountTypes", "spec.allowedProcMountTypes", [], R),
    ("allowedProcMountTypes", "spec.allowedProcMountTypes", ["Unmasked"], P),
    ("allowedProcMountTypes", "spec.allowedProcMountTypes", ["Default", "Unmasked"], P),
    ("runtimeClass.defaultRuntimeClassName", "spec.runtimeClass", {"defaultRuntimeClassName": "gvisor"}, R),
    ("runtimeClass.allowedRuntimeClassNames", "spec.runtimeClass", {"allowedRuntimeClassNames": ["*"]}, R),
    ("seccomp defaultProfileName", "seccomp.security.alpha.kubernetes.io/defaultProfileName", "unconfined", R),
    ("seccomp allowedProfileNames", SECCOMP, "runtime/default", R),
    ("seccomp allowedProfileNames", SECCOMP, "runtime/default,", B),
    ("seccomp allowedProfileNames", SECCOMP, "localhost/profile.json", R),
    ("seccomp allowedProfileNames", SECCOMP, "runtime/default,localhost/*", R),
    ("seccomp allowedProfileNames", SECCOMP, "localhost/a,", B),
    ("seccomp allowedProfileNames", SECCOMP, "docker/default,runtime/default", R),
    ("seccomp allowedProfileNames", SECCOMP, "*", P),
    ("seccomp allowedProfileNames", SECCOMP, "runtime/default,unconfined", P),
    ("seccomp allowedProfileNames", SECCOMP, UNSET, B),
    ("apparmor defaultProfileName", "apparmor.security.beta.kubernetes.io/defaultProfileName", "unconfined", R),
    ("apparmor allowedProfileNames", APPARMOR, "runtime/default", R),
    ("apparmor allowedProfileNames", APPARMOR, "runtime/default,", B),
    ("apparmor allowedProfileNames", APPARMOR, "localhost/k8s-nginx", R),
    ("apparmor allowedProfileNames", APPARMOR, "runtime/default,localhost/x,", B),
    ("apparmor allowedProfileNames", APPARMOR, "unconfined", P),
    ("apparmor allowedProfileNames", APPARMOR, "*", P),
    ("apparmor allowedProfileNames", APPARMOR, UNSET, P),
]


def _id(row: tuple[str, str, Any, Level]) -> str:
    value = "unset" if row[2] is UNSET else row[2]
    return f"{row[0]}={value}->{row[3].value}"


def test_the_base_is_restricted() -> None:
    a = psp.assess(RESTRICTED)
    assert (a.level, a.blockers, a.problems) == (R, (), ())


@pytest.mark.parametrize(("row", "field", "value", "level"), ROWS, ids=[_id(r) for r in ROWS])
def test_mapping_row(row: str, field: str, value: Any, level: Level) -> None:
    a = psp.assess(tweak(field, value))
    assert a.level is level
    assert a.problems == ()
    if level is not R:  # the field keeps it from restricted, and from baseline when privileged
        kept = {b.level for b in a.blockers}
        assert kept == ({B, R} if level is P else {R})
        assert {b.path[-1] for b in a.blockers} == {field.removeprefix("spec.")}


def test_every_row_with_an_opinion_is_covered() -> None:
    covered = {f.removeprefix("spec.") for _, f, _, lv in ROWS if lv is not R}
    assert {f.path[-1] for f in psp.FIELDS} <= covered | {"hostNetwork", "hostPID", "hostIPC"}


def test_blockers_name_the_field_its_value_and_the_cell() -> None:
    obj = tweak("spec.runAsUser", {"rule": "RunAsAny"})
    obj["spec"]["privileged"] = True
    a = psp.assess(obj)
    assert a.level is P and a.next_level is B
    assert [(b.field, b.value, b.needs) for b in a.blocking()] == [("spec.privileged", "true", "false or unset")]
    assert [(b.field, b.value, b.needs) for b in a.blocking(R)] == [
        ("spec.privileged", "true", "false or unset"),
        ("spec.runAsUser", "{rule: RunAsAny}", "rule MustRunAsNonRoot"),
    ]
    assert a.labels == {"pod-security.kubernetes.io/enforce": "privileged"}


def test_mutating_fields() -> None:
    assert (
        psp.assess(tweak("spec.requiredDropCapabilities", UNSET) | {}).mutates is True
    )  # allowPrivilegeEscalation: false
    quiet = tweak("spec.allowPrivilegeEscalation", True)
    quiet["spec"]["requiredDropCapabilities"] = []
    quiet["spec"]["runAsUser"] = {"rule": "RunAsAny"}
    assert psp.assess(quiet).mutations == ()
    loud = copy.deepcopy(RESTRICTED)
    loud["metadata"]["annotations"]["seccomp.security.alpha.kubernetes.io/defaultProfileName"] = "runtime/default"
    loud["metadata"]["annotations"]["apparmor.security.beta.kubernetes.io/defaultProfileName"] = "runtime/default"
    loud["spec"] |= {
        "defaultAddCapabilities": ["CHOWN"],
        "seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"level": "s0:c1"}},
        "runAsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 9}]},
        "supplementalGroups": {"rule": "MayRunAs", "ranges": [{"min": 1, "max": 9}]},
        "fsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 9}]},
        "readOnlyRootFilesystem": True,
        "defaultAllowPrivilegeEscalation": False,
        "runtimeClass": {"defaultRuntimeClassName": "gvisor"},
    }
    assert [m.field for m in psp.assess(loud).mutations] == [
        "spec.defaultAddCapabilities",
        "spec.requiredDropCapabilities",
        "spec.seLinux.rule",
        "spec.runAsUser.rule",
        "spec.runAsGroup.rule",
        "spec.fsGroup.rule",
        "spec.readOnlyRootFilesystem",
        "spec.defaultAllowPrivilegeEscalation",
        "spec.allowPrivilegeEscalation",
        "spec.runtimeClass.defaultRuntimeClassName",
        'metadata.annotations["seccomp.security.alpha.kubernetes.io/defaultProfileName"]',
        'metadata.annotations["apparmor.security.beta.kubernetes.io/defaultProfileName"]',
    ]


def test_wrong_types_are_problems_and_count_as_privileged() -> None:
    a = psp.assess(tweak("spec.privileged", "false"))
    assert a.level is P
    assert [(p.path, p.message) for p in a.problems] == [(("spec", "privileged"), "expected true or false, got false")]
    assert psp.assess({"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {"name": "x"}}).problems


def test_kinds() -> None:
    assert psp.is_psp({"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy"})
    assert psp.is_psp({"apiVersion": "extensions/v1beta1", "kind": "PodSecurityPolicy"})
    assert not psp.is_psp({"apiVersion": "example.com/v1", "kind": "PodSecurityPolicy"})
