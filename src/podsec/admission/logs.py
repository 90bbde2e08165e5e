"""JSON log lines that never block a review.

Lines go into a queue bounded in bytes; a thread writes them to the stream. When the stream
blocks (a stderr pipe nobody reads) the queue fills, further lines are dropped and counted,
and a line saying how many were lost is written once the stream moves again. Every field is
bounded (`bounded`), so no client value can make a line large.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import IO, Any

import orjson

MAX_FIELD = 256  # characters of one string field
QUEUE_BYTES = 4 * 1024 * 1024


def bounded(value: Any, limit: int = MAX_FIELD) -> Any:
    """A field value fit for a log line: scalars as they are, strings cut to ``limit`` characters
    (lone surrogates replaced), anything else as a short description."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        text = value if len(value) <= limit else value[:limit] + f"\u2026 ({len(value)} characters)"
        try:
            text.encode()
        except UnicodeEncodeError:
            text = text.encode("utf-8", "replace").decode()
        return text
    return f"<{type(value).__name__}>"


class LogSink:
    """A bounded queue of log lines and the thread that writes them."""

    def __init__(self, stream: IO[bytes], *, capacity: int = QUEUE_BYTES) -> None:
        self.stream = stream
        self.capacity = capacity
        self.queued = 0
        self.dropped = 0
        self._lines: collections.deque[bytes] = collections.deque()
        self._ready = threading.Condition(threading.Lock())
        self._thread = threading.Thread(target=self._run, name="podsec-log-writer", daemon=True)
        self._thread.start()

    def write(self, line: bytes) -> None:
        """Queue one line (ending in a newline); never blocks. A full queue drops the line."""
        with self._ready:
            if self.queued + len(line) > self.capacity:
                self.dropped += 1
                return
            self._lines.append(line)
            self.queued += len(line)
            self._ready.notify()

    def _run(self) -> None:
        lost = 0
        while True:
            with self._ready:
                while not self._lines:
                    self._ready.wait()
                batch = list(self._lines)
                self._lines.clear()
                size = sum(len(x) for x in batch)
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
            with self._ready:
                self.queued -= size

    def flush(self, timeout: float = 2.0) -> None:
        """Wait (bounded) until the queue is written: for shutdown."""
        deadline = time.monotonic() + timeout
        while self.queued and time.monotonic() < deadline:
            time.sleep(0.01)


_STAMP: list[Any] = [None, ""]


def _now() -> str:
    """The log timestamp, in milliseconds; the date part is formatted once a second."""
    now = time.time()
    second = int(now)
    if _STAMP[0] != second:
        _STAMP[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    return f"{_STAMP[1]}.{int(now * 1000) % 1000:03d}Z"


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
            self.sink.write(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))
        except Exception:  # logging must never break serving
            self.handleError(record)


class Log:
    """Where the webhook's lines go: ``info`` for decisions (the hot path), the logging module for the rest."""

    def __init__(self) -> None:
        self.sink: LogSink | None = None
        self.enabled = True

    def line(self, msg: str, fields: dict[str, Any], level: str = "info") -> None:
        """One JSON line; fields must already be bounded (see `bounded`)."""
        if self.sink is None or not self.enabled:
            return
        self.sink.write(
            orjson.dumps({"time": _now(), "level": level, "msg": msg, **fields}, option=orjson.OPT_APPEND_NEWLINE)
        )


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
