"""A Go oracle (tools/psa-oracle, tools/vap-oracle) driven as a child process: one JSON request
per line on its standard input, one JSON answer per line on its standard output."""

from __future__ import annotations

import json
import pathlib
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Oracle:
    def __init__(self, path: pathlib.Path) -> None:
        self.proc = subprocess.Popen([str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        assert "error" not in answer, answer
        return answer

    def close(self) -> None:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.close()
        self.proc.wait(10)
        self.proc.stdout.close()


@contextmanager
def running(path: pathlib.Path) -> Iterator[Oracle]:
    o = Oracle(path)
    try:
        yield o
    finally:
        o.close()
