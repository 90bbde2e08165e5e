"""Upstream PSA conformance fixtures, and the API server's own VAP evaluation, from Go modules."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import subprocess

import pytest

PSA_MODULE = "k8s.io/pod-security-admission@v0.37.2"


@pytest.fixture(scope="session")
def psa_fixtures() -> pathlib.Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go is not installed: the upstream fixtures come from the Go module cache")
    done = subprocess.run([go, "mod", "download", "-json", PSA_MODULE], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"go mod download {PSA_MODULE} failed: {done.stdout} {done.stderr}")
    path = pathlib.Path(json.loads(done.stdout)["Dir"]) / "test" / "testdata"
    assert path.is_dir(), path
    return path


VAP_ORACLE = pathlib.Path(__file__).resolve().parents[2] / "tools" / "vap-oracle"


@pytest.fixture(scope="session")
def vap_oracle() -> pathlib.Path:
    """tools/vap-oracle built (once per version of its sources, cached outside the work tree)."""
    go = shutil.which("go")
    if go is None:
        why = "Go is not installed: the API server's own evaluation is built from its Go module"
        if os.environ.get("PODSEC_REQUIRE_KUBE") == "1":  # CI with the Kubernetes harness requires it
            pytest.fail(why)
        pytest.skip(why)
    key = hashlib.sha256(b"".join((VAP_ORACLE / f).read_bytes() for f in ("go.mod", "go.sum", "main.go"))).hexdigest()
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache") / "podsec" / "vap-oracle"
    binary = cache / key[:16] / "vap-oracle"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        partial = binary.with_name(f"vap-oracle.{os.getpid()}")
        done = subprocess.run(
            [go, "build", "-o", str(partial), "."],
            cwd=VAP_ORACLE,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if done.returncode != 0:
            pytest.fail(f"building tools/vap-oracle failed: {done.stdout} {done.stderr}")
        partial.replace(binary)
    return binary
