"""Worker processes for reviews too large to answer on the event loop.

Each worker (`podsec.admission.worker`) takes one review at a time. Jobs wait in a queue of
bounded length; a full queue is refused at once (`Overloaded`). The server gives every job
a deadline: a job still queued then is dropped, and a worker still busy with it is killed
and replaced, so an expensive review can hold a worker no longer than its deadline and never
delays a review queued behind it past that bound. A worker whose resident memory has grown
past ``rss_limit`` after a review is retired and replaced (Python keeps freed memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import struct
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from podsec.admission.logs import bounded

log = logging.getLogger("podsec.webhook")
_HEAD = struct.Struct(">II")
Lookup = Callable[[str], Awaitable[tuple[bool, Mapping[str, str] | None]]]


class Overloaded(Exception):
    """Every worker is busy and the queue is full."""


class WorkerFailed(Exception):
    """The worker died, or failed internally, while reviewing."""


@dataclass(eq=False)
class Job:
    endpoint: str
    raw: bytes
    today: str
    lookup: Lookup
    known: bool | None = None  # with labels: the server has read the request already
    labels: Mapping[str, str] | None = None
    uid: str | None = None  # learned from the worker's "head", or given
    may_deny: bool = True
    id: int = 0
    # ("done", header, body) | ("bad", header, b"") ; WorkerFailed as exception
    result: asyncio.Future[tuple[str, dict[str, Any], bytes]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(eq=False)
class _Worker:
    proc: asyncio.subprocess.Process
    job: Job | None = None
    ready: bool = False
    dead: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def _frame(header: dict[str, Any], body: bytes = b"") -> bytes:
    data = orjson.dumps(header)
    return _HEAD.pack(len(data), len(body)) + data + body


class Pool:
    def __init__(self, size: int, argv: list[str], *, queue: int, rss_limit: int) -> None:
        self.size, self.argv, self.queue_limit, self.rss_limit = size, argv, queue, rss_limit
        self.workers: list[_Worker] = []
        self.idle: deque[_Worker] = deque()
        self.pending: deque[Job] = deque()
        self.ids = itertools.count(1)
        self.restarts = 0
        self.stopping = False
        self._ready = asyncio.Event()

    @property
    def ready(self) -> bool:
        return any(w.ready for w in self.workers)

    @property
    def busy(self) -> int:
        return sum(1 for w in self.workers if w.job is not None)

    async def start(self, timeout: float = 120.0) -> None:
        for _ in range(self.size):
            await self._spawn()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)

    async def _spawn(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        w = _Worker(proc)
        self.workers.append(w)
        w.tasks = [asyncio.create_task(self._read(w)), asyncio.create_task(self._stderr(w))]

    def submit(self, job: Job) -> None:
        """Start ``job`` on an idle worker or queue it; Overloaded when the queue is full."""
        while self.idle:
            w = self.idle.popleft()
            if not w.dead:
                self._assign(w, job)
                return
        if len(self.pending) >= self.queue_limit:
            raise Overloaded
        self.pending.append(job)

    def abandon(self, job: Job) -> None:
        """The job's deadline passed: drop it from the queue, or kill the worker reviewing it."""
        if not job.result.done():
            job.result.cancel()
        with contextlib.suppress(ValueError):
            self.pending.remove(job)
            return
        for w in self.workers:
            if w.job is job and not w.dead:
                log.warning("review worker killed: its review passed the deadline", extra={"fields": {"uid": job.uid}})
                self._kill(w)

    def _kill(self, w: _Worker) -> None:
        w.dead = True
        with contextlib.suppress(ProcessLookupError):
            w.proc.kill()

    def _assign(self, w: _Worker, job: Job) -> None:
        job.id = next(self.ids)
        w.job = job
        header: dict[str, Any] = {"t": "job", "id": job.id, "endpoint": job.endpoint, "today": job.today}
        if job.known is not None:
            header.update(known=job.known, labels=job.labels)
        assert w.proc.stdin is not None
        head = orjson.dumps(header)
        w.proc.stdin.write(_HEAD.pack(len(head), len(job.raw)) + head)
        w.proc.stdin.write(job.raw)  # not joined to the header: that would copy the body while it is sent

    def _next(self, w: _Worker) -> None:
        """``w`` is free: give it the next live job, or mark it idle."""
        while self.pending:
            job = self.pending.popleft()
            if not job.result.done():
                self._assign(w, job)
                return
        self.idle.append(w)

    async def _read(self, w: _Worker) -> None:
        out = w.proc.stdout
        assert out is not None
        try:
            while True:
                hlen, blen = _HEAD.unpack(await out.readexactly(_HEAD.size))
                header = orjson.loads(await out.readexactly(hlen))
                body = await out.readexactly(blen) if blen else b""
                if not await self._message(w, header, body):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, struct.error):
            pass
        finally:
            await self._gone(w)

    async def _message(self, w: _Worker, header: dict[str, Any], body: bytes) -> bool:
        """Act on one message from ``w``: False when ``w`` is retired and reads no more."""
        kind = header.get("t")
        if kind == "ready":
            w.ready = True
            self._ready.set()
            self._next(w)
            return True
        job = w.job
        if job is None or header.get("id") != job.id:
            return True
        if kind == "head":
            job.uid, job.may_deny = header.get("uid"), bool(header.get("enforcing", True))
            known, labels = await job.lookup(str(header.get("namespace") or ""))
            if w.job is job and not w.dead:
                assert w.proc.stdin is not None
                w.proc.stdin.write(_frame({"t": "labels", "id": job.id, "known": known, "labels": labels}))
            return True
        w.job = None
        if not job.result.done():
            if kind == "error":
                job.result.set_exception(WorkerFailed(str(header.get("reason"))))
            else:
                job.result.set_result((str(kind), header, body))
        if kind == "done" and int(header.get("rss") or 0) > self.rss_limit:
            log.info("review worker retired: memory", extra={"fields": {"rss": header.get("rss")}})
            self._kill(w)
            return False
        self._next(w)
        return True

    async def _gone(self, w: _Worker) -> None:
        w.dead = True
        job, w.job = w.job, None
        if job is not None and not job.result.done():
            job.result.set_exception(WorkerFailed("the worker process exited"))
        with contextlib.suppress(ProcessLookupError):
            w.proc.kill()
        await w.proc.wait()
        if w in self.workers:
            self.workers.remove(w)
        if not self.stopping:
            self.restarts += 1
            await self._spawn()

    async def _stderr(self, w: _Worker) -> None:
        err = w.proc.stderr
        assert err is not None
        while chunk := await err.read(4096):
            log.warning("review worker said", extra={"fields": {"stderr": bounded(chunk.decode("utf-8", "replace"))}})

    async def stop(self) -> None:
        self.stopping = True
        for w in list(self.workers):
            if w.proc.stdin is not None:
                w.proc.stdin.close()
        await asyncio.sleep(0)
        for w in list(self.workers):
            try:
                await asyncio.wait_for(w.proc.wait(), 2.0)
            except TimeoutError:
                self._kill(w)
        for w in list(self.workers):
            for t in w.tasks:
                t.cancel()
