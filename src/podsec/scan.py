"""Run a scan over many files, on every core for large inputs, streaming results in order.

Memory stays flat however many files there are: targets are discovered lazily, at most
`BATCH` of them (give or take a chunk) are in the workers' hands at a time, and results are handed on as they arrive.

The worker pool fails safe (multiprocessing.Pool does not: python/cpython#79492, #103061 --
a result that cannot be unpickled, or a worker that is killed, leaves ``imap`` waiting forever):

- a worker pickles each result itself and hands back only bytes, which always unpickle; the
  parent unpickles them one by one, and a result that fails to is an error for its file;
- the pool is a `concurrent.futures.ProcessPoolExecutor`, which breaks (BrokenProcessPool)
  rather than hangs when a worker dies. Which file killed it cannot be told (several were in
  hand), so every file without a result is read again, each alone in a process of its own:
  the one that dies again is an error naming its file, the others' results count, and the scan
  goes on in a new pool. Such a file is never read in this process: it could kill the run.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from podsec.evaluate import Context
from podsec.findings import FileResult, InputError
from podsec.pipeline import scan_target
from podsec.sources.files import Target, internal_error

if TYPE_CHECKING:  # imported when a pool is made: a serial scan need not
    from concurrent.futures import Future, ProcessPoolExecutor

R = TypeVar("R")

PARALLEL_MIN_BYTES = 4 * 1024 * 1024
"""Below this much input, worker start-up costs more than it saves."""

BATCH = 512
"""About this many files (at most BATCH + CHUNK - 1) are in the workers' hands, or their results
waiting to be handed on."""

CHUNK = 16
"""Files a worker is given at a time."""

Work = Callable[[Target, Context], R]
Failed = Callable[[Target, InputError], R]
"""The result of a file that has none, but an error: ``FileResult(name, errors=[error])`` for a scan."""

Sent = bytes | tuple[str, str | None]
"""What a worker hands back for a file: its result, pickled, or an error (message, traceback)."""

_CTX: Context | None = None
_WORK: Callable[[Target, Context], Any] = scan_target


def _init(ctx: Context, work: Callable[[Target, Context], Any]) -> None:
    global _CTX, _WORK
    _CTX, _WORK = ctx, work


def _one(target: Target) -> Sent:
    """In a worker: one file's result, pickled here, so that nothing the parent cannot read crosses the pipe."""
    assert _CTX is not None
    try:
        return pickle.dumps(_WORK(target, _CTX), pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # work's own bug, or a result that cannot be pickled
        error = internal_error(target.name, None, exc, debug=_CTX.debug)
        return error.message, error.debug


def _chunk(targets: list[Target]) -> list[Sent]:
    return [_one(t) for t in targets]


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
    return run_each(targets, ctx, scan_target, failed=_failed_scan, jobs=jobs)


def _failed_scan(target: Target, error: InputError) -> FileResult:
    return FileResult(target.name, errors=[error])


def run_each(
    targets: Iterable[Target],
    ctx: Context,
    work: Work[R],
    *,
    failed: Failed[R] | None = None,
    jobs: int | None = None,
) -> Iterator[R]:
    """``work(target, ctx)`` for each target, in order, on every core for large inputs (`run`);
    ``work`` is a module-level function (or a partial of one) that worker processes can run.
    Whatever goes wrong with one target (``work`` raises, its worker dies, its result cannot be
    passed back) is ``failed(target, error)`` for that target, and the others go on; without
    ``failed``, a FileResult holding the error (what a scan's work gives)."""
    if failed is None:
        failed = cast(Failed[R], _failed_scan)
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
            yield _here(target, ctx, work, failed)
        return
    yield from _Pool(ctx, work, failed, workers).run(rest)


def _here(target: Target, ctx: Context, work: Work[R], failed: Failed[R]) -> R:
    try:
        return work(target, ctx)
    except Exception as exc:
        return failed(target, internal_error(target.name, None, exc, debug=ctx.debug))


@dataclass
class _Unit:
    """Files handed to the pool together (``future``), or standard input, read here (no future)."""

    targets: list[Target]
    future: Future[list[Sent]] | None = None
    sent: list[Sent] | None = None  # once the pool broke: what each file gave, read alone


def _units(targets: Iterable[Target]) -> Iterator[list[Target]]:
    """Chunks of files, in order; standard input alone (never handed to another process)."""
    chunk: list[Target] = []
    for target in targets:
        if target.path is None:
            if chunk:
                yield chunk
                chunk = []
            yield [target]
            continue
        chunk.append(target)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Pool(Generic[R]):
    def __init__(self, ctx: Context, work: Work[R], failed: Failed[R], workers: int) -> None:
        self.ctx, self.work, self.failed, self.workers = ctx, work, failed, workers
        self.mp: ForkContext = multiprocessing.get_context("fork")
        self.executor: ProcessPoolExecutor | None = None
        self.pending: deque[_Unit] = deque()

    def run(self, targets: Iterable[Target]) -> Iterator[R]:
        units = _units(targets)
        in_hand = 0
        try:
            while True:
                while in_hand < BATCH and (chunk := next(units, None)) is not None:
                    self.pending.append(self._submit(chunk))
                    in_hand += len(chunk)
                if not self.pending:
                    return
                unit = self.pending[0]
                results = self._results(unit)
                self.pending.popleft()
                in_hand -= len(unit.targets)
                yield from results
        finally:
            if self.executor is not None:
                self.executor.shutdown(wait=True, cancel_futures=True)

    def _submit(self, chunk: list[Target]) -> _Unit:
        if chunk[0].path is None:
            return _Unit(chunk)
        try:
            return _Unit(chunk, self._executor().submit(_chunk, chunk))
        except Exception:  # BrokenProcessPool: a worker died since the last result was taken
            self._recover()
            return _Unit(chunk, self._executor().submit(_chunk, chunk))

    def _executor(self) -> ProcessPoolExecutor:
        if self.executor is None:  # its workers are forked from this thread, with no other thread of ours running
            from concurrent.futures import ProcessPoolExecutor

            self.executor = ProcessPoolExecutor(
                self.workers, mp_context=self.mp, initializer=_init, initargs=(self.ctx, self.work)
            )
        return self.executor

    def _results(self, unit: _Unit) -> list[R]:
        if unit.future is None:
            return [_here(t, self.ctx, self.work, self.failed) for t in unit.targets]
        if unit.sent is None:
            try:
                unit.sent = unit.future.result()
            except Exception:  # BrokenProcessPool, or the files could not be handed to a worker (not picklable)
                self._recover()
            assert unit.sent is not None
        return [self._received(t, s) for t, s in zip(unit.targets, unit.sent, strict=True)]

    def _recover(self) -> None:
        """A worker died: read again, each alone, every file in hand that has no result; then a new pool.
        (The pool is shut down first, so that no thread of it runs while those processes are forked.)"""
        if self.executor is not None:
            self.executor.shutdown(wait=True)  # every future is done now, with its result or broken
            self.executor = None
        for unit in self.pending:
            if unit.future is None or unit.sent is not None:
                continue
            try:
                unit.sent = unit.future.result()
            except Exception:
                unit.sent = [self._alone(t) for t in unit.targets]

    def _alone(self, target: Target) -> Sent:
        """One file's result from a process of its own; an error naming the file if that dies too."""
        reader, writer = self.mp.Pipe(duplex=False)
        process = self.mp.Process(target=_alone_child, args=(writer, target, self.ctx, self.work), daemon=True)
        process.start()
        writer.close()
        try:
            sent = cast(Sent, reader.recv())
        except (EOFError, OSError):  # it died before it was done
            sent = None
        finally:
            reader.close()
        process.join()
        return sent if sent is not None else (_died(process.exitcode), None)

    def _received(self, target: Target, sent: Sent) -> R:
        if isinstance(sent, tuple):
            message, trace = sent
            return self.failed(target, InputError(target.name, None, message, debug=trace))
        try:
            return cast(R, pickle.loads(sent))
        except Exception as exc:  # e.g. a class whose __setstate__ raises (mypyc's frozen dataclasses did)
            during = "passing this file's result back from its worker process"
            return self.failed(target, internal_error(target.name, None, exc, debug=self.ctx.debug, during=during))


def _alone_child(writer: Connection, target: Target, ctx: Context, work: Callable[[Target, Context], Any]) -> None:
    _init(ctx, work)
    writer.send(_one(target))
    writer.close()


def _died(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"it was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"it was killed by signal {-exitcode}"
    else:
        how = f"it exited with status {exitcode}"
    return f"the worker process reading this file died ({how}; out of memory?): nothing of this file was scanned"
