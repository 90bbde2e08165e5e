"""The rules of the analyses beyond the pod, listed explicitly (no import-time magic): network
isolation and PodSecurityPolicies (the ``hardened`` profile of `podsec scan`, evaluated by
`podsec.beyond`) and who may do what (`podsec rbac`). They are `Rule`s, not checks: nothing of
theirs runs on pods."""

from __future__ import annotations

from podsec.analysis.rules import access, legacy, network
from podsec.analysis.rules._rule import BeyondRule, Scope

__all__ = ["ALL_RULES", "BeyondRule", "Scope", "find", "get"]

ALL_RULES: tuple[BeyondRule, ...] = (
    network.DEFAULT_DENY_INGRESS,
    network.DEFAULT_DENY_EGRESS,
    network.ALLOW_ALL_INGRESS,
    network.ALLOW_ALL_EGRESS,
    legacy.POD_SECURITY_POLICY,
    # podsec rbac
    access.PRIVILEGED_PODS,
    access.EXEC,
    access.ESCALATE,
    access.IMPERSONATE,
)

_BY_ID = {rule.id: rule for rule in ALL_RULES}


def find(rule_id: str) -> BeyondRule | None:
    return _BY_ID.get(rule_id)


def get(rule_id: str) -> BeyondRule:
    try:
        return _BY_ID[rule_id]
    except KeyError:
        raise KeyError(f'no such rule: "{rule_id}"') from None
