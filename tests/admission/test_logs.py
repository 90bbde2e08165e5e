"""The webhook's JSON log lines: what `Log.line` writes is what one merged dict would give."""

from __future__ import annotations

import io
import time

import orjson

from podsec.admission.logs import Log, LogSink


class Lines:
    """A real sink (compiled, `Log.sink` must be a LogSink) over a buffer, read back line by line."""

    def __init__(self) -> None:
        self.stream = io.BytesIO()
        self.sink = LogSink(self.stream)

    def lines(self, count: int, wait: float = 5.0) -> list[bytes]:
        """The lines written, once there are ``count`` (the writer thread writes them soon after)."""
        self.sink.flush()
        deadline = time.monotonic() + wait
        while self.stream.getvalue().count(b"\n") < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.stream.getvalue().splitlines(keepends=True)


def test_a_line_is_time_level_msg_then_the_fields() -> None:
    log, sink = Log(), Lines()
    log.sink = sink.sink
    cases = [
        ("admission review", {"uid": "u", "name": None, "dryRun": False, "ms": 1.25, "reason": 'é\u2028"x'}, "info"),
        ("bad request", {}, "warning"),
        ('odd "message"', {"a": [1, {"b": 2}]}, "error"),
    ]
    for n, (msg, fields, level) in enumerate(cases, 1):
        log.line(msg, fields, level)
        written = sink.lines(n)
        assert len(written) == n
        line = written[-1]
        stamp = orjson.loads(line)["time"]
        assert line == orjson.dumps(
            {"time": stamp, "level": level, "msg": msg, **fields}, option=orjson.OPT_APPEND_NEWLINE
        )
    log.enabled = False
    log.line("admission review", {"uid": "v"})
    assert len(sink.lines(len(cases) + 1, wait=0.5)) == len(cases)  # waited for a line that never comes
