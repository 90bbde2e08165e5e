"""The scan pipeline: a file's bytes -> located objects (`podsec.sources.files`) -> results (`podsec.evaluate`),
or their explanation (`podsec.explain`).

What every edge that reads files uses (the CLI's scan and explain, `podsec test`, the docs, the
fuzzer): reading and evaluating stay separate layers, joined only here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from podsec import beyond, explain
from podsec.evaluate import Context, Outcome, evaluate
from podsec.findings import FileResult, InputError, ObjectResult
from podsec.model.objects import Located
from podsec.model.workloads import KindTable
from podsec.sources.files import Counts, Member, Relocate, Target, internal_error, read_objects, read_target

Evaluator = Callable[[Located, Context], Outcome]
"""Evaluates one object's pods: `podsec.evaluate.evaluate` (the fixer's keeps the pods it read)."""


def scan_bytes(data: bytes, name: str, ctx: Context, relocate: Relocate | None = None) -> FileResult:
    """Evaluate every object in one file's bytes.

    An unexpected exception while evaluating one object becomes an error for that object;
    while reading the file, an error for the file (`internal_error`). Other objects and
    files are still scanned.
    """
    result = FileResult(name)
    for _ in evaluated(data, result, ctx, relocate):
        pass
    return result


def evaluated(
    data: bytes, result: FileResult, ctx: Context, relocate: Relocate | None = None, evaluator: Evaluator | None = None
) -> Iterator[tuple[Located, ObjectResult]]:
    """`scan_bytes` into ``result`` (named after the file), yielding each object with its result
    as a scan shows it, once that is added to ``result`` (what `podsec fix` fixes, and it lists what
    it cannot); its counts and facts are set once the generator is exhausted."""
    name = result.file or "-"
    facts = beyond.Facts() if ctx.policy.beyond else None  # the objects beyond the pod, when they are checked
    every = ctx.every_object or (facts is not None and relocate is not None)
    also = beyond.KINDS if facts is not None else frozenset()
    counts = Counts()
    with_pod: set[int] = set()
    try:
        for item in read_objects(
            data, name, ctx.kinds, every=every, counts=counts, also=also, members=facts is not None
        ):
            if isinstance(item, InputError):
                result.errors.append(item)
                continue
            if isinstance(item, Member):
                assert facts is not None
                facts.add_member(item, name, ctx)
                continue
            try:
                outcome = _evaluate(item, ctx, name, relocate, facts, evaluator)
            except Exception as exc:  # one object's bug must not hide the others
                counts.failed.add(item.document)
                result.errors.append(internal_error(name, item.line, exc, debug=ctx.debug))
                continue
            if isinstance(outcome, list):
                counts.failed.add(item.document)
                result.errors.extend(outcome)
            elif outcome is not None:
                result.objects.append(outcome)
                result.errors.extend(outcome.errors)
                if outcome.carries_pod:
                    with_pod.add(item.document)
                yield item, outcome
    except Exception as exc:
        counts.failed.add(-1)
        result.errors.append(internal_error(name, None, exc, debug=ctx.debug))
    result.documents = counts.documents
    result.podless = max(0, counts.documents - len(with_pod | (counts.failed - {0, -1})))
    result.facts = facts


def _evaluate(
    item: Located,
    ctx: Context,
    name: str,
    relocate: Relocate | None,
    facts: beyond.Facts | None = None,
    evaluator: Evaluator | None = None,
) -> Outcome:
    outcome = (evaluator or evaluate)(item, ctx)  # (looked up at each call: tests replace it)
    if facts is not None:  # its namespace, network policy facts and findings beyond the pod
        outcome = beyond.record(item, name, ctx, facts, outcome, relocate)
    if isinstance(outcome, ObjectResult):
        if relocate is not None:
            outcome = relocate(item.obj, outcome)
        elif item.template is not None and (outcome.findings or outcome.suppressed):
            from podsec.sources import helm

            outcome = helm.annotate(outcome, item.template, name)
    return outcome


def scan_target(target: Target, ctx: Context) -> FileResult:
    """One file's result; whatever goes wrong is an error for this file, never for the run."""
    try:
        data = read_target(target)
        if isinstance(data, InputError):
            return FileResult(target.name, errors=[data])
        result = scan_bytes(data, target.name, ctx, target.relocate)
        result.sources = target.sources
        return result
    except Exception as exc:
        return FileResult(target.name, errors=[internal_error(target.name, None, exc, debug=ctx.debug)])


def explain_target(target: Target, kinds: KindTable, *, debug: bool) -> Iterator[explain.Explained | InputError]:
    """The explanation of every object in one file that carries a pod, and the errors of the rest,
    in the file's order; whatever goes wrong is an error for that object or this file, never for the run."""
    try:
        data = read_target(target)
        if isinstance(data, InputError):
            yield data
            return
        for item in read_objects(data, target.name, kinds):
            if not isinstance(item, Member):  # (peeked-at members are asked for by scans only)
                yield from _explained(item, target.name, kinds, debug=debug)
    except Exception as exc:  # a bug while reading one file is an error for that file
        yield internal_error(target.name, None, exc, debug=debug)


def _explained(
    item: Located | InputError, name: str, kinds: KindTable, *, debug: bool
) -> Iterator[explain.Explained | InputError]:
    if isinstance(item, InputError):
        yield item
        return
    try:
        outcome = explain.explain_object(item.obj, kinds, file=name, line_offset=item.line_offset, line=item.line)
    except Exception as exc:  # one object's bug must not hide the others
        yield internal_error(name, item.line, exc, debug=debug)
        return
    if isinstance(outcome, list):
        yield from outcome
    elif outcome is not None:
        yield outcome
