"""Upstream PSA conformance fixtures, from the Go module cache (downloaded with `go mod download`)."""

from __future__ import annotations

import json
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
