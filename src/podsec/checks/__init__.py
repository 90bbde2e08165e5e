"""The check registry: every built-in pod check, listed explicitly (no import-time magic).

The rules about other objects than pods are not checks: see `podsec.analysis.rules`."""

from __future__ import annotations

from dataclasses import replace

from podsec.checks import (
    api_validation,
    app_armor,
    capabilities,
    context_presence,
    dangerous_capabilities,
    filesystem,
    host_namespaces,
    host_ports,
    host_probes,
    identity,
    isolation,
    privilege_escalation,
    privileged,
    proc_mount,
    pss_examples,
    run_as_non_root,
    run_as_user,
    se_linux,
    seccomp,
    service_account,
    sysctls,
    volumes,
    windows_host_process,
)
from podsec.checks._base import Check, CheckLevel, Example, Owner, Platform, Revision, Rule, Severity, Violation
from podsec.checks._fix import AddToList, Edit, Fix, FixOptions, Remove, Replace, Safety, SetDefault
from podsec.checks._helpers import go_quote

__all__ = [
    "ALL_CHECKS",
    "AddToList",
    "Check",
    "CheckLevel",
    "Edit",
    "Example",
    "Fix",
    "FixOptions",
    "Owner",
    "Platform",
    "Remove",
    "Replace",
    "Revision",
    "Rule",
    "Safety",
    "SetDefault",
    "Severity",
    "Violation",
    "find",
    "get",
    "go_quote",
]

_DEFINED: tuple[Check, ...] = (
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
    # podsec's own checks (the hardened profile), in documentation order
    api_validation.ESCALATION,
    api_validation.NON_ROOT_UID0,
    api_validation.MISPLACED,
    api_validation.IDS,
    api_validation.PROFILES,
    api_validation.OS_FIELDS,
    api_validation.SHARE_HOST_PID,
    context_presence.POD,
    context_presence.CONTAINER,
    filesystem.CHECK,
    identity.ROOT_GROUP,
    identity.UID_MINIMUM,
    identity.WINDOWS_ADMIN,
    identity.WINDOWS_OS_NAME,
    service_account.CHECK,
    dangerous_capabilities.DANGEROUS_CHECK,
    dangerous_capabilities.DROP_CASE,
    isolation.SHARE_PROCESS_NAMESPACE,
    isolation.USER_NAMESPACE,
    isolation.CONFINEMENT,
)

ALL_CHECKS: tuple[Check, ...] = tuple(
    replace(c, example=pss_examples.EXAMPLES[c.id]) if c.example is None and c.id in pss_examples.EXAMPLES else c
    for c in _DEFINED
)

_BY_ID = {check.id: check for check in ALL_CHECKS}


def find(check_id: str) -> Check | None:
    return _BY_ID.get(check_id)


def get(check_id: str) -> Check:
    try:
        return _BY_ID[check_id]
    except KeyError:
        raise KeyError(f'no such check: "{check_id}"') from None
