"""The webhook server's settings and shared state: what its endpoints and its life cycle read."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qs

from starlette.types import Scope

from podsec.admission.guard import BodyBudget, Limits
from podsec.admission.logs import QUEUE_BYTES
from podsec.admission.metrics import Metrics
from podsec.admission.namespaces import NamespaceLabels
from podsec.admission.pool import Pool
from podsec.admission.review import Reviewer
from podsec.admission.tls import CertReloader

MiB = 1024 * 1024
log = logging.getLogger("podsec.webhook")
# Measured on CPython 3.11 (README, "Webhook limits"): resident memory of a started server, of a
# worker's code and libraries (shared pages excluded from its heap limit), per open TLS connection
# (OpenSSL's buffers and uvicorn's: at most 48 KiB measured; plus answers the client has not read:
# up to the 64 KiB write buffer's mark and one answer of at most 96 KiB, a bounded patch), and of
# an inline review per body byte (parsed JSON and views).
BASE_MAIN = 80 * MiB
BASE_WORKER_CODE = 24 * MiB
PER_CONNECTION = 208 * 1024
INLINE_PEAK_PER_BYTE = 128
CACHE_BYTES = 16 * MiB


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """The server's bounds. Defaults and why: see the README, "Webhook limits"."""

    workers: int = 2
    deadline: float = 8.0  # seconds per review, and within the API server's ?timeout= (the manifests': 10)
    queue: int = 8  # reviews waiting for a worker
    # What a real API server sends (measured, kube-apiserver 1.37): a pod's review carries its
    # defaults and managedFields, ~315 bytes a minimal container; etcd stores no pod past about
    # 27,000 of them, whose UPDATE (object and oldObject) is ~16 MB. (The 3 MiB request of
    # 90,000 arrives as 28 MB, in a dry run only: it is refused, 413, failing closed.)
    max_body: int = 16 * MiB
    body_budget: int = 32 * MiB  # bodies held at once, all requests together
    inline_bytes: int = 64 * 1024
    inline_containers: int = 64
    # Each worker's heap (RLIMIT_DATA); replaced after a review above half of it. A 16 MiB review
    # as the API server sends it needs 128 MiB (parsed by `handling.read_large`; evaluated a slice
    # of containers at a time); a review that needs more gets the failure mode.
    worker_memory: int = 160 * MiB
    limits: Limits = field(default_factory=Limits)

    def memory_bound(self) -> int:
        """The most memory the server and its workers can hold, in bytes (README, "Webhook limits").

        Main process: its start-up size, the body budget and one body's copy (a body that came
        in parts is joined, one at a time), every connection's TLS and HTTP buffers with the
        answers its client has not read yet, the evaluation cache, the log queue and an inline
        review; each worker: its heap limit and its code.
        """
        main = BASE_MAIN + self.body_budget + self.max_body + self.limits.max_connections * PER_CONNECTION
        main += CACHE_BYTES + 2 * QUEUE_BYTES + INLINE_PEAK_PER_BYTE * self.inline_bytes
        return main + self.workers * (self.worker_memory + BASE_WORKER_CODE)


class Today:
    """``date.today()``, asked of the C library at most once a second (the hot path calls it per review)."""

    def __init__(self) -> None:
        self._second, self._day = -1, date.today()

    def __call__(self) -> date:
        second = int(time.time())
        if second != self._second:
            self._second, self._day = second, date.today()
        return self._day


@dataclass
class State:
    reviewer: Reviewer
    namespaces: NamespaceLabels
    metrics: Metrics = field(default_factory=Metrics)
    certs: CertReloader | None = None
    reload_interval: float = 10.0
    shutting_down: bool = False
    loop: asyncio.AbstractEventLoop | None = None  # set at startup, for the signal handler
    today: Callable[[], date] = field(default_factory=Today)
    settings: ServerSettings = field(default_factory=ServerSettings)
    pool: Pool | None = None  # None: every review on the event loop (tests of the review logic)
    budget: BodyBudget = field(default_factory=lambda: BodyBudget(ServerSettings().body_budget))
    server: Any = None  # the uvicorn server, for its connection count

    def deadline(self, scope: Scope) -> float:
        """Seconds this review may take: the configured deadline, and within the API server's
        ``?timeout=`` less a tenth of it (at least half a second) for the answer to travel back."""
        seconds = self.settings.deadline
        query = scope.get("query_string") or b""
        if b"timeout=" in query:
            values = parse_qs(query.decode("latin-1")).get("timeout") or [""]
            text = values[0].strip().lower().removesuffix("s")
            with contextlib.suppress(ValueError):
                timeout = float(text)
                seconds = min(seconds, max(0.2, timeout - max(0.5, timeout / 10)))
        return seconds
