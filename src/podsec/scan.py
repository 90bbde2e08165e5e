"""Run a scan over many files, on every core for large inputs, streaming results in order."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence

from podsec.evaluate import Context
from podsec.findings import FileResult
from podsec.sources.files import Target, scan_target

PARALLEL_MIN_BYTES = 4 * 1024 * 1024
"""Below this much input, worker start-up costs more than it saves."""

_CTX: Context | None = None


def _init(ctx: Context) -> None:
    global _CTX
    _CTX = ctx


def _work(target: Target) -> FileResult:
    assert _CTX is not None
    return scan_target(target, _CTX)


def _total_bytes(targets: Sequence[Target]) -> int:
    total = 0
    for t in targets:
        if t.path is not None:
            try:
                total += os.path.getsize(t.path)
            except OSError:
                pass
    return total


def run(targets: Sequence[Target], ctx: Context, *, jobs: int | None = None) -> Iterator[FileResult]:
    """FileResults in the order of ``targets``.

    Files are spread over ``jobs`` worker processes (default: the number of usable
    cores) when the input is large enough for that to pay off.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = cores if jobs is None else jobs
    parallel = (
        workers > 1
        and len(targets) > 1
        and all(t.path is not None for t in targets)
        and (jobs is not None or _total_bytes(targets) >= PARALLEL_MIN_BYTES)
        and "fork" in multiprocessing.get_all_start_methods()
    )
    if not parallel:
        for target in targets:
            yield scan_target(target, ctx)
        return
    mp = multiprocessing.get_context("fork")
    # Big files first would balance better, but results must come back in order: use
    # small chunks so that one large file does not hold a whole batch back.
    with mp.Pool(workers, initializer=_init, initargs=(ctx,)) as pool:
        yield from pool.imap(_work, targets, chunksize=4)
