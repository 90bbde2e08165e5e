"""The check registry: every built-in check, listed explicitly (no import-time magic)."""

from __future__ import annotations

from podsec.checks import (
    app_armor,
    capabilities,
    host_namespaces,
    host_ports,
    host_probes,
    privilege_escalation,
    privileged,
    proc_mount,
    run_as_non_root,
    run_as_user,
    se_linux,
    seccomp,
    sysctls,
    volumes,
    windows_host_process,
)
from podsec.checks._base import Check

ALL_CHECKS: tuple[Check, ...] = (
    app_armor.CHECK,
    capabilities.BASELINE,
    host_namespaces.CHECK,
    volumes.HOST_PATH,
    host_ports.CHECK,
    host_probes.CHECK,
    privileged.CHECK,
    proc_mount.BASELINE,
    se_linux.CHECK,
    seccomp.BASELINE,
    sysctls.CHECK,
    windows_host_process.CHECK,
    privilege_escalation.CHECK,
    capabilities.RESTRICTED,
    proc_mount.RESTRICTED,
    volumes.RESTRICTED,
    run_as_non_root.CHECK,
    run_as_user.CHECK,
    seccomp.RESTRICTED,
)

_BY_ID = {check.id: check for check in ALL_CHECKS}


def get(check_id: str) -> Check:
    try:
        return _BY_ID[check_id]
    except KeyError:
        raise KeyError(f'no such check: "{check_id}"') from None
