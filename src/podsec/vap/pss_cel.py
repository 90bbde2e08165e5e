"""The Pod Security Standards as CEL: every check of pss-spec.md, at every version.

`checks(level, full)` gives, in PSA's order, (check id, CEL) pairs; each expression is
``''`` when the pod passes and PSA's ``reason (detail)`` when it fails. The pod is read
from ``variables.spec``, ``variables.meta``, ``variables.psc`` (the pod security
context or ``{}``) and ``variables.all`` (init, regular and ephemeral containers, in that
order); ``variables.v`` is the minor version evaluated. Version gates are CEL
conditions on ``variables.v``, so one policy serves every version a namespace asks for.

``full`` says whether the target API server has the list extension (``sort``,
``distinct``, ``flatten``; Kubernetes 1.35 and later, whose CEL is that of 1.34): only
then are message lists sorted and free of duplicates exactly as PSA writes them.
Verdicts never depend on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks.capabilities import BASELINE_ALLOWED as _CAPS_BASELINE
from podsec.checks.sysctls import ALLOWED_BY_VERSION as _SYSCTLS
from podsec.checks.volumes import ALLOWED_SOURCES

_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
_SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER = "container.seccomp.security.alpha.kubernetes.io/"
_ALLOWED_VOLUMES = tuple(sorted(ALLOWED_SOURCES))
_RESTRICTED_VOLUMES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)
_VOLUME_NAMES = ".map(v, v.?name.orValue(''))"
_SELINUX_TYPES = ("", "container_t", "container_init_t", "container_kvm_t")


LABELS = (
    "variables.all.map(c, c.?name.orValue('') != '' ? c.name : '#' + string([variables.spec.?initContainers"
    ".orValue([]), variables.spec.?containers.orValue([]), variables.spec.?ephemeralContainers.orValue([])]"
    ".map(l, l.indexOf(c)).filter(i, i >= 0)[0] + 1) + ' (unnamed)')"
)
"""CEL for ``variables.labels``: each container of ``variables.all`` named as podsec names it
(`podsec.model.pod.Unnamed`): its name, or ``#N (unnamed)`` with N its place in its own list (by
indexOf: identical unnamed containers in two lists get the first list's place). The API server
requires names, so only manifests read offline have unnamed containers."""


def label(c: str = "c") -> str:
    """CEL for the `LABELS` entry of a container ``c`` of ``variables.all``."""
    return f"({c}.?name.orValue('') != '' ? {c}.name : variables.labels[variables.all.indexOf({c})])"


def display(n: str = "n") -> str:
    """CEL quoting a `label` as podsec's messages do: a name in double quotes, ``#N (unnamed)`` as it is."""
    return f"""({n}.startsWith('#') && {n}.endsWith(' (unnamed)') ? {n} : '"' + {n} + '"')"""


def _lit(items: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{i}'" for i in items) + "]"


class _Cel:
    """CEL fragments for PSA's message helpers."""

    def __init__(self, full: bool) -> None:
        self.full = full

    def sd(self, lst: str) -> str:
        """Sorted, without duplicates (as written when the list extension is missing)."""
        return f"{lst}.distinct().sort()" if self.full else lst

    @staticmethod
    def q(lst: str) -> str:
        return f"""{lst}.map(n, '"' + string(n) + '"').join(', ')"""

    @staticmethod
    def plural(lst: str, one: str, many: str) -> str:
        return f"(size({lst}) == 1 ? '{one}' : '{many}')"

    @staticmethod
    def qc(lst: str) -> str:
        """qlist of container labels (`label`)."""
        return f"{lst}.map(n, {display()}).join(', ')"

    def containers(self, lst: str) -> str:
        """``container(s) "a", "b"`` for a list of containers."""
        names = f"{lst}.map(c, {label()})"
        return f"{self.plural(lst, 'container ', 'containers ')} + {self.qc(names)}"

    def who(self, pod: str, lst: str) -> str:
        return f"[{pod} ? 'pod' : '', size({lst}) > 0 ? {self.containers(lst)} : ''].filter(s, s != '').join(' and ')"

    def flat_q(self, outer: str, inner: str) -> str:
        """qlist of the sorted distinct items of ``inner`` (over ``c``) for every ``c`` of ``outer``."""
        if self.full:
            return self.q(f"{outer}.map(c, {inner}).flatten().distinct().sort()")
        return f"{outer}.map(c, {self.q(inner)}).filter(s, s != '').join(', ')"


def _sc(c: str, *fields: str) -> str:
    return c + ".?securityContext" + "".join(f".?{f}" for f in fields)


def checks(level: str, full: bool) -> list[tuple[str, str]]:
    """(check id, CEL) for ``level`` (baseline or restricted), in PSA's order, version-gated."""
    x = _Cel(full)
    restricted = level == "restricted"
    out: list[tuple[str, str]] = []

    # appArmorProfile (v1.0+, fields at every version)
    ok_aa = "['RuntimeDefault', 'Localhost']"
    pod_aa = (
        f"(variables.psc.?appArmorProfile.hasValue() && !(variables.psc.appArmorProfile.?type.orValue('') in {ok_aa}))"
    )
    c_aa = f"variables.all.filter(c, {_sc('c', 'appArmorProfile')}.hasValue() && !(c.securityContext.appArmorProfile.?type.orValue('') in {ok_aa}))"
    anns = "variables.meta.?annotations.orValue({})"
    bad_keys = (
        f"{anns}.filter(k, k.startsWith('{_APPARMOR_ANNOTATION}') && !({anns}[k] == '' || {anns}[k] == 'runtime/default'"
        f" || {anns}[k].startsWith('localhost/')))"
    )
    types = f"((({pod_aa}) ? [variables.psc.appArmorProfile.?type.orValue('')] : []) + {c_aa}.map(c, c.securityContext.appArmorProfile.?type.orValue('')))"
    values = f"({x.sd(types)} + {x.sd(f'{bad_keys}.map(k, k + {chr(39)}={chr(34)}{chr(39)} + {anns}[k] + {chr(39)}{chr(34)}{chr(39)})')})"
    who_aa = (
        f"[{pod_aa} ? 'pod' : '', size({c_aa}) > 0 ? {x.containers(c_aa)} : '', "
        f"size({bad_keys}) > 0 ? {x.plural(bad_keys, 'annotation', 'annotations')} : ''].filter(s, s != '').join(' and ')"
    )
    out.append(
        (
            "appArmorProfile",
            f"size({values}) == 0 ? '' : 'forbidden AppArmor profile' + (size({values}) > 1 ? 's' : '') + ' (' + {who_aa}"
            f" + ' must not set AppArmor profile type to ' + {x.q(values)} + ')'",
        )
    )

    # capabilities_baseline (v1.0+; at restricted, replaced from v1.22)
    allowed = _lit(sorted(_CAPS_BASELINE))
    adds = _sc("c", "capabilities", "add") + ".orValue([])"
    c_caps = f"variables.all.filter(c, {adds}.exists(a, !(a in {allowed})))"
    cap_msg = (
        f"size({c_caps}) == 0 ? '' : 'non-default capabilities (' + {x.containers(c_caps)} + ' must not include ' + "
        f"{x.flat_q(c_caps, f'c.securityContext.capabilities.add.filter(a, !(a in {allowed}))')}"
        " + ' in securityContext.capabilities.add)'"
    )
    out.append(("capabilities_baseline", f"variables.v >= 22 ? '' : ({cap_msg})" if restricted else cap_msg))

    # hostNamespaces
    items = (
        "[variables.spec.?hostNetwork.orValue(false) == true ? 'hostNetwork=true' : '', "
        "variables.spec.?hostPID.orValue(false) == true ? 'hostPID=true' : '', "
        "variables.spec.?hostIPC.orValue(false) == true ? 'hostIPC=true' : ''].filter(s, s != '')"
    )
    out.append(("hostNamespaces", f"size({items}) == 0 ? '' : 'host namespaces (' + {items}.join(', ') + ')'"))

    # hostPathVolumes (baseline level only)
    if not restricted:
        vols = "variables.spec.?volumes.orValue([]).filter(v, has(v.hostPath))"
        out.append(
            (
                "hostPathVolumes",
                f"size({vols}) == 0 ? '' : 'hostPath volumes (' + {x.plural(vols, 'volume ', 'volumes ')} + "
                f"{x.q(vols + _VOLUME_NAMES)} + ')'",
            )
        )

    # hostPorts
    host_port = "p.?hostPort.orValue(0) != 0"
    c_ports = f"variables.all.filter(c, c.?ports.orValue([]).exists(p, {host_port}))"
    ports = f"c.ports.filter(p, {host_port}).map(p, string(p.hostPort))"
    if full:
        port_list = f"{c_ports}.map(c, {ports}).flatten().distinct().sort().join(', ')"
        port_count = f"size({c_ports}.map(c, {ports}).flatten().distinct())"
    else:
        port_list = f"{c_ports}.map(c, {ports}.join(', ')).join(', ')"
        port_count = f"{c_ports}.map(c, size({ports})).exists(n, n > 1) || size({c_ports}) > 1 ? 2 : 1"
    out.append(
        (
            "hostPorts",
            f"size({c_ports}) == 0 ? '' : 'hostPort (' + {x.containers(c_ports)} + "
            f"{x.plural(c_ports, ' uses ', ' use ')} + (({port_count}) == 1 ? 'hostPort ' : 'hostPorts ') + "
            f"{port_list} + ')'",
        )
    )

    # hostProbesAndHostLifecycle (v1.34+)
    handlers = [f"c.?{p}" for p in ("livenessProbe", "readinessProbe", "startupProbe")]
    handlers += ["c.?lifecycle.?postStart", "c.?lifecycle.?preStop"]
    hosts = "[" + ", ".join(f"{h}.?{a}.?host.orValue('')" for h in handlers for a in ("httpGet", "tcpSocket")) + "]"
    hosts = f"{hosts}.filter(h, h != '')"
    c_hosts = f"variables.all.filter(c, size({hosts}) > 0)"
    names = x.sd(f"{c_hosts}.map(c, {label()})")
    host_list = (
        f"{c_hosts}.map(c, {hosts}).flatten().distinct().sort()" if full else f"{c_hosts}.map(c, {hosts}.join(', '))"
    )
    host_text = x.q(host_list) if full else f"{c_hosts}.map(c, {x.q(hosts)}).join(', ')"
    out.append(
        (
            "hostProbesAndHostLifecycle",
            f"variables.v < 34 || size({c_hosts}) == 0 ? '' : 'probe or lifecycle host (' + "
            f"{x.plural(names, 'container ', 'containers ')} + {x.qc(names)} + {x.plural(names, ' uses ', ' use ')} + "
            f"{x.plural(host_list, 'probe or lifecycle host ', 'probe or lifecycle hosts ')} + {host_text} + ')'",
        )
    )

    # privileged
    c_priv = f"variables.all.filter(c, {_sc('c', 'privileged')}.orValue(false) == true)"
    out.append(
        (
            "privileged",
            f"size({c_priv}) == 0 ? '' : 'privileged (' + {x.containers(c_priv)} + ' must not set securityContext.privileged=true)'",
        )
    )

    # procMount (baseline; relaxed for user-namespace pods from v1.35; at restricted, replaced from v1.35)
    c_proc = f"variables.all.filter(c, {_sc('c', 'procMount')}.hasValue() && c.securityContext.procMount != 'Default')"
    proc_msg = (
        f"size({c_proc}) == 0 ? '' : 'procMount (' + {x.containers(c_proc)} + ' must not set securityContext.procMount to ' + "
        f"{x.q(x.sd(f'{c_proc}.map(c, c.securityContext.procMount)'))} + ')'"
    )
    userns = "variables.spec.?hostUsers.orValue(true) == false"
    if restricted:
        out.append(("procMount", f"variables.v >= 35 ? '' : ({proc_msg})"))
    else:
        out.append(("procMount", f"variables.v >= 35 && {userns} ? '' : ({proc_msg})"))

    # seLinuxOptions
    se_types = f"(variables.v >= 31 ? {_lit((*_SELINUX_TYPES, 'container_engine_t'))} : {_lit(_SELINUX_TYPES)})"
    invalid = f"(!(o.?type.orValue('') in {se_types}) || o.?user.orValue('') != '' || o.?role.orValue('') != '')"
    pod_se = f"(variables.psc.?seLinuxOptions.hasValue() && [variables.psc.seLinuxOptions].exists(o, {invalid}))"
    c_se = f"variables.all.filter(c, {_sc('c', 'seLinuxOptions')}.hasValue() && [c.securityContext.seLinuxOptions].exists(o, {invalid}))"
    objs = f"(({pod_se}) ? [variables.psc.seLinuxOptions] : []) + {c_se}.map(c, c.securityContext.seLinuxOptions)"
    bad_types = x.sd(f"({objs}).filter(o, !(o.?type.orValue('') in {se_types})).map(o, o.?type.orValue(''))")
    what = (
        f"[size({bad_types}) > 0 ? {x.plural(bad_types, 'type ', 'types ')} + {x.q(bad_types)} : '', "
        f"({objs}).exists(o, o.?user.orValue('') != '') ? 'user may not be set' : '', "
        f"({objs}).exists(o, o.?role.orValue('') != '') ? 'role may not be set' : ''].filter(s, s != '').join('; ')"
    )
    out.append(
        (
            "seLinuxOptions",
            f"!({pod_se}) && size({c_se}) == 0 ? '' : 'seLinuxOptions (' + {x.who(pod_se, c_se)} + "
            f"' set forbidden securityContext.seLinuxOptions: ' + {what} + ')'",
        )
    )

    # seccompProfile_baseline (annotations to v1.18, fields from v1.19; at restricted, replaced from v1.19)
    ok_value = "(a == 'runtime/default' || a == 'docker/default' || a.startsWith('localhost/'))"
    keys = f"['{_SECCOMP_POD}'] + variables.all.map(c, '{_SECCOMP_CONTAINER}' + c.?name.orValue(''))"
    bad_ann = f"({keys}).filter(k, k in {anns} && ![{anns}[k]].exists(a, {ok_value}))"
    entries = x.sd(f"{bad_ann}.map(k, k + '=\"' + {anns}[k] + '\"')")
    annotations_msg = (
        f"size({bad_ann}) == 0 ? '' : 'seccompProfile (' + {x.plural(entries, 'forbidden annotation ', 'forbidden annotations ')}"
        f" + {entries}.join(', ') + ')'"
    )
    ok_sc = "['RuntimeDefault', 'Localhost']"
    pod_sp = (
        f"(variables.psc.?seccompProfile.hasValue() && !(variables.psc.seccompProfile.?type.orValue('') in {ok_sc}))"
    )
    c_sp = f"variables.all.filter(c, {_sc('c', 'seccompProfile')}.hasValue() && !(c.securityContext.seccompProfile.?type.orValue('') in {ok_sc}))"
    sp_types = x.sd(
        f"((({pod_sp}) ? [variables.psc.seccompProfile.?type.orValue('')] : []) + "
        f"{c_sp}.map(c, c.securityContext.seccompProfile.?type.orValue('')))"
    )
    fields_bad = (
        f"'seccompProfile (' + {x.who(pod_sp, c_sp)} + ' must not set securityContext.seccompProfile.type to ' + "
        f"{x.q(sp_types)} + ')'"
    )
    fields_msg = f"!({pod_sp}) && size({c_sp}) == 0 ? '' : {fields_bad}"
    baseline_seccomp = f"variables.v < 19 ? ({annotations_msg}) : ({fields_msg})"
    out.append(
        ("seccompProfile_baseline", f"variables.v >= 19 ? '' : ({annotations_msg})" if restricted else baseline_seccomp)
    )

    # sysctls
    allowed_sysctls = " + ".join(f"(variables.v >= {since[1]} ? {_lit(names)} : [])" for since, names in _SYSCTLS)
    bad_sysctls = (
        f"variables.psc.?sysctls.orValue([]).map(s, s.?name.orValue('')).filter(n, !(n in ({allowed_sysctls})))"
    )
    out.append(("sysctls", f"size({bad_sysctls}) == 0 ? '' : 'forbidden sysctls (' + {bad_sysctls}.join(', ') + ')'"))

    # windowsHostProcess
    pod_hp = "(variables.psc.?windowsOptions.?hostProcess.orValue(false) == true)"
    c_hp = f"variables.all.filter(c, {_sc('c', 'windowsOptions', 'hostProcess')}.orValue(false) == true)"
    out.append(
        (
            "windowsHostProcess",
            f"!{pod_hp} && size({c_hp}) == 0 ? '' : 'hostProcess (' + {x.who(pod_hp, c_hp)} + "
            "' must not set securityContext.windowsOptions.hostProcess=true)'",
        )
    )
    if not restricted:
        return out

    windows = "(variables.v >= 25 && variables.spec.?os.?name.orValue('') == 'windows')"
    # allowPrivilegeEscalation (v1.8+)
    c_ape = f"variables.all.filter(c, {_sc('c', 'allowPrivilegeEscalation')}.orValue(true) != false)"
    out.append(
        (
            "allowPrivilegeEscalation",
            f"variables.v < 8 || {windows} || size({c_ape}) == 0 ? '' : 'allowPrivilegeEscalation != false (' + "
            f"{x.containers(c_ape)} + ' must set securityContext.allowPrivilegeEscalation=false)'",
        )
    )
    # capabilities_restricted (v1.22+)
    c_drop = f"variables.all.filter(c, !({_sc('c', 'capabilities', 'drop')}.orValue([]).exists(d, d == 'ALL')))"
    c_add = f"variables.all.filter(c, {adds}.exists(a, a != 'NET_BIND_SERVICE'))"
    parts = (
        f"[size({c_drop}) > 0 ? {x.containers(c_drop)} + ' must set securityContext.capabilities.drop=[\"ALL\"]' : '', "
        f"size({c_add}) > 0 ? {x.containers(c_add)} + ' must not include ' + "
        f"{x.flat_q(c_add, 'c.securityContext.capabilities.add.filter(a, a != ' + chr(39) + 'NET_BIND_SERVICE' + chr(39) + ')')}"
        " + ' in securityContext.capabilities.add' : ''].filter(s, s != '').join('; ')"
    )
    out.append(
        (
            "capabilities_restricted",
            f"variables.v < 22 || {windows} || (size({c_drop}) == 0 && size({c_add}) == 0) ? '' : "
            f"'unrestricted capabilities (' + {parts} + ')'",
        )
    )
    # procMount_restricted (v1.35+)
    out.append(("procMount_restricted", f"variables.v < 35 ? '' : ({proc_msg})"))
    # restrictedVolumes
    bad_vols = (
        f"variables.spec.?volumes.orValue([]).filter(v, !{_lit(_ALLOWED_VOLUMES)}.exists(k, k in v) && "
        f"{_lit(_RESTRICTED_VOLUMES)}.exists(k, k in v))"
    )
    vol_types = x.sd(f"{bad_vols}.map(v, {_lit(_RESTRICTED_VOLUMES)}.filter(k, k in v)[0])")
    out.append(
        (
            "restrictedVolumes",
            f"size({bad_vols}) == 0 ? '' : 'restricted volume types (' + {x.plural(bad_vols, 'volume ', 'volumes ')} + "
            f"{x.q(bad_vols + _VOLUME_NAMES)} + {x.plural(bad_vols, ' uses ', ' use ')} + "
            f"{x.plural(vol_types, 'restricted volume type ', 'restricted volume types ')} + {x.q(vol_types)} + ')'",
        )
    )
    # runAsNonRoot (relaxed for user-namespace pods from v1.35)
    pod_false = "(variables.psc.?runAsNonRoot.orValue(true) == false)"
    pod_true = "(variables.psc.?runAsNonRoot.orValue(false) == true)"
    c_false = f"variables.all.filter(c, {_sc('c', 'runAsNonRoot')}.orValue(true) == false)"
    c_unset = f"variables.all.filter(c, !{_sc('c', 'runAsNonRoot')}.hasValue())"
    out.append(
        (
            "runAsNonRoot",
            f"variables.v >= 35 && {userns} ? '' : {pod_false} || size({c_false}) > 0 ? 'runAsNonRoot != true (' + "
            f"{x.who(pod_false, c_false)} + ' must not set securityContext.runAsNonRoot=false)' : "
            f"!{pod_true} && size({c_unset}) > 0 ? 'runAsNonRoot != true (pod or ' + {x.containers(c_unset)} + "
            "' must set securityContext.runAsNonRoot=true)' : ''",
        )
    )
    # runAsUser (v1.23+, relaxed for user-namespace pods from v1.35)
    pod_root = "(variables.psc.?runAsUser.orValue(1) == 0)"
    c_root = f"variables.all.filter(c, {_sc('c', 'runAsUser')}.orValue(1) == 0)"
    out.append(
        (
            "runAsUser",
            f"variables.v < 23 || (variables.v >= 35 && {userns}) || (!{pod_root} && size({c_root}) == 0) ? '' : "
            f"'runAsUser=0 (' + {x.who(pod_root, c_root)} + ' must not set runAsUser=0)'",
        )
    )
    # seccompProfile_restricted (v1.19+)
    pod_ok = f"(variables.psc.?seccompProfile.hasValue() && variables.psc.seccompProfile.?type.orValue('') in {ok_sc})"
    c_sp_unset = f"variables.all.filter(c, !{_sc('c', 'seccompProfile')}.hasValue())"
    out.append(
        (
            "seccompProfile_restricted",
            f"variables.v < 19 || {windows} ? '' : ({pod_sp}) || size({c_sp}) > 0 ? {fields_bad} : "
            f"!{pod_ok} && size({c_sp_unset}) > 0 ? 'seccompProfile (pod or ' + {x.containers(c_sp_unset)} + "
            "' must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")' : ''",
        )
    )
    return out
