"""Settings the API server or the kubelet rejects: reported before a deploy fails (podsec hardened).

Each rule restates a rule of Kubernetes' own validation, in
``pkg/apis/core/validation/validation.go`` (``ValidateSecurityContext``,
``ValidatePodSecurityContext``, ``validateSeccompProfileField``,
``validateAppArmorProfileField``, ``ValidateProcMountType``, ``validateWindows``,
``validateLinux``) and ``k8s.io/apimachinery/pkg/util/validation`` (``IsValidUserID``,
``IsValidGroupID``), or of the kubelet (``verifyRunAsNonRoot``). Messages quote upstream's.
"""

from __future__ import annotations

from collections.abc import Iterator

from podsec.checks._base import Check, CheckLevel, Example, Platform, PodView, Severity, Violation
from podsec.checks._hardened import container_says, detail_describe, pod_says
from podsec.model.paths import Path
from podsec.model.security import ProfileOption, Resolved

_VALIDATION = "https://github.com/kubernetes/kubernetes/blob/master/pkg/apis/core/validation/validation.go"
_KUBELET = "https://github.com/kubernetes/kubernetes/blob/master/pkg/kubelet/kuberuntime/security_context_others.go"
_MAX_ID = 2147483647
_APP = "containers:\n- name: app\n  image: registry.example/app:1.0\n"


# --- privileged / CAP_SYS_ADMIN with allowPrivilegeEscalation: false -------------------------


def _escalation(pod: PodView) -> list[Violation]:
    found = []
    for c in pod.containers:
        eff = c.effective
        if eff.allow_privilege_escalation.value is not False:
            continue
        if eff.privileged.value is True:
            found.append(
                container_says(
                    c,
                    eff.allow_privilege_escalation.path,
                    "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
                )
            )
        for i, cap in enumerate(eff.capabilities.value.add if eff.capabilities.value else ()):
            if cap == "CAP_SYS_ADMIN":
                found.append(
                    container_says(
                        c,
                        (*eff.capabilities.path, "add", i),
                        "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
                    )
                )
    return found


ESCALATION: Check = Check(
    id="apiPrivilegeEscalationConflict",
    level=CheckLevel.HARDENED,
    title="allowPrivilegeEscalation: false with privileged or CAP_SYS_ADMIN (rejected by the API server)",
    severity=Severity.ERROR,
    revisions=(((1, 0), _escalation),),
    describe=detail_describe("rejected by the API server"),
    rationale="A privileged container, or one holding CAP_SYS_ADMIN, can always escalate; the API "
    "server refuses a securityContext that claims otherwise (ValidateSecurityContext). Upstream "
    'compares the capability with the literal string "CAP_SYS_ADMIN": the spelling "SYS_ADMIN" '
    "is accepted by the API server (and reported by dangerousCapabilities), so podsec reports "
    "exactly what the API server rejects.",
    remediation="Decide which is true: drop privileged / CAP_SYS_ADMIN (preferred), or remove "
    "allowPrivilegeEscalation: false.",
    fields=("spec.containers[*].securityContext.allowPrivilegeEscalation",),
    references=(_VALIDATION + " (ValidateSecurityContext)",),
    example=Example(
        failing="containers:\n- name: app\n  image: registry.example/app:1.0\n  securityContext:\n"
        "    privileged: true\n    allowPrivilegeEscalation: false\n",
        fixed="containers:\n- name: app\n  image: registry.example/app:1.0\n  securityContext:\n"
        "    allowPrivilegeEscalation: false\n",
    ),
)


# --- runAsNonRoot: true with runAsUser: 0 ------------------------------------------------------


def _non_root_uid0(pod: PodView) -> list[Violation]:
    found = []
    for c in pod.containers:
        eff = c.effective
        if eff.run_as_non_root.value is True and eff.run_as_user.value == 0:
            found.append(
                container_says(
                    c,
                    eff.run_as_user.path,
                    f"has runAsNonRoot=true ({eff.run_as_non_root.source}) and runAsUser=0 "
                    f"({eff.run_as_user.source}): the kubelet will refuse to start it",
                )
            )
    return found


NON_ROOT_UID0: Check = Check(
    id="kubeletRunAsNonRootConflict",
    level=CheckLevel.HARDENED,
    title="runAsNonRoot: true with runAsUser: 0 (the container never starts)",
    severity=Severity.ERROR,
    revisions=(((1, 0), _non_root_uid0),),
    describe=detail_describe("container will not start"),
    rationale="The API server accepts the pod, but the kubelet checks runAsNonRoot before starting "
    "each container and fails it with CreateContainerConfigError (\"container's runAsUser breaks "
    'non-root policy"). The two values often come from different levels: a pod-level '
    "runAsNonRoot and a container-level runAsUser: 0, or the reverse.",
    remediation="Set runAsUser to a non-zero UID (or remove it and use a non-root image).",
    fields=("spec.containers[*].securityContext.runAsUser",),
    platform=Platform.LINUX,  # Windows pods may not set runAsUser at all (apiOsForbiddenField)
    references=(_KUBELET + " (verifyRunAsNonRoot)",),
    example=Example(
        failing="securityContext:\n  runAsNonRoot: true\ncontainers:\n- name: app\n  image: registry.example/app:1.0\n"
        "  securityContext:\n    runAsUser: 0\n",
        fixed="securityContext:\n  runAsNonRoot: true\ncontainers:\n- name: app\n  image: registry.example/app:1.0\n"
        "  securityContext:\n    runAsUser: 10001\n",
    ),
)


# --- fields written at the wrong level ---------------------------------------------------------


def _misplaced(pod: PodView) -> list[Violation]:
    found = []
    for path in pod.security_context.misplaced:
        found.append(
            pod_says(
                path,
                f"sets {path[-1]} in its securityContext, where it does nothing: it is a "
                "container field; move it to every container's securityContext",
            )
        )
    for c in pod.containers:
        for path in c.effective.misplaced:
            found.append(
                container_says(
                    c,
                    path,
                    f"sets {path[-1]} in its securityContext, where it does nothing: "
                    "it is a pod field; move it to spec.securityContext",
                )
            )
    return found


MISPLACED: Check = Check(
    id="apiMisplacedField",
    level=CheckLevel.HARDENED,
    title="securityContext field written at the wrong level",
    severity=Severity.ERROR,
    revisions=(((1, 0), _misplaced),),
    describe=detail_describe("field at the wrong level"),
    rationale="allowPrivilegeEscalation, privileged, capabilities, readOnlyRootFilesystem and "
    "procMount exist only in a container's securityContext; fsGroup, fsGroupChangePolicy, "
    "supplementalGroups, supplementalGroupsPolicy, seLinuxChangePolicy and sysctls only in the "
    "pod's. Written at the other level they are unknown fields: kubectl's strict field validation "
    "(the default since 1.25) rejects the object, and a lenient client has them silently dropped, "
    "so the setting the author believes in never applies. Other scanners ignore them and pass.",
    remediation="Move the field to the level named in the message.",
    fields=("spec.securityContext", "spec.containers[*].securityContext"),
    references=("https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation",),
    example=Example(
        failing="securityContext:\n  allowPrivilegeEscalation: false\n" + _APP,
        fixed="containers:\n- name: app\n  image: registry.example/app:1.0\n  securityContext:\n"
        "    allowPrivilegeEscalation: false\n",
    ),
)


# --- IDs out of range ----------------------------------------------------------------------------


def _ids(pod: PodView) -> list[Violation]:
    found = []
    sc = pod.security_context
    pod_ids: list[tuple[Path, int]] = [
        (r.path, r.value) for r in (sc.run_as_user, sc.run_as_group, sc.fs_group) if r.value is not None
    ]
    pod_ids += [((*sc.supplemental_groups.path, i), g) for i, g in enumerate(sc.supplemental_groups.value or ())]
    for path, value in pod_ids:
        if not 0 <= value <= _MAX_ID:
            found.append(
                pod_says(
                    path,
                    f"{path[-1] if isinstance(path[-1], str) else 'supplementalGroups'}="
                    f"{value}: must be between 0 and {_MAX_ID}, inclusive",
                )
            )
    for c in pod.containers:
        for attr in ("run_as_user", "run_as_group"):
            own = c.effective.own(attr)
            if own.value is not None and not 0 <= own.value <= _MAX_ID:
                found.append(
                    container_says(
                        c, own.path, f"{own.path[-1]}={own.value}: must be between 0 and {_MAX_ID}, inclusive"
                    )
                )
    return found


IDS: Check = Check(
    id="apiInvalidId",
    level=CheckLevel.HARDENED,
    title="UID or GID out of range (rejected by the API server)",
    severity=Severity.ERROR,
    revisions=(((1, 0), _ids),),
    describe=detail_describe("invalid ID"),
    rationale="User and group IDs must lie between 0 and 2147483647 (IsValidUserID, "
    "IsValidGroupID); a negative ID, often a templating accident, makes the API server refuse the pod.",
    remediation="Use a UID/GID between 1 and 2147483647.",
    fields=(
        "spec.securityContext.runAsUser",
        "spec.securityContext.runAsGroup",
        "spec.securityContext.fsGroup",
        "spec.securityContext.supplementalGroups",
    ),
    references=(_VALIDATION + " (ValidatePodSecurityContext, ValidateSecurityContext)",),
    example=Example(
        failing="securityContext:\n  runAsUser: -1\n" + _APP,
        fixed="securityContext:\n  runAsUser: 10001\n" + _APP,
    ),
)


# --- seccomp / AppArmor profiles, procMount --------------------------------------------------------

_PROFILE_TYPES = ("RuntimeDefault", "Unconfined", "Localhost")


def _profile_problems(kind: str, r: Resolved[ProfileOption]) -> Iterator[tuple[Path, str]]:
    p = r.value
    if p is None:
        return
    if p.type == "":
        yield (*r.path, "type"), f"{kind}.type: Required value"
    elif p.type not in _PROFILE_TYPES:
        yield (
            (*r.path, "type"),
            f'{kind}.type: Unsupported value: "{p.type}": supported values: '
            + ", ".join(f'"{t}"' for t in _PROFILE_TYPES),
        )
    if p.type == "Localhost" and not p.localhost_profile:
        label = "seccomp" if kind == "seccompProfile" else "AppArmor"
        yield (
            (*r.path, "localhostProfile"),
            f"{kind}.localhostProfile: Required value: must be set when {label} type is Localhost",
        )
    if p.type not in ("Localhost", "") and p.localhost_profile is not None:
        label = "seccomp" if kind == "seccompProfile" else "AppArmor"
        yield (*r.path, "localhostProfile"), f"{kind}.localhostProfile: can only be set when {label} type is Localhost"


def _profiles(pod: PodView) -> list[Violation]:
    found = []
    sc = pod.security_context
    for kind, r in (("seccompProfile", sc.seccomp_profile), ("appArmorProfile", sc.app_armor_profile)):
        found += [pod_says(path, text) for path, text in _profile_problems(kind, r)]
    for c in pod.containers:
        for kind, attr in (("seccompProfile", "seccomp_profile"), ("appArmorProfile", "app_armor_profile")):
            found += [container_says(c, path, text) for path, text in _profile_problems(kind, c.effective.own(attr))]
        pm = c.effective.proc_mount
        if pm.value is not None and pm.value not in ("Default", "Unmasked"):
            found.append(
                container_says(
                    c, pm.path, f'procMount: Unsupported value: "{pm.value}": supported values: "Default", "Unmasked"'
                )
            )
        elif pm.value == "Unmasked" and not pod.is_user_namespaced:
            found.append(
                container_says(
                    c, pm.path, 'procMount: Invalid value: "Unmasked": `hostUsers` must be false to use `Unmasked`'
                )
            )
    return found


PROFILES: Check = Check(
    id="apiInvalidProfile",
    level=CheckLevel.HARDENED,
    title="Invalid seccompProfile, appArmorProfile or procMount value (rejected by the API server)",
    severity=Severity.ERROR,
    revisions=(((1, 0), _profiles),),
    describe=detail_describe("invalid value"),
    rationale="The API server accepts only RuntimeDefault, Unconfined and Localhost as profile "
    "types, requires localhostProfile exactly when the type is Localhost, and accepts only "
    "Default and Unmasked for procMount, Unmasked only in a pod with its own user namespace "
    "(hostUsers: false; ValidateSecurityContext). A typo such as `runtimeDefault` fails the deploy. "
    "Such a pod is refused before Pod Security Admission sees it: since v1.35 baseline allows "
    "Unmasked in a user namespace, so every pod failing baseline's procMount check at the newest "
    "version is one the API server refuses.",
    remediation="Use one of the supported values named in the message, with the exact case.",
    fields=("spec.securityContext.seccompProfile", "spec.containers[*].securityContext.procMount"),
    references=(_VALIDATION + " (validateSeccompProfileField, validateAppArmorProfileField, ValidateProcMountType)",),
    example=Example(
        failing="securityContext:\n  seccompProfile:\n    type: runtimeDefault\n" + _APP,
        fixed="securityContext:\n  seccompProfile:\n    type: RuntimeDefault\n" + _APP,
    ),
)


# --- fields the pod's OS does not allow ----------------------------------------------------------

_POD_LINUX_ONLY = (
    "se_linux_options", "seccomp_profile", "app_armor_profile", "fs_group", "fs_group_change_policy",
    "sysctls", "run_as_user", "run_as_group", "supplemental_groups",
)  # fmt: skip
_CONTAINER_LINUX_ONLY = (
    "se_linux_options", "seccomp_profile", "app_armor_profile", "capabilities", "read_only_root_filesystem",
    "privileged", "allow_privilege_escalation", "proc_mount", "run_as_user", "run_as_group",
)  # fmt: skip


def _os_fields(pod: PodView) -> list[Violation]:
    found = []
    sc = pod.security_context
    if pod.is_windows:
        for attr in _POD_LINUX_ONLY:
            r: Resolved[object] = getattr(sc, attr)
            if r.is_set:
                found.append(pod_says(r.path, f"sets {r.path[-1]}: Forbidden: cannot be set for a windows pod"))
        if pod.share_process_namespace.is_set:
            found.append(
                pod_says(
                    pod.share_process_namespace.path,
                    "sets shareProcessNamespace: Forbidden: cannot be set for a windows pod",
                )
            )
        for c in pod.containers:
            for attr in _CONTAINER_LINUX_ONLY:
                own = c.effective.own(attr)
                if own.is_set:
                    found.append(
                        container_says(c, own.path, f"sets {own.path[-1]}: Forbidden: cannot be set for a windows pod")
                    )
    elif pod.os_name.value == "linux":
        if sc.windows_options.is_set:
            found.append(
                pod_says(
                    sc.windows_options.path,
                    "sets windowsOptions: Forbidden: windows options cannot be set for a linux pod",
                )
            )
        for c in pod.containers:
            own = c.effective.own("windows_options")
            if own.is_set:
                found.append(
                    container_says(
                        c, own.path, "sets windowsOptions: Forbidden: windows options cannot be set for a linux pod"
                    )
                )
    return found


OS_FIELDS: Check = Check(
    id="apiOsForbiddenField",
    level=CheckLevel.HARDENED,
    title="securityContext field the pod's OS does not allow (rejected by the API server)",
    severity=Severity.ERROR,
    revisions=(((1, 0), _os_fields),),
    describe=detail_describe("field not allowed for the pod's OS"),
    rationale="A pod that declares spec.os.name: windows may not set Linux-only fields (SELinux, "
    "seccomp, AppArmor, capabilities, privileged, allowPrivilegeEscalation, procMount, "
    "readOnlyRootFilesystem, UIDs and GIDs, fsGroup, sysctls, shareProcessNamespace); one that "
    "declares linux may not set windowsOptions. The API server rejects both (validateWindows, "
    "validateLinux).",
    remediation="Remove the fields the pod's OS does not support; for Windows identity use "
    "windowsOptions.runAsUserName.",
    fields=("spec.os.name", "spec.securityContext", "spec.containers[*].securityContext"),
    references=(_VALIDATION + " (validateWindows, validateLinux)",),
    example=Example(
        failing="os:\n  name: windows\nsecurityContext:\n  runAsUser: 1000\n" + _APP,
        fixed="os:\n  name: windows\nsecurityContext:\n  windowsOptions:\n    runAsUserName: ContainerUser\n" + _APP,
    ),
)


# --- shareProcessNamespace with hostPID -------------------------------------------------------------


def _share_host_pid(pod: PodView) -> list[Violation]:
    if pod.share_process_namespace.value is True and pod.host_pid.value is True:
        return [
            pod_says(
                pod.share_process_namespace.path,
                "sets shareProcessNamespace and hostPID: ShareProcessNamespace and HostPID cannot both be enabled",
            )
        ]
    return []


SHARE_HOST_PID: Check = Check(
    id="apiShareProcessNamespaceHostPID",
    level=CheckLevel.HARDENED,
    title="shareProcessNamespace together with hostPID (rejected by the API server)",
    severity=Severity.ERROR,
    revisions=(((1, 0), _share_host_pid),),
    describe=detail_describe("rejected by the API server"),
    rationale="A pod cannot both share a private process namespace among its containers and use "
    "the host's; the API server refuses the combination (ValidatePodSecurityContext).",
    remediation="Remove hostPID (preferred) or shareProcessNamespace.",
    fields=("spec.shareProcessNamespace", "spec.hostPID"),
    references=(_VALIDATION + " (ValidatePodSecurityContext)",),
    example=Example(
        failing="hostPID: true\nshareProcessNamespace: true\n" + _APP,
        fixed="shareProcessNamespace: true\n" + _APP,
    ),
)
