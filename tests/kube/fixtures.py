"""pytest fixtures for tests against a real API server (reusable: tests/conftest.py imports them).

- ``kube`` (session): one etcd + kube-apiserver for the whole run (``harness.KubeEnv``).
- ``kube_namespace``: makes fresh namespaces, ``kube_namespace({"label": "value"})`` -> name.
- ``psa_oracle`` (session): the path of PSA's library as a command (tools/psa-oracle).

Where Go is missing (a user's machine) these tests skip; CI sets ``PODSEC_REQUIRE_KUBE=1``
so that a skip there is a failure instead.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Iterator, Mapping

import pytest

from tests.kube import harness

NamespaceFactory = Callable[..., str]


def _unavailable(why: str) -> None:
    if os.environ.get("PODSEC_REQUIRE_KUBE"):
        pytest.fail(f"PODSEC_REQUIRE_KUBE is set but the kube tests cannot run: {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.KubeEnv]:
    yield from own_server(tmp_path_factory, "kube")


def own_server(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[harness.KubeEnv]:
    """A new etcd + kube-apiserver for a fixture (``kube``, or a module's own), stopped after it."""
    try:
        bindir = harness.binaries(build=True)
    except harness.KubeUnavailable as exc:
        _unavailable(str(exc))
        raise
    env = harness.KubeEnv(bindir, tmp_path_factory.mktemp(name))
    env.start()
    try:
        yield env
    finally:
        env.stop()


@pytest.fixture
def kube_namespace(kube: harness.KubeEnv) -> NamespaceFactory:
    def make(labels: Mapping[str, str] | None = None, prefix: str = "t") -> str:
        return kube.create_namespace(labels, prefix=prefix)

    return make


@pytest.fixture(scope="session")
def psa_oracle(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) / "podsec" / "psa-oracle"
    try:
        return harness.psa_oracle(cache)
    except harness.KubeUnavailable as exc:
        _unavailable(str(exc))
        raise
