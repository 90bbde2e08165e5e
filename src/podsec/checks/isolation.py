"""Isolation beyond PSS: process namespace sharing, user namespaces, confinement profiles (podsec hardened)."""

from __future__ import annotations

from podsec.checks._base import Check, CheckLevel, ContainerView, Example, Platform, PodView, Severity, Violation
from podsec.checks._hardened import container_says, detail_describe, pod_says

_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def _share(pod: PodView) -> list[Violation]:
    share = pod.share_process_namespace
    return [pod_says(share.path, "sets shareProcessNamespace=true")] if share.value is True else []


SHARE_PROCESS_NAMESPACE: Check = Check(
    id="shareProcessNamespace",
    level=CheckLevel.HARDENED,
    title="Containers share one process namespace",
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _share),),
    describe=detail_describe("shared process namespace"),
    rationale="With a shared process namespace every container sees, signals and (with ptrace "
    "rights) inspects the others' processes, and can read their file systems through "
    "/proc/<pid>/root, secrets included.",
    remediation="Remove spec.shareProcessNamespace unless a sidecar truly needs it; use an "
    "ephemeral debug container with a target instead of sharing for debugging.",
    fields=("spec.shareProcessNamespace",),
    platform=Platform.LINUX,
    example=Example(
        failing="shareProcessNamespace: true\ncontainers:\n- name: app\n  image: registry.example/app:1.0\n",
        fixed="containers:\n- name: app\n  image: registry.example/app:1.0\n",
    ),
)


def _user_namespace(pod: PodView) -> list[Violation]:
    users = pod.host_users
    if users.value is False:
        return []
    return [pod_says(users.path, "runs in the host's user namespace: hostUsers is not false")]


USER_NAMESPACE: Check = Check(
    id="userNamespace",
    level=CheckLevel.HARDENED,
    title="Pod does not use a user namespace",
    severity=Severity.INFO,
    revisions=(((1, 0), _user_namespace),),
    describe=detail_describe("no user namespace"),
    rationale="With hostUsers: false (Kubernetes 1.33+ by default where supported) root in the "
    "container maps to an unprivileged user on the node, which defuses most container escapes. "
    "Informational: it needs a recent kernel and runtime, and some volume types and host "
    "namespaces are incompatible.",
    remediation="Set spec.hostUsers: false where the nodes support user namespaces.",
    fields=("spec.hostUsers",),
    platform=Platform.LINUX,
    example=Example(
        failing="containers:\n- name: app\n  image: registry.example/app:1.0\n",
        fixed="hostUsers: false\ncontainers:\n- name: app\n  image: registry.example/app:1.0\n",
    ),
)


def _confined(pod: PodView, c: ContainerView) -> bool:
    eff = c.effective
    if eff.seccomp_profile.value is not None and eff.seccomp_profile.value.type in ("RuntimeDefault", "Localhost"):
        return True
    if eff.app_armor_profile.value is not None and eff.app_armor_profile.value.type in ("RuntimeDefault", "Localhost"):
        return True
    note = pod.annotations.get(_APPARMOR_ANNOTATION + c.name, "")
    if note == "runtime/default" or note.startswith("localhost/"):
        return True
    return eff.se_linux_options.value is not None


def _confinement(pod: PodView) -> list[Violation]:
    return [
        container_says(c, (*c.effective.path, "seccompProfile"), "chooses no seccomp, AppArmor or SELinux profile")
        for c in pod.containers
        if not _confined(pod, c)
    ]


CONFINEMENT: Check = Check(
    id="confinement",
    level=CheckLevel.HARDENED,
    title="No seccomp, AppArmor or SELinux confinement chosen",
    severity=Severity.INFO,
    revisions=(((1, 0), _confinement),),
    describe=detail_describe("no confinement profile"),
    rationale="Without a seccomp profile the container can use every system call (the kubelet "
    "runs containers Unconfined unless seccompDefault is on); AppArmor and SELinux add mandatory "
    "access control. Informational: which of them applies depends on the node's OS.",
    remediation="Set securityContext.seccompProfile: {type: RuntimeDefault} on the pod (and/or "
    "appArmorProfile or seLinuxOptions where the nodes use them).",
    fields=("spec.securityContext.seccompProfile", "spec.containers[*].securityContext.seccompProfile"),
    platform=Platform.LINUX,
    example=Example(
        failing="containers:\n- name: app\n  image: registry.example/app:1.0\n",
        fixed="securityContext:\n  seccompProfile:\n    type: RuntimeDefault\n"
        "containers:\n- name: app\n  image: registry.example/app:1.0\n",
    ),
)
