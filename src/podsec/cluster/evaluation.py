"""The one place where the cluster edge calls the core: an object in, its findings (as
``podsec scan`` reports them) and its Pod Security Admission verdicts at the levels readiness
asks about out. Nothing else in `podsec.cluster` evaluates.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podsec import engine
from podsec.cluster import projection
from podsec.evaluate import Context, evaluate_object, prepare
from podsec.findings import InputError, ObjectResult
from podsec.model.objects import ObjectRef
from podsec.model.pod import PodSource
from podsec.model.standards import Level, PolicyVersion, Version


@dataclass(frozen=True, slots=True)
class Evaluated:
    """One object's outcome."""

    result: ObjectResult | None  # None: no pod, or it could not be read (see errors)
    errors: tuple[InputError, ...] = ()
    verdicts: Mapping[str, str | None] = field(default_factory=dict)  # level name -> PSA's denial text
    runtime_classes: tuple[str | None, ...] = ()
    key: bytes = b""  # `projection.violations_key`


def level_policy(level: Level, version: PolicyVersion, cluster: Version) -> engine.Policy:
    """Pod Security Admission's checks for ``level`` at ``version``, ``latest`` being the cluster's."""
    return engine.select(level, version, latest_is=cluster)


def level_name(level: Level, version: PolicyVersion) -> str:
    return f"{level}:{version}"


class Evaluator:
    """Evaluates objects under the run's context, and under each readiness level."""

    def __init__(self, ctx: Context, levels: Mapping[str, engine.Policy]) -> None:
        self.ctx = ctx
        self.levels = dict(levels)
        self.evaluations = 0

    def add_level(self, name: str, policy: engine.Policy) -> None:
        self.levels.setdefault(name, policy)

    def sources(self, obj: Mapping[str, Any]) -> Sequence[PodSource]:
        return self.ctx.kinds.pod_sources(obj)

    def evaluate(self, obj: Mapping[str, Any], *, file: str) -> Evaluated:
        """Findings and verdicts for ``obj``; an object that cannot be evaluated is an input error
        (and the rest of the run goes on)."""
        self.evaluations += 1
        try:
            return self._evaluate(obj, file)
        except Exception as exc:  # a bug on one object must not end the audit
            ref = ObjectRef.of(obj)
            debug = traceback.format_exc() if self.ctx.debug else None
            message = f"{ref}: internal error: {type(exc).__name__}: {exc}"
            return Evaluated(None, (InputError(file, None, message, None, ref, debug),))

    def _evaluate(self, obj: Mapping[str, Any], file: str) -> Evaluated:
        sources = self.sources(obj)
        pods = prepare(obj, self.ctx.kinds, file=file)
        if isinstance(pods, list):
            return Evaluated(None, tuple(pods))
        outcome = evaluate_object(obj, self.ctx, file=file, prepared=pods)
        if isinstance(outcome, list):
            return Evaluated(None, tuple(outcome))
        if outcome is None:
            return Evaluated(None)
        verdicts: dict[str, str | None] = {}
        for name, policy in self.levels.items():
            texts = []
            for view in pods.views:
                text = engine.verdict(engine.evaluate(view, policy), policy)
                if text:
                    texts.append(f"{view.label}: {text}" if view.label else text)
            verdicts[name] = "; ".join(texts) or None
        return Evaluated(
            outcome,
            outcome.errors,
            verdicts,
            tuple(v.runtime_class_name for v in pods.views),
            projection.violations_key(outcome, projection.prefixes(sources)),
        )
