"""Leader election through a ``coordination.k8s.io/v1`` Lease, as client-go's leaderelection does:
the holder renews it every ``duration / 3`` seconds; another replica takes it over only once it
has not been renewed for ``duration`` seconds. Updates carry the resourceVersion read, so two
replicas racing for it cannot both win (the loser gets 409 Conflict)."""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from podsec.cluster.api import Api, ApiError, ClusterError

LOG = logging.getLogger("podsec.monitor")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _micro(t: datetime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: Any) -> datetime.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class Elector:
    def __init__(self, api: Api, namespace: str, name: str, identity: str, *, duration: float = 15.0) -> None:
        self.api, self.identity, self.duration = api, identity, duration
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{quote(namespace, safe='')}/leases"
        self.name, self.namespace = name, namespace

    def _spec(self, acquired: Any, transitions: int) -> dict[str, Any]:
        now = _micro(_now())
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, int(self.duration)),
            "acquireTime": acquired or now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    def try_acquire(self) -> bool:
        """Take or renew the Lease; whether this replica holds it now."""
        try:
            lease = self.api.get(f"{self.path}/{quote(self.name, safe='')}")
        except ApiError as exc:
            if exc.status != 404:
                raise
            meta = {"name": self.name, "namespace": self.namespace}
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": meta,
                "spec": self._spec(None, 0),
            }
            try:
                self.api.request("POST", self.path, body=body)
            except ApiError as err:
                if err.status == 409:
                    return False  # another replica created it first
                raise
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        renewed = _parse(spec.get("renewTime"))
        duration = float(spec.get("leaseDurationSeconds") or self.duration)
        expired = renewed is None or (_now() - renewed).total_seconds() > duration
        if holder not in (self.identity, None, "") and not expired:
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + (holder != self.identity)
        acquired = spec.get("acquireTime") if holder == self.identity else None
        lease["spec"] = {**spec, **self._spec(acquired, transitions)}
        try:
            self.api.request("PUT", f"{self.path}/{quote(self.name, safe='')}", body=lease)
        except ApiError as exc:
            if exc.status == 409:
                return False  # someone else updated it meanwhile
            raise
        return True

    def run(self, leader: threading.Event, stop: threading.Event, on_change: Callable[[bool], None]) -> None:
        """Hold the Lease while possible; ``leader`` is set exactly while it is held."""
        while not stop.is_set():
            try:
                held = self.try_acquire()
            except ClusterError as exc:
                LOG.warning("lease: cannot reach the API server", extra={"fields": {"error": str(exc)}})
                held = False
            if held != leader.is_set():
                (leader.set if held else leader.clear)()
                on_change(held)
                LOG.info("leader" if held else "not the leader", extra={"fields": {"identity": self.identity}})
            stop.wait(self.duration / 3)
        if leader.is_set():  # step down: let another replica take over at once
            leader.clear()
            try:
                lease = self.api.get(f"{self.path}/{quote(self.name, safe='')}")
                if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                    lease["spec"]["holderIdentity"] = None
                    self.api.request("PUT", f"{self.path}/{quote(self.name, safe='')}", body=lease)
            except ClusterError:
                pass
