"""The one place that knows the Rego engine (regorus, via gordon-to-regorus): a small adapter.

Swap the engine here and nowhere else. regorus's ``Engine`` is not thread-safe
(pyo3 ``unsendable``) and is built lazily, so each worker process makes its own.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("RUST_BACKTRACE", "0")  # engine errors carry a backtrace otherwise

_LOCATION = re.compile(r"-->\s*(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)")
_MESSAGE = re.compile(r"^error:\s*(?P<msg>.+)$", re.MULTILINE)


class RegoError(Exception):
    """A policy that cannot be loaded or evaluated, with the policy file's position when known."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message, self.file, self.line, self.column = message, file, line, column

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line, self.column) if p is not None)
        return f"{where}: {self.message}" if where else self.message


def _error(exc: Exception) -> RegoError:
    text = str(exc).split("\nStack backtrace:")[0]
    loc, msg = _LOCATION.search(text), _MESSAGE.search(text)
    message = msg.group("msg").strip() if msg else text.strip().splitlines()[-1] if text.strip() else "error"
    if loc is None:
        return RegoError(message)
    return RegoError(message, loc.group("file"), int(loc.group("line")), int(loc.group("col")))


@dataclass(frozen=True, slots=True)
class Source:
    path: str
    text: str
    v0: bool


class Engine:
    """Modules of one Rego syntax, compiled once; evaluates rules against an input."""

    def __init__(self, sources: Sequence[Source], v0: bool) -> None:
        self._sources, self._v0 = tuple(sources), v0
        self._engine: Any = None

    def _get(self) -> Any:
        if self._engine is None:
            import regorus  # type: ignore[import-untyped]

            engine = regorus.Engine()
            engine.set_rego_v0(self._v0)
            for src in self._sources:
                try:
                    engine.add_policy(src.path, src.text)
                except RuntimeError as exc:
                    raise _error(exc) from None
            self._engine = engine
        return self._engine

    def compile(self) -> list[str]:
        """Load every module now (syntax errors surface here); the packages defined."""
        packages: list[str] = self._get().get_packages()
        return packages

    def evaluate(self, rule: str, input_json: str, data_json: str | None) -> list[Any]:
        """The values of the set/array rule ``rule`` (``data.pkg.deny``); [] when undefined."""
        engine = self._get()
        try:
            engine.set_input_json(input_json)
            if data_json is not None:
                engine.clear_data()
                engine.add_data_json(data_json)
            raw = engine.eval_rule_as_json(rule)
        except RuntimeError as exc:
            raise _error(exc) from None
        try:
            value = json.loads(raw) if raw else []
        except (ValueError, RecursionError) as exc:  # e.g. a number of more than 4,300 digits
            raise RegoError(f"the result of {rule} cannot be read: {exc}") from None
        if value is None:
            return []
        if isinstance(value, list):
            return value
        return [value]


def check_syntax(path: str, text: str, v0: bool) -> None:
    """Raise RegoError when ``text`` does not parse in the given syntax."""
    Engine([Source(path, text, v0)], v0).compile()
