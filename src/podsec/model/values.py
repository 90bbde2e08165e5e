"""`Frozen`: the base of frozen dataclasses whose values cross process boundaries (scan workers).

Compiled by mypyc, a class without its own ``__getstate__``/``__setstate__`` gets mypyc's default
pair, whose ``__setstate__`` assigns each field with ``setattr``; a frozen dataclass's
``__setattr__`` refuses that (``FrozenInstanceError``), so unpickling a compiled frozen value
failed, which killed the pool's result-handler thread and left a parallel scan spinning forever.
This pair sets the fields as the frozen ``__init__`` does; pure Python, ``dataclasses`` gives a
frozen slotted class an equivalent pair of its own, which takes precedence.
"""

from __future__ import annotations

import dataclasses
from typing import Any


class Frozen:
    __slots__ = ()

    def __getstate__(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
