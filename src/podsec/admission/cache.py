"""A least-recently-used cache bounded in bytes, not entries: the webhook's memory must not
depend on what clients send (one 10,000-container pod's evaluation outweighs thousands of small
ones)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class ByteLRU(Generic[V]):
    """Entries with a size each; the total stays within ``budget`` bytes, least recently used first out.

    An entry larger than ``budget // 16`` is not kept at all, so one huge value cannot flush the
    cache. Sizes are the caller's estimate of what an entry holds (keys included).
    """

    __slots__ = ("_entries", "budget", "max_entry", "size")

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.max_entry = budget // 16
        self.size = 0
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> V | None:
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]

    def put(self, key: Hashable, value: V, size: int) -> None:
        if size > self.max_entry:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.size -= old[1]
        self._entries[key] = (value, size)
        self.size += size
        while self.size > self.budget:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.size -= dropped
