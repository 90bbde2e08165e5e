"""Who the processes run as: the root group, a minimum UID, Windows' administrator, and whether
a Windows pod says it is one (podsec hardened)."""

from __future__ import annotations

from podsec.checks._base import Check, CheckLevel, Example, Platform, PodView, Severity, Violation
from podsec.checks._hardened import container_says, detail_describe, pod_says


def _root_group(pod: PodView) -> list[Violation]:
    sc = pod.security_context
    found = []
    if sc.run_as_group.value == 0:
        found.append(pod_says(sc.run_as_group.path, "sets runAsGroup=0"))
    if sc.fs_group.value == 0:
        found.append(pod_says(sc.fs_group.path, "sets fsGroup=0"))
    for i, gid in enumerate(sc.supplemental_groups.value or ()):
        if gid == 0:
            found.append(pod_says((*sc.supplemental_groups.path, i), "lists group 0 in supplementalGroups"))
    for c in pod.containers:
        own = c.effective.own("run_as_group")
        if own.value == 0:
            found.append(container_says(c, own.path, "sets runAsGroup=0"))
    return found


ROOT_GROUP: Check = Check(
    id="rootGroup",
    level=CheckLevel.HARDENED,
    title="Processes run with the root group (GID 0)",
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _root_group),),
    describe=detail_describe("root group"),
    rationale="Group 0 owns many sensitive files on the node and in images (often group-writable); "
    "a process in the root group can read or change them even as a non-root user.",
    remediation="Use a non-zero runAsGroup and fsGroup, and remove 0 from supplementalGroups.",
    fields=(
        "spec.securityContext.runAsGroup",
        "spec.securityContext.fsGroup",
        "spec.securityContext.supplementalGroups",
        "spec.containers[*].securityContext.runAsGroup",
    ),
    platform=Platform.LINUX,
    example=Example(
        failing="securityContext:\n  runAsGroup: 0\ncontainers:\n- name: app\n  image: registry.example/app:1.0\n",
        fixed="securityContext:\n  runAsGroup: 10001\ncontainers:\n- name: app\n  image: registry.example/app:1.0\n",
    ),
)


def _uid_minimum(pod: PodView, *, minimum: int | str = 10000) -> list[Violation]:
    least = int(minimum)
    sc = pod.security_context
    found = []
    if sc.run_as_user.value is not None and sc.run_as_user.value < least:
        found.append(pod_says(sc.run_as_user.path, f"sets runAsUser={sc.run_as_user.value}, below {least}"))
    for c in pod.containers:
        own = c.effective.own("run_as_user")
        if own.value is not None and own.value < least:
            found.append(container_says(c, own.path, f"sets runAsUser={own.value}, below {least}"))
    return found


UID_MINIMUM: Check = Check(
    id="runAsUserMinimum",
    level=CheckLevel.HARDENED,
    title="runAsUser below the configured minimum UID",
    severity=Severity.LOW,
    revisions=(((1, 0), _uid_minimum),),
    describe=detail_describe("low UID"),
    rationale="UIDs below a threshold (commonly 10000) may collide with users that exist on the "
    "node, so a container escape lands as a real host user. The check is off by default: on "
    "OpenShift every namespace gets its own UID range (openshift.io/sa.scc.uid-range) and the "
    "restricted SCC assigns a UID from it, so a fixed high UID written into a manifest is rejected "
    "there; leaving runAsUser unset is the portable choice.",
    remediation="Set runAsUser to a UID at or above the minimum, or leave it unset and let the "
    "platform assign one. Enable with checks.enable: [runAsUserMinimum] and set the threshold with "
    "checks.options.runAsUserMinimum.minimum. Unset UIDs are not reported (the image decides; "
    "runAsNonRoot guards them).",
    fields=("spec.securityContext.runAsUser", "spec.containers[*].securityContext.runAsUser"),
    platform=Platform.LINUX,
    default_on=False,
    options={"minimum": 10000},
    example=Example(
        failing="securityContext:\n  runAsUser: 1000\ncontainers:\n- name: app\n  image: registry.example/app:1.0\n",
        fixed="securityContext:\n  runAsUser: 10001\ncontainers:\n- name: app\n  image: registry.example/app:1.0\n",
    ),
)


def _windows_admin(pod: PodView) -> list[Violation]:
    found = []
    pod_opts = pod.security_context.windows_options
    if pod_opts.value is not None and (pod_opts.value.run_as_user_name or "").lower() == "containeradministrator":
        found.append(pod_says((*pod_opts.path, "runAsUserName"), "runs as ContainerAdministrator"))
    for c in pod.containers:
        own = c.effective.own("windows_options")
        if own.value is not None and (own.value.run_as_user_name or "").lower() == "containeradministrator":
            found.append(container_says(c, (*own.path, "runAsUserName"), "runs as ContainerAdministrator"))
    return found


WINDOWS_ADMIN: Check = Check(
    id="windowsAdministrator",
    level=CheckLevel.HARDENED,
    title="Windows container runs as ContainerAdministrator",
    severity=Severity.HIGH,
    revisions=(((1, 0), _windows_admin),),
    describe=detail_describe("Windows administrator"),
    rationale="ContainerAdministrator is the administrator account of a Windows container, "
    "the equivalent of root. Pod Security Standards have no Windows identity check, so "
    "restricted passes such a pod.",
    remediation="Set securityContext.windowsOptions.runAsUserName: ContainerUser (or a dedicated "
    "account), on the pod or the container.",
    fields=(
        "spec.securityContext.windowsOptions.runAsUserName",
        "spec.containers[*].securityContext.windowsOptions.runAsUserName",
    ),
    platform=Platform.WINDOWS,
    example=Example(
        failing="os:\n  name: windows\nsecurityContext:\n  windowsOptions:\n    runAsUserName: ContainerAdministrator\n"
        "containers:\n- name: app\n  image: registry.example/app:1.0\n",
        fixed="os:\n  name: windows\nsecurityContext:\n  windowsOptions:\n    runAsUserName: ContainerUser\n"
        "containers:\n- name: app\n  image: registry.example/app:1.0\n",
    ),
)


def _os_name(pod: PodView) -> list[Violation]:
    if not pod.scheduled_on_windows:
        return []
    return [
        pod_says(
            pod.os_name.path,
            f"runs on Windows nodes (nodeSelector {pod.node_os.path[-1]}: windows) but does not set "
            "spec.os.name: windows",
        )
    ]


WINDOWS_OS_NAME: Check = Check(
    id="windowsOsName",
    level=CheckLevel.HARDENED,
    title="Pod selects Windows nodes but does not declare spec.os.name: windows",
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _os_name),),
    describe=detail_describe("Windows pod without os.name"),
    rationale="A pod that reaches Windows nodes only through its nodeSelector is a Linux pod to the API "
    "server: Pod Security Admission asks it for Linux-only settings (seccomp, capabilities, "
    "allowPrivilegeEscalation) that Windows ignores, and Linux-only fields are not rejected. With "
    "spec.os.name: windows the API server validates it as a Windows pod, the restricted level exempts it from "
    "those Linux-only checks (from v1.25), and the scheduler and kubelet know its OS. podsec's own Linux-only "
    "checks are not run on such a pod; this check says what to declare instead.",
    remediation="Set spec.os.name: windows (and keep the nodeSelector, or rely on the os label the "
    "scheduler adds); then remove Linux-only securityContext fields.",
    fields=("spec.os.name", "spec.nodeSelector"),
    platform=Platform.ANY,
    example=Example(
        failing="nodeSelector:\n  kubernetes.io/os: windows\ncontainers:\n- name: app\n"
        "  image: registry.example/app:1.0\n",
        fixed="os:\n  name: windows\nnodeSelector:\n  kubernetes.io/os: windows\n"
        "securityContext:\n  windowsOptions:\n    runAsUserName: ContainerUser\n"
        "containers:\n- name: app\n  image: registry.example/app:1.0\n",
    ),
)
