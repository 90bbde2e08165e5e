"""What a command evaluates with, from its options and the configuration: the Rego policies
loaded, the checks chosen (``--profile``, ``--select``, ``--ignore`` and the configuration's
``select``, ``ignore`` and ``checks``), the evaluation context and the exit threshold.

The check ids a run may name are its rules (`rules`: the built-in ones and its policies'),
computed once; the configuration's ids are tested against them by `podsec.config.verify`,
the names of a selection by `engine.resolve_selection`. Shared by ``scan``, ``fix``,
``audit`` and ``monitor`` (`evaluation`) and ``rbac`` (`selection`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from podsec import __version__, catalog, engine, explain
from podsec.checks import CheckLevel, Rule, Severity
from podsec.config import Config, ConfigError, verify
from podsec.evaluate import Context
from podsec.findings import DEFAULT_FAIL_ON
from podsec.model.standards import PolicyVersion, Profile, format_version
from podsec.model.workloads import KindTable
from podsec.reporters import RunInfo
from podsec.reporters.sarif import SARIF_MAX_RESULTS

if TYPE_CHECKING:
    from podsec.rego.policies import PolicySet


def policies(args: argparse.Namespace, config: Config) -> PolicySet | None:
    """The Rego policies of ``--policy`` and the configuration's ``policies``, loaded (None: none)."""
    paths = [*config.policies, *args.policy]
    if not paths:
        return None
    from podsec.rego import policies as rego

    syntax = args.rego_syntax or config.rego_syntax or "auto"
    scope = args.policy_scope or config.policy_scope or "pods"
    return rego.load(paths, syntax=syntax, scope=scope)  # type: ignore[arg-type]


def rules(loaded: PolicySet | None) -> tuple[Rule, ...]:
    """Every rule a run knows: the built-in ones, then its policies'."""
    return (*catalog.BUILTIN, *(loaded.checks if loaded else ()))


def _names(values: Sequence[str]) -> list[str]:
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def selection(args: argparse.Namespace, config: Config, every: Sequence[Rule]) -> tuple[set[str] | None, set[str]]:
    """(the checks to run, or None for all; the checks never to run) as check ids.

    As in ruff, ``--select`` starts afresh: the configuration's ``select``, ``ignore`` and
    ``checks.disable`` then do not apply; ``--ignore`` always does.
    """
    try:
        if args.select:
            return engine.resolve_selection(_names(args.select), _names(args.ignore), every, ("--select", "--ignore"))
        where = f"{config.path}: " if config.path else ""
        chosen, ignored = engine.resolve_selection(
            config.select, [*config.ignore, *config.disable], every, (f"{where}select", f"{where}ignore")
        )
        ignored |= engine.resolve_selection(None, _names(args.ignore), every, ("--select", "--ignore"))[1]
    except engine.ConfigurationError as exc:
        raise ConfigError(str(exc)) from None
    return chosen, ignored


def _policy(
    args: argparse.Namespace, config: Config, chosen: set[str] | None, ignored: Iterable[str]
) -> engine.Policy | None:
    """The built-in checks to run (policies' ids are theirs: left out here); None after a usage error (said)."""
    profile = Profile(args.profile or config.profile or Profile.HARDENED)
    version = args.pss_version or config.pss_version or PolicyVersion(None)
    latest_is = config.latest_is
    if args.latest_is is not None:
        if args.latest_is.minor is None:
            print("podsec: error: --latest-is needs an explicit version such as v1.33", file=sys.stderr)
            return None
        latest_is = (1, args.latest_is.minor)
    builtin = {c.id for c in engine.SELECTABLE}
    try:
        return engine.select(
            profile,
            version,
            latest_is=latest_is,
            enable=set(config.enable) & builtin,
            disable=set(ignored) & builtin,
            only=None if chosen is None else chosen & builtin,
            options=config.options,
        )
    except engine.ConfigurationError as exc:
        raise ConfigError(str(exc)) from None


def fail_on(args: argparse.Namespace, config: Config) -> Severity | None:
    chosen = args.fail_on or config.fail_on
    if chosen == "none":
        return None
    return Severity(chosen) if chosen else DEFAULT_FAIL_ON


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What a run evaluates with, as scan builds it (``scan``, ``fix``, ``audit`` and ``monitor``)."""

    ctx: Context
    policy: engine.Policy
    policies: PolicySet | None
    fail_on: Severity | None

    @property
    def checks(self) -> tuple[Rule, ...]:
        """Every check and rule evaluated on each object (built-in and policy)."""
        return (*(s.check for s in self.policy.checks), *(self.policies.running if self.policies else ()))


def evaluation(args: argparse.Namespace, config: Config) -> Evaluation | None:
    """The context, policy and exit threshold the options ask for; None after a usage error (said)."""
    loaded = policies(args, config)
    every = rules(loaded)
    verify(config, every)
    chosen, ignored = selection(args, config, every)
    policy = _policy(args, config, chosen, ignored)
    if policy is None:
        return None
    if loaded is not None:
        extra = loaded.checks
        loaded = loaded.without(
            frozenset(c.id for c in extra if c.id in ignored or (chosen is not None and c.id not in chosen))
        )
    if chosen is not None and not _anything_runs(policy, loaded):
        _say_nothing_runs(chosen)
        return None
    ctx = _context(args, config, policy, loaded, ignored, every)
    return Evaluation(ctx, policy, loaded, fail_on(args, config))


def _anything_runs(policy: engine.Policy, loaded: PolicySet | None) -> bool:
    return bool(policy.checks or policy.beyond or (loaded is not None and loaded.running))


def _say_nothing_runs(chosen: set[str]) -> None:
    rbac_ids = sorted(c.id for c in engine.SELECTABLE if c.level is CheckLevel.RBAC and c.id in chosen)
    hint = f" ({', '.join(rbac_ids)}: run by `podsec rbac`)" if rbac_ids else ""
    print(f"podsec: error: --select leaves no check to run in this profile{hint}", file=sys.stderr)


def _context(
    args: argparse.Namespace,
    config: Config,
    policy: engine.Policy,
    loaded: PolicySet | None,
    ignored: set[str],
    every: Sequence[Rule],
) -> Context:
    return Context(
        policy,
        KindTable(config.kinds, detect_shapes=config.detect_pod_shapes),
        severity=config.severity,
        exemptions=config.exemptions,
        annotation_exemptions=config.annotation_exemptions and not args.no_annotation_exemptions,
        today=date.today(),
        rules=(loaded,) if loaded is not None else (),
        describe=explain.describe,
        ignore=frozenset(ignored),
        debug=args.debug,
        known_checks=frozenset(c.id for c in every),
    )


def run_info(args: argparse.Namespace, config: Config, ev: Evaluation, started: float, **extra: Any) -> RunInfo:
    """What the reports say of the run (``scan`` and ``audit``)."""
    return RunInfo(
        str(ev.policy),
        format_version(ev.policy.evaluated_version),
        checks=ev.checks,
        started=started,
        base_dir=os.getcwd(),
        tool_version=__version__,
        config=config.path,
        fail_on=ev.fail_on.value if ev.fail_on else "none",
        passes=not args.no_passes,
        sarif_max_results=args.sarif_max_results or SARIF_MAX_RESULTS,
        **extra,
    )
