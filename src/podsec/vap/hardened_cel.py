"""podsec's own (hardened) checks as CEL, each exactly as its Python function evaluates it.

`expression(check, options)` gives a CEL expression that is ``''`` when the pod passes
and the check's ``reason (detail; detail ...)`` when it fails, with the details in the
order podsec finds them and worded as podsec words them (`podsec.checks.*`); the reason
comes from the check's own `describe`. Linux checks give ``''`` for pods with
``spec.os.name: windows``, Windows checks for pods that declare ``linux``, as
`podsec.engine.evaluate` skips them. The pod is read from the same variables as
`pss_cel` (``variables.spec``, ``variables.meta``, ``variables.psc``, ``variables.all``).

podsec reads a container's effective value as its own, else the pod's (`model.security`),
a field as unset when it is missing or null, and normalises capability names with
Python's ``strip().upper()``: `capability_pattern` gives the RE2 pattern that accepts
exactly the spellings Python's normalisation turns into a given name (U+017F, the long s,
upper-cases to ``S``; the ligature U+FB05 to ``ST`` ...), so that CEL's ``matches`` decides as podsec does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from podsec.checks import Check, Platform, api_validation, dangerous_capabilities, identity, isolation
from podsec.model import pod as podmodel
from podsec.model import security
from podsec.model.security import CONTAINER_ONLY_FIELDS, POD_ONLY_FIELDS, SHARED_FIELDS
from podsec.vap import pss_cel

_MAX_ID = api_validation._MAX_ID
_PROFILE_TYPES = api_validation._PROFILE_TYPES
_CONFINING = "['RuntimeDefault', 'Localhost']"
_FIELD = dict((*SHARED_FIELDS, *CONTAINER_ONLY_FIELDS, *POD_ONLY_FIELDS))  # model attribute -> API field
_POD_ONLY = security._POD_ONLY_NAMES  # what apiMisplacedField looks for in a container's securityContext
_CONTAINER_ONLY = security._CONTAINER_ONLY_NAMES  # ... and in the pod's
_POD_LINUX_ONLY = tuple(_FIELD[a] for a in api_validation._POD_LINUX_ONLY)
_CONTAINER_LINUX_ONLY = tuple(_FIELD[a] for a in api_validation._CONTAINER_LINUX_ONLY)
_SPACE = r"[\t\n\v\f\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
"""Python's str.isspace() characters, which strip() removes (Go's TrimSpace would keep \\x1c-\\x1f)."""


def lit(text: str) -> str:
    """A CEL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _strings(items: Iterable[str]) -> str:
    return "[" + ", ".join(lit(i) for i in items) + "]"


# -- Python's upper() on the characters that become ASCII ----------------------------------

_UPPER_TO_ASCII: dict[str, str] = {
    ch: ch.upper() for ch in map(chr, (0xDF, 0x131, 0x17F, 0xFB00, 0xFB01, 0xFB02, 0xFB03, 0xFB04, 0xFB05, 0xFB06))
}
"""Every non-ASCII character whose str.upper() is ASCII (checked by a test over all of Unicode)."""


def _spelled(target: str) -> str:
    """RE2 for the strings whose Python ``upper()`` is exactly ``target`` (A-Z and _)."""
    memo: dict[int, str] = {}

    def at(i: int) -> str:
        if i == len(target):
            return ""
        if i not in memo:
            ch = target[i]
            singles = [ch, ch.lower()] if ch.isalpha() else [ch]
            singles += [c for c, up in _UPPER_TO_ASCII.items() if up == ch]
            first = ("[" + "".join(_re_char(c) for c in singles) + "]" if len(singles) > 1 else _re_char(ch)) + at(
                i + 1
            )
            multi = [
                _re_char(c) + at(i + len(up))
                for c, up in _UPPER_TO_ASCII.items()
                if len(up) > 1 and target.startswith(up, i)
            ]
            memo[i] = first if not multi else "(?:" + "|".join([first, *multi]) + ")"
        return memo[i]

    return at(0)


def _re_char(c: str) -> str:
    return c if c.isascii() else f"\\x{{{ord(c):x}}}"


def capability_pattern(names: Iterable[str]) -> str:
    """RE2 matching the capability spellings podsec's ``strip().upper().removeprefix("CAP_")`` maps into ``names``."""
    alternatives = "|".join(_spelled(n) for n in sorted(names))
    return f"^{_SPACE}*(?:{_spelled('CAP_')})?(?:{alternatives}){_SPACE}*$"


# -- fragments ------------------------------------------------------------------------


def _name(c: str = "c") -> str:
    return f"{c}.?name.orValue('')"


def _container(detail: str) -> str:
    """``container "<name>" <detail>`` for the container ``c`` (detail is CEL)."""
    return f"{_C} + {detail}"


def _own(field: str) -> str:
    return f"c.?securityContext.?{field}"


def _effective(field: str) -> str:
    """The container's value, else the pod's, else null."""
    return f"({_own(field)}.hasValue() ? c.securityContext.{field} : variables.psc.?{field}.orValue(null))"


def _source(field: str) -> str:
    return f"({_own(field)}.hasValue() ? 'container' : 'pod')"


def _per_container(details: str) -> str:
    """Details (a CEL list of strings over ``c``) of every container, flattened, in container order."""
    return f"variables.all.map(c, ({details}).join('; ')).filter(s, s != '')"


def _num(value: str) -> str:
    return f"string(int({value}))"


def _id_problems(field: str, value: str, who: str) -> str:
    return (
        f"({value} >= 0 && {value} <= {_MAX_ID} ? [] : "
        f"[{who} + '{field}=' + {_num(value)} + ': must be between 0 and {_MAX_ID}, inclusive'])"
    )


def _profile_problems(obj: str, kind: str, who: str) -> str:
    """apiInvalidProfile's problems of one seccompProfile/appArmorProfile ``obj`` (present)."""
    label = "seccomp" if kind == "seccompProfile" else "AppArmor"
    t = f"{obj}.?type.orValue('')"
    supported = lit('": supported values: ' + ", ".join(f'"{p}"' for p in _PROFILE_TYPES))
    return (
        f"[{t}].map(t, (t == '' ? [{who} + '{kind}.type: Required value'] : "
        f"!(t in {_strings(_PROFILE_TYPES)}) ? [{who} + '{kind}.type: Unsupported value: \"' + t + "
        f"{supported}] : []) + "
        f"(t == 'Localhost' && {obj}.?localhostProfile.orValue('') == '' ? "
        f"[{who} + '{kind}.localhostProfile: Required value: must be set when {label} type is Localhost'] : []) + "
        f"(!(t in ['Localhost', '']) && {obj}.?localhostProfile.hasValue() ? "
        f"[{who} + '{kind}.localhostProfile: can only be set when {label} type is Localhost'] : []))[0]"
    )


_POD = "'pod '"
_C = f"'container ' + [{pss_cel.label()}].map(n, {pss_cel.display()})[0] + ' '"
_CONTAINER_FIELD = (
    " in its securityContext, where it does nothing: it is a container field; move it to every container's "
    "securityContext"
)
_UNMASKED = 'procMount: Invalid value: "Unmasked": `hostUsers` must be false to use `Unmasked`'
_PROC_SUPPORTED = lit('": supported values: "Default", "Unmasked"')
_READ_ONLY = "c.?securityContext.?readOnlyRootFilesystem"
_READ_ONLY_STATE = (
    f"({_READ_ONLY}.hasValue() ? 'sets readOnlyRootFilesystem=false' : 'does not set readOnlyRootFilesystem=true')"
)


# -- the checks -----------------------------------------------------------------------


def _escalation(_: Mapping[str, int | str]) -> str:
    privileged = "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"
    sys_admin = "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"
    details = (
        f"({_own('allowPrivilegeEscalation')}.orValue(true) == false ? "
        f"({_own('privileged')}.orValue(false) == true ? [{_container(lit(privileged))}] : []) + "
        f"{_own('capabilities')}.?add.orValue([]).filter(a, a == 'CAP_SYS_ADMIN').map(a, {_container(lit(sys_admin))})"
        " : [])"
    )
    return _per_container(details)


def _non_root_uid0(_: Mapping[str, int | str]) -> str:
    detail = (
        f"'has runAsNonRoot=true (' + {_source('runAsNonRoot')} + ') and runAsUser=0 (' + "
        f"{_source('runAsUser')} + '): the kubelet will refuse to start it'"
    )
    return _per_container(
        f"({_effective('runAsNonRoot')} == true && {_effective('runAsUser')} == 0 ? [{_container(detail)}] : [])"
    )


def _misplaced(_: Mapping[str, int | str]) -> str:
    pod = f"{_strings(_CONTAINER_ONLY)}.filter(n, n in variables.psc).map(n, 'pod sets ' + n + {lit(_CONTAINER_FIELD)})"
    containers = _per_container(
        f"{_strings(_POD_ONLY)}.filter(n, n in c.?securityContext.orValue({{}})).map(n, {_C} + 'sets ' + n + "
        "' in its securityContext, where it does nothing: it is a pod field; move it to spec.securityContext')"
    )
    return f"{pod} + {containers}"


def _ids(_: Mapping[str, int | str]) -> str:
    pod = " + ".join(
        f"(has(variables.psc.{f}) ? {_id_problems(f, f'variables.psc.{f}', _POD)} : [])"
        for f in ("runAsUser", "runAsGroup", "fsGroup")
    )
    groups = (
        "variables.psc.?supplementalGroups.orValue([]).filter(g, g != null).map(g, "
        f"g >= 0 && g <= {_MAX_ID} ? '' : 'pod supplementalGroups=' + {_num('g')} + "
        f"': must be between 0 and {_MAX_ID}, inclusive').filter(s, s != '')"
    )
    containers = _per_container(
        " + ".join(
            f"({_own(f)}.hasValue() ? {_id_problems(f, f'c.securityContext.{f}', _C)} : [])"
            for f in ("runAsUser", "runAsGroup")
        )
    )
    return f"{pod} + {groups} + {containers}"


def _profiles(_: Mapping[str, int | str]) -> str:
    pod = " + ".join(
        f"(has(variables.psc.{k}) ? {_profile_problems(f'variables.psc.{k}', k, _POD)} : [])"
        for k in ("seccompProfile", "appArmorProfile")
    )
    proc = (
        f"({_own('procMount')}.hasValue() && !(c.securityContext.procMount in ['Default', 'Unmasked']) ? "
        f"""[{_C} + 'procMount: Unsupported value: "' + c.securityContext.procMount + {_PROC_SUPPORTED}] : """
        f"{_own('procMount')}.orValue('') == 'Unmasked' && variables.spec.?hostUsers.orValue(null) != false ? "
        f"[{_C} + {lit(_UNMASKED)}] : [])"
    )
    containers = _per_container(
        " + ".join(
            f"({_own(k)}.hasValue() ? {_profile_problems(f'c.securityContext.{k}', k, _C)} : [])"
            for k in ("seccompProfile", "appArmorProfile")
        )
        + f" + {proc}"
    )
    return f"{pod} + {containers}"


def _os_fields(_: Mapping[str, int | str]) -> str:
    windows = ": Forbidden: cannot be set for a windows pod"
    linux = ": Forbidden: windows options cannot be set for a linux pod"
    on_windows = (
        f"{_strings(_POD_LINUX_ONLY)}.filter(f, f in variables.psc).map(f, 'pod sets ' + f + {lit(windows)}) + "
        f"(has(variables.spec.shareProcessNamespace) ? ['pod sets shareProcessNamespace{windows}'] : []) + "
        + _per_container(
            f"{_strings(_CONTAINER_LINUX_ONLY)}.filter(f, f in c.?securityContext.orValue({{}}))"
            f".map(f, {_C} + 'sets ' + f + {lit(windows)})"
        )
    )
    on_linux = f"('windowsOptions' in variables.psc ? ['pod sets windowsOptions{linux}'] : []) + " + _per_container(
        f"({_own('windowsOptions')}.hasValue() ? [{_C} + 'sets windowsOptions{linux}'] : [])"
    )
    return f"(variables.os == 'windows' ? {on_windows} : variables.os == 'linux' ? {on_linux} : [])"


def _share_host_pid(_: Mapping[str, int | str]) -> str:
    return (
        "(variables.spec.?shareProcessNamespace.orValue(false) == true && "
        "variables.spec.?hostPID.orValue(false) == true ? ['pod sets shareProcessNamespace and hostPID: "
        "ShareProcessNamespace and HostPID cannot both be enabled'] : [])"
    )


def _pod_context(_: Mapping[str, int | str]) -> str:
    return "('securityContext' in variables.spec ? [] : ['pod has no securityContext'])"


def _container_context(_: Mapping[str, int | str]) -> str:
    return _per_container(f"('securityContext' in c ? [] : [{_container(lit('has no securityContext of its own'))}])")


def _read_only(_: Mapping[str, int | str]) -> str:
    return _per_container(
        f"({_own('readOnlyRootFilesystem')}.orValue(false) == true ? [] : [{_container(_READ_ONLY_STATE)}])"
    )


def _root_group(_: Mapping[str, int | str]) -> str:
    return (
        "(variables.psc.?runAsGroup.orValue(1) == 0 ? ['pod sets runAsGroup=0'] : []) + "
        "(variables.psc.?fsGroup.orValue(1) == 0 ? ['pod sets fsGroup=0'] : []) + "
        "variables.psc.?supplementalGroups.orValue([]).filter(g, g == 0)"
        ".map(g, 'pod lists group 0 in supplementalGroups') + "
        + _per_container(f"({_own('runAsGroup')}.orValue(1) == 0 ? [{_container(lit('sets runAsGroup=0'))}] : [])")
    )


def _uid_minimum(options: Mapping[str, int | str]) -> str:
    least = int(options["minimum"])
    return (
        f"(variables.psc.?runAsUser.orValue({least}) < {least} ? "
        f"['pod sets runAsUser=' + {_num('variables.psc.runAsUser')} + ', below {least}'] : []) + "
        + _per_container(
            f"({_own('runAsUser')}.orValue({least}) < {least} ? "
            f"[{_C} + 'sets runAsUser=' + {_num('c.securityContext.runAsUser')} + ', below {least}'] : [])"
        )
    )


def _windows_admin(_: Mapping[str, int | str]) -> str:
    admin = ".?runAsUserName.orValue('').lowerAscii() == 'containeradministrator'"
    return f"(variables.psc.?windowsOptions{admin} ? ['pod runs as ContainerAdministrator'] : []) + " + _per_container(
        f"({_own('windowsOptions')}{admin} ? [{_container(lit('runs as ContainerAdministrator'))}] : [])"
    )


def _automount(_: Mapping[str, int | str]) -> str:
    return (
        "(variables.spec.?automountServiceAccountToken.orValue(true) == false ? [] : "
        "[variables.spec.?automountServiceAccountToken.hasValue() ? 'pod sets automountServiceAccountToken=true' : "
        "'pod does not set automountServiceAccountToken=false'])"
    )


def _dangerous(_: Mapping[str, int | str]) -> str:
    pattern = lit(capability_pattern(dangerous_capabilities.DANGEROUS))
    return _per_container(
        f"{_own('capabilities')}.?add.orValue([]).filter(a, a != null && a.matches({pattern}))"
        f""".map(a, {_C} + 'adds "' + a + '"')"""
    )


def _drop_case(_: Mapping[str, int | str]) -> str:
    pattern = lit(capability_pattern(["ALL"]))
    return _per_container(
        f"{_own('capabilities')}.?drop.orValue([]).filter(a, a != null && a != 'ALL' && a.matches({pattern}))"
        f""".map(a, {_C} + 'drops "' + a + '" instead of "ALL"')"""
    )


def _share(_: Mapping[str, int | str]) -> str:
    return (
        "(variables.spec.?shareProcessNamespace.orValue(false) == true ? ['pod sets shareProcessNamespace=true'] : [])"
    )


def _user_namespace(_: Mapping[str, int | str]) -> str:
    return (
        "(variables.spec.?hostUsers.orValue(true) == false ? [] : "
        '["pod runs in the host\'s user namespace: hostUsers is not false"])'
    )


def _windows_os_name(_: Mapping[str, int | str]) -> str:
    return (
        "(variables.winsched ? ['pod runs on Windows nodes (nodeSelector ' + variables.nodeos[0] + "
        "': windows) but does not set spec.os.name: windows'] : [])"
    )


def _confinement(_: Mapping[str, int | str]) -> str:
    note = f"variables.meta.?annotations.orValue({{}})[?{lit(isolation._APPARMOR_ANNOTATION)} + {_name()}].orValue('')"
    confined = (
        f"[{_effective('seccompProfile')}, {_effective('appArmorProfile')}]"
        f".exists(p, p != null && p.?type.orValue('') in {_CONFINING}) || "
        f"[{note}].exists(n, n == 'runtime/default' || n.startsWith('localhost/')) || "
        f"{_effective('seLinuxOptions')} != null"
    )
    return _per_container(f"({confined} ? [] : [{_container(lit('chooses no seccomp, AppArmor or SELinux profile'))}])")


DETAILS: dict[str, Callable[[Mapping[str, int | str]], str]] = {
    api_validation.ESCALATION.id: _escalation,
    api_validation.NON_ROOT_UID0.id: _non_root_uid0,
    api_validation.MISPLACED.id: _misplaced,
    api_validation.IDS.id: _ids,
    api_validation.PROFILES.id: _profiles,
    api_validation.OS_FIELDS.id: _os_fields,
    api_validation.SHARE_HOST_PID.id: _share_host_pid,
    "podSecurityContextMissing": _pod_context,
    "containerSecurityContextMissing": _container_context,
    "readOnlyRootFilesystem": _read_only,
    "rootGroup": _root_group,
    "runAsUserMinimum": _uid_minimum,
    "windowsAdministrator": _windows_admin,
    identity.WINDOWS_OS_NAME.id: _windows_os_name,
    "automountServiceAccountToken": _automount,
    dangerous_capabilities.DANGEROUS_CHECK.id: _dangerous,
    dangerous_capabilities.DROP_CASE.id: _drop_case,
    isolation.SHARE_PROCESS_NAMESPACE.id: _share,
    isolation.USER_NAMESPACE.id: _user_namespace,
    isolation.CONFINEMENT.id: _confinement,
}
"""check id -> the CEL list of its details (in podsec's order) for the given options."""


_NODE_OS = "".join(  # string(...): Kubernetes refuses list literals of mixed types ([string, dyn])
    f"type(s[?{lit(label)}].orValue(null)) == string ? [{lit(label)}, string(s[{lit(label)}])] : "
    for label in podmodel.NODE_OS_LABELS
)
VARIABLES = (
    {"name": "os", "expression": "variables.spec.?os.?name.orValue('')"},
    # [label, value] of the nodeSelector's OS label podsec reads (model.pod.PodView.node_os), or []
    {
        "name": "nodeos",
        "expression": f"[variables.spec.?nodeSelector.orValue(null)].map(s, type(s) == map ? ({_NODE_OS}[]) : [])[0]",
    },
    # PodView.scheduled_on_windows: Windows by nodeSelector only
    {
        "name": "winsched",
        "expression": "!variables.spec.?os.?name.hasValue() && size(variables.nodeos) == 2 && "
        "variables.nodeos[1] == 'windows'",
    },
)
"""The variables the checks read besides the pod's parts (generated before them)."""


def expression(check: Check, options: Mapping[str, int | str]) -> str:
    """``''`` when the pod passes ``check``, else podsec's ``reason (details)``."""
    reason = check.describe(())[0]
    details = DETAILS[check.id]({**check.options, **options})
    message = f"[{details}].map(d, size(d) == 0 ? '' : {lit(reason + ' (')} + d.join('; ') + ')')[0]"
    if check.platform is Platform.LINUX:  # not for Windows pods, whether they say so or only select Windows nodes
        return f"variables.os == 'windows' || variables.winsched ? '' : {message}"
    if check.platform is Platform.WINDOWS:
        return f"variables.os == 'linux' ? '' : {message}"
    return message
