"""The webhook's JSON log lines: what `Log.line` writes is what one merged dict would give."""

from __future__ import annotations

import orjson

from podsec.admission.logs import Log


class Lines:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, line: bytes) -> None:
        self.lines.append(line)


def test_a_line_is_time_level_msg_then_the_fields() -> None:
    log, sink = Log(), Lines()
    log.sink = sink  # type: ignore[assignment]
    cases = [
        ("admission review", {"uid": "u", "name": None, "dryRun": False, "ms": 1.25, "reason": 'é\u2028"x'}, "info"),
        ("bad request", {}, "warning"),
        ('odd "message"', {"a": [1, {"b": 2}]}, "error"),
    ]
    for msg, fields, level in cases:
        log.line(msg, fields, level)
        line = sink.lines[-1]
        stamp = orjson.loads(line)["time"]
        assert line == orjson.dumps(
            {"time": stamp, "level": level, "msg": msg, **fields}, option=orjson.OPT_APPEND_NEWLINE
        )
    log.enabled = False
    log.line("admission review", {"uid": "v"})
    assert len(sink.lines) == len(cases)
