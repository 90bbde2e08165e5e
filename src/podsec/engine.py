"""Select the checks for a profile and version, and evaluate pods (spec §1, §5)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from podsec.analysis.rules import ALL_RULES, BeyondRule
from podsec.checks import ALL_CHECKS, Check, Platform, Revision, Rule, Violation
from podsec.model.paths import Path
from podsec.model.pod import PodView
from podsec.model.standards import CheckLevel, Level, PolicyVersion, Profile, Version

SELECTABLE: tuple[Rule, ...] = (*ALL_CHECKS, *ALL_RULES)
"""Every built-in check and rule beyond the pod: what a selection (``--select``, a profile) names."""

NEWEST: Version = max(
    since
    for check in ALL_CHECKS
    if check.level in (CheckLevel.BASELINE, CheckLevel.RESTRICTED)
    for since, _ in check.revisions
)


@dataclass(frozen=True, slots=True)
class Selected:
    """A check to run, and the checks it replaces at this version (its lineage), which a
    violation may also trip: the violation then takes the highest of their severities."""

    check: Check
    revision: Callable[[PodView], list[Violation]]
    lineage: tuple[tuple[Check, Revision], ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    """A profile at a version as the user asked for it, and the checks that implement it."""

    level: Level  # the Pod Security Standards level inside the profile
    version: PolicyVersion
    evaluated_version: Version
    checks: tuple[Selected, ...]
    profile: Profile | None = None  # None: a bare PSS level (as PSA evaluates it)
    beyond: tuple[BeyondRule, ...] = ()  # hardened rules about other objects and namespaces (podsec.beyond)

    def __str__(self) -> str:
        return f"{self.profile or self.level}:{self.version}"

    @property
    def pss(self) -> str:
        """PSA's name for the level and version: ``restricted:latest``."""
        return f"{self.level}:{self.version}"


class ConfigurationError(ValueError):
    """Unknown check ids or options in a selection."""


LEVEL_NAMES = frozenset(level.value for level in CheckLevel)


def resolve_names(names: Iterable[str], checks: Iterable[Rule], where: str) -> set[str]:
    """Check ids for ``names``: check ids (any case) or level names (``baseline``, ``hardened``, …).

    A level name stands for its checks that are on by default; an unknown name is a
    `ConfigurationError` naming ``where``.
    """
    checks = tuple(checks)
    by_lower = {c.id.lower(): c.id for c in checks}
    out: set[str] = set()
    for name in names:
        lowered = name.lower()
        if lowered in LEVEL_NAMES:
            out.update(c.id for c in checks if c.level.value == lowered and c.default_on)
        elif lowered in by_lower:
            out.add(by_lower[lowered])
        else:
            raise ConfigurationError(f'{where}: no such check or level "{name}" (see `podsec checks`)')
    return out


def resolve_selection(
    select: Sequence[str] | None, ignore: Sequence[str], checks: Iterable[Rule], where: tuple[str, str]
) -> tuple[set[str] | None, set[str]]:
    """(the checks to run, or None for all; the checks never to run) for one ``select``/``ignore`` pair.

    As in ruff, the more specific name wins: a check named by id in ``select`` runs even when
    a level in ``ignore`` covers it; named alike on both sides (two ids, two levels), ignore
    wins. ``where`` names the two sources in errors.
    """
    checks = tuple(checks)

    def split(names: Sequence[str], source: str) -> tuple[set[str], set[str]]:
        levels = [n for n in names if n.lower() in LEVEL_NAMES]
        ids = [n for n in names if n.lower() not in LEVEL_NAMES]
        return resolve_names(levels, checks, source), resolve_names(ids, checks, source)

    ignore_levels, ignore_ids = split(ignore, where[1])
    if select is None:
        return None, ignore_levels | ignore_ids
    select_levels, select_ids = split(select, where[0])
    return select_levels | select_ids, ignore_ids | (ignore_levels - select_ids)


def option_problem(rule: Rule, options: Mapping[str, object]) -> tuple[str, str] | None:
    """What is wrong with ``options`` for ``rule``: (the option's suffix to the place named in the
    message, or ""; the message), or None when they are usable. The one validation of check options
    (the configuration file's and `select`'s); a rule that is not a check has none."""
    known = rule.options if isinstance(rule, Check) else {}
    for key, value in options.items():
        if key not in known:
            names = ", ".join(sorted(known)) or "none"
            return "", f'unknown option "{key}" (options: {names})'
        if isinstance(known[key], int) and (not isinstance(value, int) or isinstance(value, bool)):
            return f".{key}", "expected an integer"
    return None


def _bind(check: Check, fn: Revision, options: Mapping[str, int | str]) -> Callable[[PodView], list[Violation]]:
    problem = option_problem(check, options)
    if problem is not None:
        raise ConfigurationError(f"check {check.id}{problem[0]}: {problem[1]}")
    if not check.options:
        return fn
    return functools.partial(fn, **{**check.options, **options})


@dataclass(frozen=True, slots=True)
class _Choice:
    """What a selection asks for beyond the profile: checks turned on, off, kept, and their options."""

    enable: set[str]
    disable: set[str]
    only: set[str] | None
    options: dict[str, Mapping[str, int | str]]

    def verify(self, known: set[str]) -> None:
        for name in sorted((self.enable | self.disable | set(self.options) | (self.only or set())) - known):
            raise ConfigurationError(f'no such check: "{name}" (see `podsec checks`)')

    def wanted(self, c: Rule) -> bool:
        return c.id not in self.disable and (self.only is None or c.id in self.only)

    def own(self, c: Rule) -> bool:
        """A check or rule of podsec's own that runs: on by default, or asked for, and not removed."""
        asked = c.id in self.enable or c.id in self.options or (self.only is not None and c.id in self.only)
        return c.level is CheckLevel.HARDENED and (c.default_on or asked) and self.wanted(c)


def _pss_order(running: list[tuple[Check, Revision]]) -> list[tuple[Check, Revision]]:
    """The PSS checks that run, without those a running check replaces, in PSA's order."""
    replaced = {old for c, _ in running for old in c.overrides}
    order = {CheckLevel.BASELINE: 0, CheckLevel.RESTRICTED: 1}
    return sorted(
        ((c, fn) for c, fn in running if c.id not in replaced), key=lambda s: (order[s[0].level], s[0].id.encode())
    )


def _lineages(
    running: list[tuple[Check, Revision]],
    in_profile: list[tuple[Check, Revision]],
    options: Mapping[str, Mapping[str, int | str]],
) -> tuple[Selected, ...]:
    """Each running check with its options bound and the checks it replaces at this version."""
    by_id = {c.id: (c, fn) for c, fn in in_profile}
    return tuple(
        Selected(c, _bind(c, fn, options.get(c.id, {})), tuple(by_id[old] for old in c.overrides if old in by_id))
        for c, fn in running
    )


def _target(
    level: Level | Profile, version: PolicyVersion, latest_is: Version | None
) -> tuple[Profile | None, Level, Version]:
    """(the profile, None for a bare PSS level; the PSS level inside it; the version evaluated)."""
    profile = level if isinstance(level, Profile) else None
    pss = profile.pss_level if profile else level
    assert isinstance(pss, Level)
    newest = min(NEWEST, latest_is) if latest_is else NEWEST
    return profile, pss, version.clamp(newest)


def select(
    level: Level | Profile,
    version: PolicyVersion,
    *,
    latest_is: Version | None = None,
    checks: Iterable[Check] = ALL_CHECKS,
    rules: Iterable[BeyondRule] = ALL_RULES,
    enable: Iterable[str] = (),
    disable: Iterable[str] = (),
    only: Iterable[str] | None = None,
    options: Mapping[str, Mapping[str, int | str]] | None = None,
) -> Policy:
    """The checks to run for ``level`` at ``version``; for a PSS level, in PSA's order.

    ``latest_is`` lowers the newest version (as an API server emulating an older
    release does); ``latest`` and higher versions are evaluated as the newest.
    ``hardened`` adds podsec's own checks after the restricted ones: those on by
    default, and those in ``enable``; its rules beyond the pod (of ``rules``) are chosen
    alike, into `Policy.beyond` (`podsec.beyond` evaluates them, not on pods). ``only``
    (when given) keeps just these checks (`--select`; a check named there that is off
    by default is turned on) and ``disable`` removes any check (`--ignore`). Both apply
    before PSA's overrides are resolved, so ignoring ``capabilities_restricted`` leaves
    ``capabilities_baseline`` running. Each check keeps the checks it replaces as its
    lineage (`Selected`).
    """
    profile, pss, at = _target(level, version, latest_is)
    checks, rules = tuple(checks), tuple(rules)
    choice = _Choice(set(enable), set(disable), None if only is None else set(only), dict(options or {}))
    choice.verify({c.id for c in (*checks, *rules)})
    in_profile = [(c, fn) for c in checks if c.level in pss.check_levels and (fn := c.revision_at(at))]
    running = _pss_order([(c, fn) for c, fn in in_profile if choice.wanted(c)])
    beyond: tuple[BeyondRule, ...] = ()
    if profile is Profile.HARDENED:
        running += [(c, fn) for c in checks if choice.own(c) and (fn := c.revision_at(at)) is not None]
        beyond = tuple(r for r in rules if choice.own(r))
    selected = _lineages(running, in_profile, choice.options)
    return Policy(pss, version, at, selected, profile, beyond)


@dataclass(slots=True, unsafe_hash=True, init=False)  # immutable by convention (CONTRIBUTING.md, "Hot values")
class CheckResult:
    """A failing check on one pod, with every violation it found."""

    check: Check
    violations: tuple[Violation, ...]
    also: Mapping[Path, tuple[Check, ...]]  # lineage checks each violation trips
    _text: list[str] = field(compare=False, repr=False, init=False)  # message(), once computed

    def __init__(
        self, check: Check, violations: tuple[Violation, ...], also: Mapping[Path, tuple[Check, ...]] | None = None
    ) -> None:
        self.check, self.violations, self.also, self._text = check, violations, {} if also is None else also, []

    @property
    def reason(self) -> str:
        return self.check.describe(self.violations)[0]

    @property
    def detail(self) -> str:
        return self.check.describe(self.violations)[1]

    def message(self, violations: Sequence[Violation] | None = None) -> str:
        """``reason (detail)`` for all violations, or for the given subset."""
        if violations is None and self._text:
            return self._text[0]
        reason, detail = self.check.describe(self.violations if violations is None else violations)
        text = f"{reason} ({detail})" if detail else reason
        if violations is None:
            self._text.append(text)
        return text


_NO_HITS: Mapping[Path, tuple[Check, ...]] = MappingProxyType({})


def evaluate(pod: PodView, policy: Policy, *, lineage: bool = True) -> list[CheckResult]:
    """Every failing check of ``policy`` on ``pod``, in PSA's order; empty means allowed.
    ``lineage=False``: without the replaced checks each violation also trips (`CheckResult.also`,
    what severities are made of), for callers that use no severities."""
    results = []
    windows = pod.is_windows or pod.scheduled_on_windows  # podsec's Linux-only checks do not apply either way
    skip = Platform.LINUX if windows else Platform.WINDOWS if pod.os_name.value == "linux" else None
    for sel in policy.checks:
        check = sel.check
        if check.platform is skip:
            continue
        violations = sel.revision(pod)
        if violations:
            hits = _lineage_hits(sel, pod, violations) if lineage and sel.lineage else _NO_HITS
            results.append(CheckResult(check, tuple(violations), hits))
    return results


def _lineage_hits(sel: Selected, pod: PodView, violations: list[Violation]) -> Mapping[Path, tuple[Check, ...]]:
    """For each violation's path, the replaced checks that report the same field (e.g. a hostPath
    volume under ``restrictedVolumes`` also trips ``hostPathVolumes``)."""
    paths = {v.path for v in violations}
    hits: dict[Path, tuple[Check, ...]] = {}
    for check, fn in sel.lineage:
        for v in fn(pod):
            if v.path in paths and check not in hits.get(v.path, ()):
                hits[v.path] = (*hits.get(v.path, ()), check)
    return hits


def aggregate(results: Sequence[CheckResult]) -> str:
    """PSA's aggregate text: ``reason (detail), reason (detail)``."""
    return ", ".join([r.message() for r in results])


def verdict(results: Sequence[CheckResult], policy: Policy) -> str | None:
    """PSA's denial text for these results (PSS checks only), or None when PSA would allow the pod."""
    pss = [r for r in results if r.check.level is not CheckLevel.HARDENED]
    if not pss:
        return None
    return f'violates PodSecurity "{policy.pss}": {aggregate(pss)}'
