"""Namespace labels through the real Kubernetes client (lightkube) against a local test API server."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from podsec.admission.namespaces import StaticNamespaces, WatchedNamespaces


def namespace(name: str, labels: dict[str, str], rv: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels, "resourceVersion": str(rv), "uid": name},
    }


class FakeApi:
    """Just enough of the API server: list, get and watch Namespaces."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {
            "shop": namespace("shop", {"pod-security.kubernetes.io/enforce": "restricted"}, 1)
        }
        self.hidden: dict[str, dict[str, Any]] = {}  # exist, but only a GET finds them (created after the list)
        self.rv = 1
        self.events: list[asyncio.Queue[dict[str, Any]]] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    def app(self) -> Starlette:
        async def collection(request: Request) -> Response:
            self.loop = asyncio.get_running_loop()
            if request.query_params.get("watch") in ("true", "1"):
                queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
                self.events.append(queue)

                async def stream() -> AsyncIterator[bytes]:
                    while True:
                        event = await queue.get()
                        yield (json.dumps(event) + "\n").encode()

                return StreamingResponse(stream(), media_type="application/json")
            body = {
                "apiVersion": "v1",
                "kind": "NamespaceList",
                "metadata": {"resourceVersion": str(self.rv)},
                "items": list(self.items.values()),
            }
            return JSONResponse(body)

        async def item(request: Request) -> Response:
            name = request.path_params["name"]
            found = self.items.get(name) or self.hidden.get(name)
            if found is None:
                status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                          "message": f'namespaces "{name}" not found'}  # fmt: skip
                return JSONResponse(status, status_code=404)
            return JSONResponse(found)

        return Starlette(routes=[Route("/api/v1/namespaces", collection), Route("/api/v1/namespaces/{name}", item)])

    def push(self, kind: str, obj: dict[str, Any]) -> None:
        assert self.loop is not None
        for q in self.events:
            self.loop.call_soon_threadsafe(q.put_nowait, {"type": kind, "object": obj})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Running:
    def __init__(self, api: FakeApi, port: int) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(api.app(), host="127.0.0.1", port=port, log_level="error", lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.server.force_exit = True
        self.thread.join(10)


@pytest.fixture
def api() -> Iterator[tuple[FakeApi, int]]:
    yield FakeApi(), free_port()


def client(port: int) -> Any:
    from lightkube import AsyncClient
    from lightkube.config.kubeconfig import KubeConfig

    config = KubeConfig.from_dict(
        {
            "clusters": [{"name": "test", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "test", "user": {"token": "test-token"}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
            "current-context": "test",
        }
    )
    return AsyncClient(config=config)


async def eventually(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def test_watch_fed_cache(api: tuple[FakeApi, int]) -> None:
    fake, port = api

    async def scenario() -> None:
        with Running(fake, port):
            watched = WatchedNamespaces(client(port), lookup_timeout=1.0, max_backoff=0.2)
            await watched.start()

            async def ready() -> bool:
                return watched.ready

            await eventually(ready)
            assert await watched.lookup("shop") == (True, {"pod-security.kubernetes.io/enforce": "restricted"})
            # what the watch has fed is at hand without awaiting; anything else needs a lookup
            assert watched.cached("shop") == (True, {"pod-security.kubernetes.io/enforce": "restricted"})
            assert watched.cached("fresh") is None
            await eventually(lambda: asyncio.sleep(0, bool(fake.events)))
            fake.push("MODIFIED", namespace("shop", {"pod-security.kubernetes.io/enforce": "baseline"}, 2))

            async def relabelled() -> bool:
                return (await watched.lookup("shop"))[1] == {"pod-security.kubernetes.io/enforce": "baseline"}

            await eventually(relabelled)
            fake.hidden["fresh"] = namespace("fresh", {"podsec.io/enforce": "hardened"}, 3)
            assert await watched.lookup("fresh") == (True, {"podsec.io/enforce": "hardened"})  # a live GET
            assert await watched.lookup("missing") == (True, {})  # 404: no such namespace, no labels
            fake.push("DELETED", namespace("shop", {}, 4))

            async def deleted() -> bool:
                return "shop" not in watched._cache

            await eventually(deleted)
        # the API is gone: cached names still answer, others are unknown (the review then falls back)
        assert await watched.lookup("fresh") == (True, {"podsec.io/enforce": "hardened"})
        assert await watched.lookup("elsewhere") == (False, None)
        await watched.stop()

    asyncio.run(scenario())


def test_starts_while_the_api_is_unreachable_and_syncs_when_it_appears(api: tuple[FakeApi, int]) -> None:
    fake, port = api

    async def scenario() -> None:
        watched = WatchedNamespaces(client(port), lookup_timeout=0.5, max_backoff=0.2)
        await watched.start()
        await asyncio.sleep(0.3)
        assert not watched.ready
        assert await watched.lookup("shop") == (False, None)
        with Running(fake, port):

            async def ready() -> bool:
                return watched.ready

            await eventually(ready)
            assert (await watched.lookup("shop"))[0] is True
            await watched.stop()

    asyncio.run(scenario())


def test_static_labels() -> None:
    static = StaticNamespaces({"shop": {"a": "b"}})
    assert static.ready
    assert asyncio.run(static.lookup("shop")) == (True, {"a": "b"})
    assert asyncio.run(static.lookup("other")) == (True, {})
    assert static.cached("shop") == (True, {"a": "b"})  # always at hand: the review never awaits
    assert static.cached("other") == (True, {})
