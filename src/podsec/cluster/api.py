"""Talking to the Kubernetes API: credentials, rate limits, retries, paginated lists, watches.

lightkube reads the credentials — a kubeconfig context (client certificates, tokens, exec
plugins) or the in-cluster service account — and builds the TLS client. Responses are
decoded with orjson into plain mappings, which is what the evaluation reads (lightkube's
typed models would cost a decode and a conversion per object).

Every request waits for a token of a client-side bucket (``qps``, ``burst``, as client-go's
flow control). A 429 is retried after its ``Retry-After``; connection failures and 5xx
answers are retried with back-off until ``retry_seconds`` have passed, then `Unavailable`
is raised. Lists are read in pages (``limit`` and ``continue``); a continue token that
expired (410 Gone) restarts the list from the beginning, and the caller is told.

Errors form a small tree::

    ClusterError
    ├── ApiError          the API answered with an error status (.status, .reason)
    │   ├── Forbidden     403: these credentials may not do it
    │   └── Gone          410: the resourceVersion or continue token is too old
    └── Unavailable       no answer (connection refused or dropped, timeouts) after retries
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import orjson


class ClusterError(Exception):
    """Anything that kept a request from being answered."""


class ApiError(ClusterError):
    def __init__(self, status: int, reason: str, message: str, path: str) -> None:
        super().__init__(f"{path}: {status} {reason}: {message}" if message else f"{path}: {status} {reason}")
        self.status, self.reason, self.message, self.path = status, reason, message, path


class Forbidden(ApiError):
    pass


class Gone(ApiError):
    pass


class Unavailable(ClusterError):
    pass


@dataclass(frozen=True, slots=True)
class Target:
    """Which cluster, as whom: for messages and report URIs."""

    context: str  # the kubeconfig context, or "in-cluster"
    server: str
    namespace: str  # the context's namespace (kubectl's default for -n)


class RateLimiter:
    """A token bucket: ``burst`` requests at once, then ``qps`` a second (thread-safe)."""

    def __init__(self, qps: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("qps must be positive and burst at least 1")
        self.qps, self.burst, self._clock = qps, burst, clock
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting, in total

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1
            wait = -self._tokens / self.qps if self._tokens < 0 else 0.0
        if wait > 0:
            self.waited += wait
            time.sleep(wait)


def _merged_kubeconfig(paths: list[str]) -> dict[str, Any]:
    """kubectl's merge of a KUBECONFIG list: the first file to define a name wins, relative file
    paths resolve against the file that holds them."""
    import yaml

    merged: dict[str, Any] = {"clusters": [], "contexts": [], "users": []}
    seen: dict[str, set[str]] = {"clusters": set(), "contexts": set(), "users": set()}
    files = {"clusters": ("certificate-authority",), "users": ("client-certificate", "client-key", "tokenFile")}
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, dict):
            raise ClusterError(f"{path}: not a kubeconfig (expected a mapping)")
        base = os.path.dirname(os.path.abspath(path))
        if merged.get("current-context") is None:
            merged["current-context"] = data.get("current-context")
        for section, singular in (("clusters", "cluster"), ("contexts", "context"), ("users", "user")):
            for entry in data.get(section) or []:
                name = entry.get("name") if isinstance(entry, dict) else None
                if not isinstance(name, str) or name in seen[section]:
                    continue
                seen[section].add(name)
                body = dict(entry.get(singular) or {})
                for key in files.get(section, ()):
                    if isinstance(body.get(key), str) and not os.path.isabs(body[key]):
                        body[key] = os.path.join(base, body[key])
                merged[section].append({"name": name, singular: body})
    return merged


def kubeconfig_paths(explicit: str | None) -> list[str]:
    """The kubeconfig files kubectl would read: ``--kubeconfig``, else ``KUBECONFIG`` (a list),
    else ``~/.kube/config`` when it exists; empty: use the in-cluster service account."""
    if explicit:
        return [explicit]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [p for p in env.split(os.pathsep) if p and os.path.exists(p)] or [env.split(os.pathsep)[0]]
    default = os.path.expanduser("~/.kube/config")
    return [default] if os.path.exists(default) else []


def connect(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    timeout: float = 30.0,
    service_account: str = "/var/run/secrets/kubernetes.io/serviceaccount",
) -> tuple[httpx.Client, Target]:
    """An HTTP client for the cluster, and what it points at (kubectl's choice of credentials)."""
    from lightkube.config import client_adapter
    from lightkube.config.kubeconfig import KubeConfig
    from lightkube.core.exceptions import ConfigError

    paths = kubeconfig_paths(kubeconfig)
    try:
        if paths:
            missing = [p for p in paths if not os.path.exists(p)]
            if missing:
                raise ClusterError(f"kubeconfig {missing[0]} does not exist")
            config = KubeConfig.from_dict(_merged_kubeconfig(paths), fname=paths[0])
            single = config.get(context_name=context)
            assert single is not None  # get() raises rather than return None without a default
            name = single.context_name
        else:
            if context:
                raise ClusterError(f"--context {context}: no kubeconfig found (KUBECONFIG, ~/.kube/config)")
            single = KubeConfig.from_service_account(service_account).get()
            name = "in-cluster"
    except ConfigError as exc:
        raise ClusterError(f"kubeconfig: {exc}") from None
    except (OSError, KeyError) as exc:
        where = "no kubeconfig and no in-cluster service account" if not paths else f"kubeconfig {paths[0]}"
        raise ClusterError(f"{where}: {exc}") from None
    assert single is not None
    params = client_adapter.ConnectionParams(timeout=httpx.Timeout(timeout), trust_env=False)
    try:
        client = client_adapter.Client(single, params)
    except (ConfigError, OSError, ValueError) as exc:
        raise ClusterError(f"cannot use the credentials of context {name}: {exc}") from None
    return client, Target(name, single.cluster.server, single.namespace)


def _status(body: bytes) -> tuple[str, str]:
    """(reason, message) of a Status object, when the body is one."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "", body[:200].decode("utf-8", "replace").strip()
    if not isinstance(data, dict):
        return "", ""
    return str(data.get("reason") or ""), str(data.get("message") or "")


_RETRIED_STATUSES = frozenset({500, 502, 503, 504})
_TRANSIENT = (httpx.TransportError,)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    resource_version: str
    restarted: bool  # the list started again from the beginning (its continue token expired)


class Api:
    """Requests to one API server, rate-limited and retried. Thread-safe (httpx's client is)."""

    def __init__(
        self,
        http: httpx.Client,
        target: Target,
        *,
        qps: float = 20.0,
        burst: int = 50,
        retry_seconds: float = 30.0,
        max_throttled: int = 20,
    ) -> None:
        self.http, self.target = http, target
        self.limiter = RateLimiter(qps, burst)
        self.retry_seconds = retry_seconds
        self.max_throttled = max_throttled
        self.requests = 0  # sent, retries included
        self.throttled = 0  # 429 answers seen
        self.retried = 0  # transport failures and 5xx retried

    def close(self) -> None:
        self.http.close()

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: bytes | None,
        content_type: str | None,
        accept: str = "application/json",
    ) -> httpx.Response:
        deadline = time.monotonic() + self.retry_seconds
        delay, throttles = 0.2, 0
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        while True:
            self.limiter.acquire()
            self.requests += 1
            try:
                response = self.http.request(method, path, params=params, content=body, headers=headers)
            except _TRANSIENT as exc:
                if time.monotonic() + delay > deadline:
                    raise Unavailable(f"{path}: {type(exc).__name__}: {exc or 'connection failed'}") from None
                self.retried += 1
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if response.status_code == 429 and throttles < self.max_throttled:
                throttles += 1
                self.throttled += 1
                time.sleep(_retry_after(response))
                continue
            if response.status_code in _RETRIED_STATUSES and time.monotonic() + delay < deadline:
                self.retried += 1
                time.sleep(max(delay, _retry_after(response) if "Retry-After" in response.headers else 0))
                delay = min(delay * 2, 5.0)
                continue
            return response

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Any:
        """One request; its decoded JSON answer. Error statuses raise `ApiError` (and subclasses)."""
        data = None if body is None else (body if isinstance(body, bytes) else orjson.dumps(body))
        response = self._send(method, path, params, data, content_type if data is not None else None, accept)
        if response.status_code >= 400:
            raise error(response.status_code, response.content, path)
        return orjson.loads(response.content) if response.content else None

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def pages(self, path: str, *, limit: int = 500, params: Mapping[str, str] | None = None) -> Iterator[Page]:
        """Every page of a list. A continue token that expired (410) restarts the list once
        from the first page, flagged ``restarted``; a second expiry raises `Gone`."""
        restarted = False
        token: str | None = None
        while True:
            query = {**(params or {}), "limit": str(limit)}
            if token:
                query["continue"] = token
            try:
                data = self.get(path, query)
            except Gone:
                if token is None or restarted:
                    raise
                restarted, token = True, None
                yield Page([], "", True)
                continue
            meta = data.get("metadata") or {}
            yield Page(data.get("items") or [], str(meta.get("resourceVersion") or ""), restarted and token is None)
            token = meta.get("continue") or None
            if not token:
                return

    def watch(
        self, path: str, resource_version: str, *, timeout_seconds: int = 300, params: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Watch events (``{"type", "object"}``) from ``resource_version``, bookmarks included, until
        the server ends the watch (``timeout_seconds``). An ERROR event raises its `ApiError`
        (`Gone` when the version is too old); a dropped connection raises `Unavailable`."""
        query = {
            **(params or {}),
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_seconds),
        }
        self.limiter.acquire()
        self.requests += 1
        timeout = httpx.Timeout(30.0, read=timeout_seconds + 30.0)
        try:
            with self.http.stream(
                "GET", path, params=query, headers={"Accept": "application/json"}, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    raise error(response.status_code, response.read(), path)
                for line in response.iter_lines():
                    if not line:
                        continue
                    event = orjson.loads(line)
                    if event.get("type") == "ERROR":
                        obj = event.get("object") or {}
                        raise error(int(obj.get("code") or 500), orjson.dumps(obj), path)
                    yield event
        except _TRANSIENT as exc:
            raise Unavailable(f"{path}: watch: {type(exc).__name__}: {exc or 'connection dropped'}") from None


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.0), 10.0)
    except ValueError:
        return 1.0


def error(status: int, body: bytes, path: str) -> ApiError:
    reason, message = _status(body)
    cls = Forbidden if status == 403 else Gone if status == 410 else ApiError
    return cls(status, reason or {403: "Forbidden", 404: "NotFound", 410: "Gone"}.get(status, "Error"), message, path)


def collection_path(group: str, version: str, plural: str, namespace: str | None = None) -> str:
    """``/apis/apps/v1/namespaces/shop/deployments`` (``namespace`` None: every namespace)."""
    base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    return f"{base}/namespaces/{quote(namespace, safe='')}/{plural}" if namespace else f"{base}/{plural}"
