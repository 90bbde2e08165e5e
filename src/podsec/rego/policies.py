"""A set of Rego policies as checks: which rules produce findings, with what id and severity.

Conventions (conftest, Gatekeeper): rules named ``deny``, ``violation`` and ``warn``
produce findings. Each result is a message string, or an object with ``msg`` (and
optionally ``field``: the API path to change, and ``container``). ``input`` is the
object exactly as written; ``data.podsec`` holds podsec's resolved view of it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from podsec.checks import CheckLevel, Rule, Severity
from podsec.evaluate import RuleHit
from podsec.rego.engine import Engine, RegoError, Source
from podsec.rego.modules import RULES, Metadata, Module, Syntax, load_modules

Scope = Literal["pods", "all"]
MAX_INPUT_BYTES = 8 * 1024 * 1024
"""An object bigger than this as JSON is not handed to the engine (reported instead)."""
_DEFAULT_SEVERITY = {"deny": Severity.MEDIUM, "violation": Severity.MEDIUM, "warn": Severity.LOW}


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One finding rule of one package, as a rule of podsec."""

    query: str  # data.<package>.<rule>
    v0: bool
    check: Rule


def _check(package: str, rule: str, modules: Sequence[Module]) -> Rule:
    meta = next((m.metadata[rule] for m in modules if rule in m.metadata), None)
    meta = meta or next((m.metadata[""] for m in modules if "" in m.metadata), None) or Metadata()
    try:
        severity = Severity(meta.severity.lower()) if meta.severity else _DEFAULT_SEVERITY[rule]
    except ValueError:
        names = ", ".join(s.value for s in Severity)
        raise RegoError(f'METADATA severity "{meta.severity}" is not one of {names}', modules[0].path) from None
    files = ", ".join(dict.fromkeys(m.path for m in modules))
    return Rule(
        id=meta.id or f"{package}.{rule}",
        level=CheckLevel.POLICY,
        title=meta.title or f"Rego rule {package}.{rule}",
        severity=severity,
        rationale=meta.description or f"Rule `{rule}` of package `{package}` ({files}).",
        remediation=meta.remediation or "See the policy's source.",
        references=meta.related,
    )


def _result(check: Rule, value: Any) -> RuleHit:
    if isinstance(value, str):
        return RuleHit(check, value, None, None)
    if isinstance(value, Mapping):
        msg = value.get("msg", value.get("message"))
        field = value.get("field")
        container = value.get("container")
        return RuleHit(
            check,
            msg if isinstance(msg, str) else json.dumps(dict(value), sort_keys=True),
            field if isinstance(field, str) else None,
            container if isinstance(container, str) else None,
        )
    return RuleHit(check, json.dumps(value, sort_keys=True), None, None)


class PolicySet:
    """Loaded, compiled policies: rules on whole objects (`podsec.evaluate.ObjectRules`).
    Engines are built lazily in each process that evaluates."""

    def __init__(
        self, modules: Sequence[Module], scope: Scope = "pods", disabled: frozenset[str] = frozenset()
    ) -> None:
        self.modules = tuple(modules)
        self.scope = scope
        self.disabled = disabled
        self._engines = {
            v0: Engine([Source(m.path, m.text, m.v0) for m in modules if m.v0 is v0], v0) for v0 in (False, True)
        }
        by_package: dict[tuple[str, bool], list[Module]] = {}
        for m in modules:
            by_package.setdefault((m.package, m.v0), []).append(m)
        rules = []
        for (package, v0), group in by_package.items():
            for rule in RULES:
                if any(rule in m.rules for m in group):
                    rules.append(PolicyRule(f"data.{package}.{rule}", v0, _check(package, rule, group)))
        self.rules = tuple(rules)
        ids = [r.check.id for r in rules]
        dup = next((i for i in ids if ids.count(i) > 1), None)
        if dup:
            raise RegoError(f'two policy rules have the id "{dup}"; give them distinct METADATA custom.id values')
        self.uses_view = any("data.podsec" in m.text for m in modules)

    @property
    def checks(self) -> tuple[Rule, ...]:
        return tuple(r.check for r in self.rules)

    @property
    def running(self) -> tuple[Rule, ...]:
        """The rules that run (all but the disabled ones)."""
        return tuple(r.check for r in self.rules if r.check.id not in self.disabled)

    @property
    def every_object(self) -> bool:
        return self.scope == "all"

    def without(self, disabled: frozenset[str]) -> PolicySet:
        """The same policies with the rules of these ids never run."""
        return PolicySet(self.modules, self.scope, disabled)

    def compile(self) -> None:
        """Compile every module together in throwaway engines (so errors surface before scanning)."""
        for v0 in (False, True):
            sources = [Source(m.path, m.text, m.v0) for m in self.modules if m.v0 is v0]
            if sources:
                Engine(sources, v0).compile()

    def evaluate(self, obj: Any, view: Mapping[str, Any] | None) -> tuple[list[RuleHit], list[str]]:
        """Findings of every rule on ``obj``; a failing rule gives an error and the others still run."""
        try:  # orjson: fast, and its nesting limit (255) raises instead of recursing
            input_json = orjson.dumps(obj).decode()
            data_json = orjson.dumps({"podsec": view}).decode() if view is not None else None
        except (orjson.JSONEncodeError, RecursionError) as exc:
            return [], self._failed(f"the object cannot be given to policies: {exc}")
        if len(input_json) > MAX_INPUT_BYTES:  # e.g. a document of many aliases, under the YAML bounds
            return [], self._failed(f"the object is too large for policies ({len(input_json) / 1e6:.1f} MB as JSON)")
        results: list[RuleHit] = []
        errors: list[str] = []
        for rule in self.rules:
            if rule.check.id in self.disabled:
                continue
            try:
                values = self._engines[rule.v0].evaluate(rule.query, input_json, data_json)
            except RegoError as exc:
                errors.append(_failure(rule, exc))
                continue
            results += [_result(rule.check, v) for v in values]
        return results, errors

    def _failed(self, why: str) -> list[str]:
        return [_failure(rule, RegoError(why)) for rule in self.rules]

    def __getstate__(self) -> dict[str, Any]:  # engines never cross a process boundary
        return {"modules": self.modules, "scope": self.scope, "disabled": self.disabled}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["modules"], state["scope"], state["disabled"])  # type: ignore[misc]


def _failure(rule: PolicyRule, exc: RegoError) -> str:
    return f"policy {rule.query} failed: {exc}"


def load(paths: Sequence[str], *, syntax: Syntax = "auto", scope: Scope = "pods") -> PolicySet:
    """Load and compile policies; raises RegoError for the first problem."""
    policies = PolicySet(load_modules(paths, syntax), scope)
    policies.compile()
    return policies
