"""Every built-in rule that can report a finding, by id: the pod checks (`podsec.checks`), the
rules beyond the pod (`podsec.analysis.rules`) and the governance rules about exemptions
(`podsec.exemptions`). A run adds its Rego policies' rules."""

from __future__ import annotations

from podsec import exemptions
from podsec.analysis.rules import ALL_RULES
from podsec.checks import ALL_CHECKS, Rule

BUILTIN: tuple[Rule, ...] = (*ALL_CHECKS, *ALL_RULES, *exemptions.GOVERNANCE)
_BY_ID = {r.id: r for r in BUILTIN}
IDS = frozenset(_BY_ID)


def get(rule_id: str) -> Rule:
    try:
        return _BY_ID[rule_id]
    except KeyError:
        raise KeyError(f'no such check: "{rule_id}"') from None
