"""Kubernetes label selectors (``matchLabels`` and ``matchExpressions``), as data.

A selector is read once into a tuple of `Requirement` values (hashable and picklable, so
results can cross process boundaries) and then matched against label sets, as
``metav1.LabelSelectorAsSelector`` does: requirements are ANDed, ``{}`` matches everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podsec.model.paths import Path

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.operator == "Exists":
            return present
        return not present  # DoesNotExist

    def __str__(self) -> str:
        if self.operator == "In" and len(self.values) == 1:
            return f"{self.key}={self.values[0]}"
        if self.operator in ("Exists", "DoesNotExist"):
            return self.key if self.operator == "Exists" else f"!{self.key}"
        return f"{self.key} {self.operator.lower()} ({','.join(self.values)})"


Selector = tuple[Requirement, ...]
"""Requirements, all of which must hold; ``()`` selects everything."""


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in the input the API server would refuse or cannot decode: where, and what."""

    path: Path
    message: str


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return None if value is None else ("true" if value else "false")
    if isinstance(value, int | float):
        return str(value)
    return None


def read(value: Any, path: Path, problems: list[Problem]) -> Selector | None:
    """The requirements of a LabelSelector at ``path``; None (with a problem) when it cannot be read.

    A missing selector (None) is the empty selector, as a Go struct field decodes it.
    """
    if value is None:
        return ()
    if not isinstance(value, dict):
        problems.append(Problem(path, "expected a label selector (a mapping)"))
        return None
    out: list[Requirement] = []
    ok = True
    labels = value.get("matchLabels")
    if isinstance(labels, dict):
        for key, raw in labels.items():
            text = _text(raw)
            if text is None:
                problems.append(Problem((*path, "matchLabels", str(key)), "expected a string label value"))
                ok = False
                continue
            out.append(Requirement(str(key), "In", (text,)))
    elif labels is not None:
        problems.append(Problem((*path, "matchLabels"), "expected a mapping of labels"))
        ok = False
    expressions = value.get("matchExpressions")
    if isinstance(expressions, list):
        for i, expr in enumerate(expressions):
            req = _expression(expr, (*path, "matchExpressions", i), problems)
            if req is None:
                ok = False
            else:
                out.append(req)
    elif expressions is not None:
        problems.append(Problem((*path, "matchExpressions"), "expected a list of expressions"))
        ok = False
    return tuple(out) if ok else None


def _expression(expr: Any, path: Path, problems: list[Problem]) -> Requirement | None:
    if not isinstance(expr, dict) or not isinstance(expr.get("key"), str):
        problems.append(Problem(path, "expected an expression with a key, an operator and values"))
        return None
    op = expr.get("operator")
    if op not in OPERATORS:
        problems.append(
            Problem((*path, "operator"), f'unsupported operator "{op}": must be one of {", ".join(OPERATORS)}')
        )
        return None
    values = _values(expr.get("values") or [])
    if values is None:
        problems.append(Problem((*path, "values"), "expected a list of strings"))
        return None
    wrong = _values_problem(op, values)
    if wrong is not None:
        problems.append(Problem((*path, "values"), wrong))
        return None
    return Requirement(expr["key"], op, values)


def _values(raw: Any) -> tuple[str, ...] | None:
    """An expression's values; None unless they are a list of scalars."""
    if not isinstance(raw, list):
        return None
    texts = [_text(v) for v in raw]
    return tuple(t for t in texts if t is not None) if all(t is not None for t in texts) else None


def _values_problem(op: str, values: tuple[str, ...]) -> str | None:
    """What the operator says against the values (none or some); None when they fit."""
    if op in ("In", "NotIn") and not values:
        return f"must be specified when operator is {op}"
    if op in ("Exists", "DoesNotExist") and values:
        return f"may not be specified when operator is {op}"
    return None


def matches(selector: Selector, labels: Mapping[str, str]) -> bool:
    return all(r.matches(labels) for r in selector)


def describe(selector: Selector) -> str:
    """``app=web,tier in (a,b)``; ``{}`` for the empty selector."""
    return ",".join(str(r) for r in selector) or "{}"
