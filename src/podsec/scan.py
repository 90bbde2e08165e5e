"""Run a scan over many files, on every core for large inputs, streaming results in order.

Memory stays flat however many files there are: targets are discovered lazily and fed
to the workers in bounded batches, and results are handed on as they arrive.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from podsec.evaluate import Context
from podsec.findings import FileResult
from podsec.pipeline import scan_target
from podsec.sources.files import Target

R = TypeVar("R")

PARALLEL_MIN_BYTES = 4 * 1024 * 1024
"""Below this much input, worker start-up costs more than it saves."""

BATCH = 512
"""Files handed to the pool at a time (Pool.imap would otherwise queue every task)."""

_CTX: Context | None = None
_WORK: Callable[[Target, Context], Any] = scan_target


def _init(ctx: Context, work: Callable[[Target, Context], Any]) -> None:
    global _CTX, _WORK
    _CTX, _WORK = ctx, work


def _work(target: Target) -> Any:
    assert _CTX is not None
    return _WORK(target, _CTX)


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _size(target: Target) -> int:
    try:
        return os.path.getsize(target.path) if target.path is not None else PARALLEL_MIN_BYTES
    except OSError:
        return 0


def run(targets: Iterable[Target], ctx: Context, *, jobs: int | None = None) -> Iterator[FileResult]:
    """FileResults in the order of ``targets``.

    Files are spread over ``jobs`` worker processes (default: the usable cores) when
    the input is large enough for that to pay off; standard input is read in this process.
    """
    return run_each(targets, ctx, scan_target, jobs=jobs)


def run_each(
    targets: Iterable[Target], ctx: Context, work: Callable[[Target, Context], R], *, jobs: int | None = None
) -> Iterator[R]:
    """``work(target, ctx)`` for each target, in order, on every core for large inputs (`run`);
    ``work`` is a module-level function (or a partial of one) that worker processes can run."""
    workers = usable_cores() if jobs is None else jobs
    it = iter(targets)
    head: list[Target] = []
    seen = 0
    for target in it:  # look ahead just far enough to decide
        head.append(target)
        seen += _size(target)
        if seen >= PARALLEL_MIN_BYTES:
            break
    rest = itertools.chain(head, it)
    parallel = (
        workers > 1
        and (jobs is not None or seen >= PARALLEL_MIN_BYTES)
        and "fork" in multiprocessing.get_all_start_methods()
    )
    if not parallel:
        for target in rest:
            yield work(target, ctx)
        return
    mp = multiprocessing.get_context("fork")
    with mp.Pool(workers, initializer=_init, initargs=(ctx, work)) as pool:
        while batch := list(itertools.islice(rest, BATCH)):
            stdin = [t for t in batch if t.path is None]
            if stdin:  # never hand standard input to another process
                for t in batch:
                    yield work(t, ctx) if t.path is None else pool.apply(_work, (t,))
                continue
            yield from pool.imap(_work, batch, chunksize=16)
