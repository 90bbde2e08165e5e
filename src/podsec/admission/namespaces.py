"""Namespace labels for the webhook: from the config file, or from the API through a watch-fed cache.

The cache is filled by a list, then kept current by a watch; it restarts with back-off
when the API is unreachable. A namespace not in the cache (created a moment ago) is
fetched once. A lookup that cannot be answered is reported as unknown, and the review
applies Pod Security Admission's fallback (pods denied, workloads allowed and audited).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any, Protocol

log = logging.getLogger("podsec.webhook")


class NamespaceLabels(Protocol):
    @property
    def ready(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def lookup(self, name: str) -> tuple[bool, Mapping[str, str] | None]:
        """(known, labels); known is False when the labels could not be read."""
        ...

    def cached(self, name: str) -> tuple[bool, Mapping[str, str] | None] | None:
        """`lookup`'s answer when it is at hand without waiting, else None (then await `lookup`):
        a review spares a coroutine in the common case."""
        ...


class StaticNamespaces:
    """Labels given in the config file; a namespace not listed has no labels."""

    def __init__(self, labels: Mapping[str, Mapping[str, str]]) -> None:
        self._labels = labels

    @property
    def ready(self) -> bool:
        return True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def lookup(self, name: str) -> tuple[bool, Mapping[str, str] | None]:
        return True, self._labels.get(name, {})

    def cached(self, name: str) -> tuple[bool, Mapping[str, str] | None]:
        return True, self._labels.get(name, {})


def _labels(ns: Any) -> dict[str, str]:
    return dict((ns.metadata.labels if ns.metadata else None) or {})


class WatchedNamespaces:
    """Namespaces through lightkube: list, then watch; ready once the first list has arrived."""

    def __init__(self, client: Any, *, lookup_timeout: float = 2.0, max_backoff: float = 30.0) -> None:
        self._client = client
        self._cache: dict[str, dict[str, str]] = {}
        self._ready = False
        self._task: asyncio.Task[None] | None = None
        self._lookup_timeout = lookup_timeout
        self._max_backoff = max_backoff

    @property
    def ready(self) -> bool:
        return self._ready

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="namespace-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        from lightkube.resources.core_v1 import Namespace

        backoff = 0.25
        while True:
            try:
                fresh = {}
                async for ns in self._client.list(Namespace):
                    fresh[ns.metadata.name] = _labels(ns)
                self._cache, self._ready, backoff = fresh, True, 0.25
                log.info("namespace cache synced", extra={"fields": {"namespaces": len(fresh)}})
                async for event, ns in self._client.watch(Namespace):
                    if event == "DELETED":
                        self._cache.pop(ns.metadata.name, None)
                    else:
                        self._cache[ns.metadata.name] = _labels(ns)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "namespace watch failed; retrying", extra={"fields": {"error": str(exc), "retry_in": backoff}}
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    def cached(self, name: str) -> tuple[bool, Mapping[str, str] | None] | None:
        labels = self._cache.get(name)
        return None if labels is None else (True, labels)

    async def lookup(self, name: str) -> tuple[bool, Mapping[str, str] | None]:
        found = self.cached(name)
        if found is not None:
            return found
        from lightkube import ApiError
        from lightkube.resources.core_v1 import Namespace

        try:
            ns = await asyncio.wait_for(self._client.get(Namespace, name), self._lookup_timeout)
        except ApiError as exc:
            if exc.status.code == 404:
                return True, {}
            return False, None
        except Exception:
            return False, None
        labels = _labels(ns)
        self._cache[name] = labels
        return True, labels
