"""`evaluate.failing_checks` (the webhook's route when nothing can exempt) reports exactly what the
whole evaluation reports then: each failing check with its aggregate message, and PSA's text.

Compared on the real-world corpus (every pod-bearing object, several profiles and versions; skips
without ../shared) and on generated pods (the fuzz suite's shapes, odd values included)."""

from __future__ import annotations

import os
import pathlib
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podsec import engine
from podsec.admission.envelope import printable
from podsec.evaluate import Context, Failing, evaluate_object, failing_checks, prepare
from podsec.findings import ObjectResult
from podsec.model.standards import PolicyVersion, Profile
from podsec.model.workloads import KindTable
from podsec.sources.files import read_objects
from tests.fuzz.test_properties import workloads

KINDS = KindTable()
POLICIES = [
    (Profile(profile), PolicyVersion.parse(version))
    for profile in ("baseline", "restricted", "hardened")
    for version in ("latest", "v1.24", "v1.30")
]
CONTEXTS = [Context(engine.select(p, v), KINDS, aggregate=True, annotation_exemptions=False) for p, v in POLICIES]


def _whole(obj: Any, ctx: Context) -> tuple[list[tuple[str, str]], str | None] | None:
    result = evaluate_object(obj, ctx, file=None)
    if not isinstance(result, ObjectResult):
        return None
    verdict = result.verdicts[0][1] if result.verdicts else None
    return [(f.check.id, f.message) for f in result.findings], verdict


def _fast(obj: Any, ctx: Context) -> tuple[list[tuple[str, str]], str | None] | None:
    prepared = prepare(obj, KINDS)
    if isinstance(prepared, list):
        return None
    found = failing_checks(prepared, ctx)
    if found is None:
        assert not prepared.views
        return None
    assert isinstance(found, Failing)
    return [(check.id, message) for check, message in found.checks], found.verdict


def _agree(obj: Any) -> int:
    compared = 0
    known_printable = _printable(obj)
    for ctx in CONTEXTS:
        whole = _whole(obj, ctx)
        fast = _fast(obj, ctx)
        assert fast == whole, (ctx.policy, obj)
        compared += whole is not None
        if known_printable and fast is not None:  # what lets the webhook skip cleaning (review.Outcome)
            messages, verdict = fast
            assert all(m.isprintable() for _, m in messages) and (verdict or "").isprintable(), obj
    return compared


def _printable(obj: Any) -> bool:
    """Whether the webhook would read ``obj`` as all printable ASCII (`envelope.printable` of its JSON)."""
    try:
        return printable(orjson.dumps(obj))
    except TypeError:  # not JSON (a YAML document with non-string keys): not what the webhook reads
        return False


def test_printable_bodies() -> None:
    assert printable(b'{"a": "b c~!", "n": [1, 2.5, null]}')
    for raw in (
        b'{"a": "\\n"}',
        b'{"a": "\\u0007"}',
        '{"a": "é"}'.encode(),
        '{"a": "\u00a0"}'.encode(),
        b'{"a": "\x7f"}',
    ):
        assert not printable(raw), raw


def test_nothing_exempting_is_required() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {"containers": [{"name": "a", "image": "b"}]}}
    prepared = prepare(pod, KINDS)
    assert not isinstance(prepared, list)
    base = CONTEXTS[0]
    assert failing_checks(prepared, base) is not None
    for ctx in (
        Context(base.policy, KINDS, aggregate=False, annotation_exemptions=False),
        Context(base.policy, KINDS, aggregate=True),  # annotation exemptions honoured
        Context(base.policy, KINDS, aggregate=True, annotation_exemptions=False, ignore=frozenset({"privileged"})),
    ):
        assert failing_checks(prepared, ctx) is None


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(workloads(), min_size=1, max_size=3))
def test_generated_pods_agree(objs: list[dict[str, Any]]) -> None:
    for obj in objs:
        _agree(obj)


def test_corpus_pods_agree(corpus: pathlib.Path) -> None:
    compared = 0
    for root, dirs, files in os.walk(corpus):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or not name.lower().endswith((".yaml", ".yml", ".json")):
                continue
            path = pathlib.Path(root, name)
            for item in read_objects(path.read_bytes(), str(path), KINDS):
                obj = getattr(item, "obj", None)
                if isinstance(obj, dict) and KINDS.rule_for(obj) is not None:
                    compared += _agree(obj)
    assert compared > 10_000
