"""Select the checks for a profile and version, and evaluate pods (spec §1, §5)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from podsec.checks import ALL_CHECKS
from podsec.checks._base import Check, CheckLevel, Revision, Violation
from podsec.model.pod import PodView
from podsec.model.standards import Level, PolicyVersion, Version

NEWEST: Version = max(since for check in ALL_CHECKS for since, _ in check.revisions)


@dataclass(frozen=True, slots=True)
class Selected:
    check: Check
    revision: Revision


@dataclass(frozen=True, slots=True)
class Policy:
    """A level at a version as the user asked for it, and the checks that implement it."""

    level: Level
    version: PolicyVersion
    evaluated_version: Version
    checks: tuple[Selected, ...]

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"


def select(
    level: Level,
    version: PolicyVersion,
    *,
    latest_is: Version | None = None,
    checks: Iterable[Check] = ALL_CHECKS,
) -> Policy:
    """The checks PSA runs for ``level`` at ``version``, in PSA's reporting order.

    ``latest_is`` lowers the newest version (as an API server emulating an older
    release does); ``latest`` and higher versions are evaluated as the newest.
    """
    newest = min(NEWEST, latest_is) if latest_is else NEWEST
    at = version.clamp(newest)
    checks = tuple(checks)
    wanted = {CheckLevel.BASELINE} if level is Level.BASELINE else set()
    if level is Level.RESTRICTED:
        wanted = {CheckLevel.BASELINE, CheckLevel.RESTRICTED}
    running = [(c, fn) for c in checks if c.level in wanted and (fn := c.revision_at(at)) is not None]
    replaced = {old for c, _ in running for old in c.overrides}
    selected = [Selected(c, fn) for c, fn in running if c.id not in replaced]
    order = {CheckLevel.BASELINE: 0, CheckLevel.RESTRICTED: 1}
    selected.sort(key=lambda s: (order[s.check.level], s.check.id.encode()))
    return Policy(level, version, at, tuple(selected))


@dataclass(frozen=True, slots=True)
class CheckResult:
    """A failing check on one pod, with every violation it found."""

    check: Check
    violations: tuple[Violation, ...]

    @property
    def reason(self) -> str:
        return self.check.describe(self.violations)[0]

    @property
    def detail(self) -> str:
        return self.check.describe(self.violations)[1]

    def message(self, violations: Sequence[Violation] | None = None) -> str:
        """``reason (detail)`` for all violations, or for the given subset."""
        reason, detail = self.check.describe(self.violations if violations is None else violations)
        return f"{reason} ({detail})" if detail else reason


def evaluate(pod: PodView, policy: Policy) -> list[CheckResult]:
    """Every failing check of ``policy`` on ``pod``, in PSA's order; empty means allowed."""
    results = []
    for sel in policy.checks:
        violations = sel.revision(pod)
        if violations:
            results.append(CheckResult(sel.check, tuple(violations)))
    return results


def aggregate(results: Sequence[CheckResult]) -> str:
    """PSA's aggregate text: ``reason (detail), reason (detail)``."""
    return ", ".join(r.message() for r in results)


def verdict(results: Sequence[CheckResult], policy: Policy) -> str | None:
    """PSA's denial text for these results, or None when the pod is allowed."""
    if not results:
        return None
    return f'violates PodSecurity "{policy}": {aggregate(results)}'
