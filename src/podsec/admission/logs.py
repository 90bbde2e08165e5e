"""JSON log lines that never block a review.

Lines go into a queue bounded in bytes; a thread writes them to the stream. When the stream
blocks (a stderr pipe nobody reads) the queue fills, further lines are dropped and counted,
and a line saying how many were lost is written once the stream moves again. Every field is
bounded (`bounded`), so no client value can make a line large.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from typing import IO, Any

import orjson

MAX_FIELD = 256  # characters of one string field
QUEUE_BYTES = 4 * 1024 * 1024
FLUSH_BYTES = 64 * 1024  # wake the writer at once past this; otherwise it writes every FLUSH_SECONDS
FLUSH_SECONDS = 0.05


def bounded(value: Any, limit: int = MAX_FIELD) -> Any:
    """A field value fit for a log line: scalars as they are, strings cut to ``limit`` characters,
    anything else as a short description."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + f"\u2026 ({len(value)} characters)"
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return f"<{type(value).__name__}>"


class LogSink:
    """A bounded queue of log lines and the thread that writes them.

    The event loop only appends to a deque (atomic in CPython) and adds to a byte count it
    alone writes; the writer thread pops lines and adds to its own count. No lock on the hot
    path; the writer is woken by the first line after a batch (or past FLUSH_BYTES), gathers
    lines for FLUSH_SECONDS and writes them at once, and sleeps while there is nothing to write.
    The wake-up is a put into a SimpleQueue (C, no lock held by Python code): a threading.Event's
    set() runs a Condition's Python code, a few thousand instructions per batch on the loop.
    """

    def __init__(self, stream: IO[bytes], *, capacity: int = QUEUE_BYTES) -> None:
        self.stream = stream
        self.capacity = capacity
        self.produced = 0  # bytes queued, ever (written by the producer only)
        self.consumed = 0  # bytes taken by the writer, ever (written by the writer only)
        self.dropped = 0
        self._lines: collections.deque[bytes] = collections.deque()
        self._bell: queue.SimpleQueue[None] = queue.SimpleQueue()
        # not "_thread": mypyc names the C field after the attribute, and "__thread" is a C keyword
        self._writer = threading.Thread(target=self._run, name="podsec-log-writer", daemon=True)
        self._writer.start()

    @property
    def queued(self) -> int:
        return self.produced - self.consumed

    def write(self, line: bytes) -> None:
        """Queue one line (ending in a newline); never blocks. A full queue drops the line.
        Lines are written in batches, at most FLUSH_SECONDS after they were queued."""
        queued = self.produced - self.consumed
        if queued + len(line) > self.capacity:
            self.dropped += 1
            return
        lines = self._lines
        first = not lines
        lines.append(line)
        self.produced += len(line)
        if first or queued >= FLUSH_BYTES:
            self._bell.put(None)

    def _run(self) -> None:
        lost = 0
        lines = self._lines
        bell = self._bell
        while True:
            bell.get()
            if self.queued < FLUSH_BYTES:
                time.sleep(FLUSH_SECONDS)  # gather a batch: one write for many lines
            while not bell.empty():  # the rings of this batch's lines: one wake-up for all
                bell.get_nowait()
            if not lines:
                continue
            batch = []
            size = 0
            while lines:
                line = lines.popleft()
                batch.append(line)
                size += len(line)
            if self.dropped > lost:
                note = {"time": _now(), "level": "warning", "msg": "log lines dropped: the log stream was blocked",
                        "dropped": self.dropped - lost}  # fmt: skip
                batch.insert(0, orjson.dumps(note, option=orjson.OPT_APPEND_NEWLINE))
                lost = self.dropped
            try:
                self.stream.write(b"".join(batch))  # may block: only this thread waits
                self.stream.flush()
            except (OSError, ValueError):
                pass  # a closed or broken stream: nothing to tell it
            self.consumed += size

    def flush(self, timeout: float = 2.0) -> None:
        """Wait (bounded) until the queue is written: for shutdown."""
        self._bell.put(None)
        deadline = time.monotonic() + timeout
        while self.queued and time.monotonic() < deadline:
            time.sleep(0.01)


_STAMP: list[Any] = [None, ""]
_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))  # formatting them was most of a line's time stamp


def _now() -> str:
    """The log timestamp, in milliseconds; the date part is formatted once a second."""
    now = time.time()
    second = int(now)
    if _STAMP[0] != second:
        _STAMP[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    day: str = _STAMP[1]
    return day + _MILLIS[int(now * 1000) % 1000]


class SinkHandler(logging.Handler):
    """The logging module's records (uvicorn's, the namespace watch's) as JSON lines into a LogSink."""

    def __init__(self, sink: LogSink) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry: dict[str, Any] = {
                "time": _now(),
                "level": record.levelname.lower(),
                "msg": bounded(record.getMessage(), 1024),
            }
            for key, value in (getattr(record, "fields", None) or {}).items():
                entry[key] = bounded(value)
            if record.exc_info and record.exc_info[1] is not None:
                entry["error"] = bounded(repr(record.exc_info[1]), 1024)
            try:
                line = orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE)
            except TypeError:  # e.g. a lone surrogate in a message: replace what cannot be written
                line = orjson.dumps({k: v.encode("utf-8", "replace").decode() if isinstance(v, str) else v
                                     for k, v in entry.items()}, option=orjson.OPT_APPEND_NEWLINE)  # fmt: skip
            self.sink.write(line)
        except Exception:  # logging must never break serving, nor write to a stream that may block
            pass


class Log:
    """Where the webhook's lines go: ``info`` for decisions (the hot path), the logging module for the rest."""

    def __init__(self) -> None:
        self.sink: LogSink | None = None
        self.enabled = True
        self._heads: dict[tuple[str, str], bytes] = {}

    def line(self, msg: str, fields: dict[str, Any], level: str = "info") -> None:
        """One JSON line; fields must already be bounded (see `bounded`) and be neither time, level
        nor msg. The same bytes as one dict's ``{"time", "level", "msg", **fields}``, without
        building it: a review's line is the hot path."""
        sink = self.sink
        if sink is None or not self.enabled:
            return
        head = self._heads.get((level, msg))
        if head is None:
            head = b'",' + orjson.dumps({"level": level, "msg": msg})[1:-1]  # '","level":…,"msg":…'
            if len(self._heads) < 64:  # the messages are the program's own: a handful
                self._heads[level, msg] = head
        rest = orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)  # '{…}\n'
        if len(rest) > 3:
            sink.write(b"".join((b'{"time":"', _now().encode(), head, b",", rest[1:])))
        else:
            sink.write(b"".join((b'{"time":"', _now().encode(), head, b"}\n")))


LOG = Log()


def setup(stream: IO[bytes], level: int = logging.INFO) -> LogSink:
    """Route podsec's and uvicorn's logging through one non-blocking sink on ``stream``."""
    sink = LogSink(stream)
    LOG.sink = sink
    handler = SinkHandler(sink)
    for name in ("podsec", "uvicorn", "uvicorn.error", "uvicorn.access", "asyncio"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level if name.startswith("podsec") else logging.WARNING)
        logger.propagate = False
    return sink
