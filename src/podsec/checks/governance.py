"""Findings about exemptions themselves: expired or unusable ones (reported under every profile).

These are not evaluated on pods; `podsec.evaluate` raises them while applying exemptions.
They are checks so that they have ids, docs and severity overrides like any other.
"""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation

_ANNOTATIONS = (
    "metadata:\n  annotations:\n    podsec.io/exempt: readOnlyRootFilesystem\n"
    "    podsec.io/exempt-reason: nginx writes its cache to /var/cache/nginx (OPS-123)\n"
)


def _never(pod: PodView) -> list[Violation]:
    return []


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    return "exemption", "; ".join(v.value for v in vs)


EXPIRED = Check(
    id="exemptionExpired",
    level=CheckLevel.GOVERNANCE,
    title="An exemption has expired",
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _never),),
    describe=_describe,
    rationale="Exemptions are meant to be temporary. Once the date in podsec.io/exempt-until (or "
    "`until:` in the config) has passed, the exemption stops applying, the findings it hid are "
    "reported again, and this finding says why they came back.",
    remediation="Fix the findings, or renew the exemption with a new date and an up-to-date reason.",
    fields=("metadata.annotations",),
)

INVALID = Check(
    id="exemptionInvalid",
    level=CheckLevel.GOVERNANCE,
    title="An exemption annotation cannot be used",
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _never),),
    describe=_describe,
    rationale="An exemption without a reason, with an unreadable date, or naming no check would "
    "hide findings without accountability, so podsec ignores it and says so.",
    remediation="Give podsec.io/exempt the check ids, podsec.io/exempt-reason a reason, and "
    "podsec.io/exempt-until a date such as 2027-03-31.\n\nExample:\n\n" + _ANNOTATIONS,
    fields=("metadata.annotations",),
)
