"""Evaluate one parsed object: pods → checks → findings with locations (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podsec import engine
from podsec.findings import Finding, InputError, ObjectResult
from podsec.model import pod as podmodel
from podsec.model.paths import Path, format_path, locate
from podsec.model.workloads import KindTable, ObjectRef


@dataclass(frozen=True, slots=True)
class Context:
    """What every evaluation needs; built once per run."""

    policy: engine.Policy
    kinds: KindTable


def _position(root: Any, path: Path, line_offset: int) -> tuple[int | None, int | None, bool]:
    pos = locate(root, path)
    if pos is None:
        return None, None, False
    return pos.line + line_offset, pos.column, pos.exact


def evaluate_object(
    obj: Mapping[str, Any],
    ctx: Context,
    *,
    file: str | None,
    line_offset: int = 0,
    object_line: int | None = None,
) -> ObjectResult | list[InputError] | None:
    """Findings for one object; input errors when its fields cannot be decoded;
    None when it carries no pod."""
    ref = ObjectRef.of(obj)
    bad_template = ctx.kinds.template_problem(obj)
    if bad_template is not None:
        path, value = bad_template
        line, col, _ = _position(obj, path, line_offset)
        from podsec.model.schema import describe

        return [
            InputError(file, line, f"{ref}: {format_path(path)}: expected a mapping, got {describe(value)}", col, ref)
        ]
    sources = ctx.kinds.pod_sources(obj)
    if not sources:
        return None
    errors: list[InputError] = []
    findings: list[Finding] = []
    verdicts: list[tuple[str | None, str]] = []
    for src in sources:
        problems = podmodel.validate_pod(obj, src)
        if problems:
            for p in problems:
                line, col, _ = _position(obj, p.path, line_offset)
                errors.append(InputError(file, line, f"{ref}: {format_path(p.path)}: {p.message}", col, ref))
            continue
        view = podmodel.build_pod(obj, src)
        results = engine.evaluate(view, ctx.policy)
        if results:
            verdicts.append((src.label, engine.verdict(results, ctx.policy) or ""))
        for result in results:
            check = result.check
            for v in result.violations:
                line, col, exact = _position(obj, v.path, line_offset)
                findings.append(
                    Finding(
                        check=check.id,
                        severity=check.severity.value,
                        level=check.level.value,
                        object=ref,
                        pod=src.label,
                        container=v.container,
                        field=format_path(v.path),
                        file=file,
                        line=line,
                        column=col,
                        location="field" if exact else "parent",
                        message=result.message([v]),
                    )
                )
    if errors:
        return errors
    return ObjectResult(ref, file, object_line, tuple(findings), tuple(verdicts))
