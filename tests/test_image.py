"""The image (Containerfile): no container engine runs here, so its Python environment is built
the way the Containerfile builds it (scripts/build-root, the script its build stage runs) and
podsec is run from that directory the way the image runs it: ``python3 -S`` (nothing but the
standard library and that directory), as a non-root user's process on a read-only tree, with
PYTHONDONTWRITEBYTECODE. The webhook answers a real review over TLS from there, and nothing is
written into the tree. What only an engine can show (the distroless base, the user, a truly
read-only root) is checked in the Containerfile's text."""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import stat
import subprocess
import sys
import time

import pytest

from podsec.admission import certs
from tests.admission.payloads import pod, review
from tests.faults.harness import Server, free_port, post

ROOT = pathlib.Path(__file__).resolve().parents[1]


def stages() -> list[list[str]]:
    """The Containerfile's stages, each a list of its instructions (continuation lines joined)."""
    text = (ROOT / "Containerfile").read_text().replace("\\\n", " ")
    found: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("ARG"):
            continue
        if line.startswith("FROM"):
            found.append([])
        found[-1].append(line)
    return found


def test_containerfile_is_multi_stage_non_root_and_shell_free() -> None:
    build, runtime = stages()
    assert build[0].endswith("AS build") and "RUN sh scripts/build-root /opt/podsec" in build
    args = dict(re.findall(r"ARG (\w+)=(\S+)", (ROOT / "Containerfile").read_text()))
    assert args["RUNTIME_IMAGE"].startswith("gcr.io/distroless/python3-debian12")  # no shell, no package manager
    assert not any(i.startswith("RUN") for i in runtime)  # nothing runs in the image stage: there is no shell
    assert "COPY --from=build /opt/podsec /opt/podsec" in runtime
    assert "USER 65532:65532" in runtime
    env = next(i for i in runtime if i.startswith("ENV"))
    assert "PYTHONPATH=/opt/podsec/site-packages" in env and "PYTHONDONTWRITEBYTECODE=1" in env
    assert 'ENTRYPOINT ["/usr/bin/python3", "-S", "-m", "podsec"]' in runtime
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert "file: Containerfile" in workflow and "packages: write" in workflow and "needs: test" in workflow


def _tree(root: pathlib.Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in root.rglob("*")}


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    dest = tmp_path_factory.mktemp("image") / "opt-podsec"
    out = subprocess.run(
        ["sh", "scripts/build-root", str(dest)], cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHON": sys.executable},
    )  # fmt: skip
    if out.returncode != 0 and "No matching distribution" in out.stderr + out.stdout:
        pytest.skip("no package index reachable to build the image's environment")
    assert out.returncode == 0, out.stderr[-3000:]
    for path in [dest, *dest.rglob("*")]:  # read-only, as the image's root filesystem is
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return dest


def _env(root: pathlib.Path) -> dict[str, str]:
    return {"PYTHONPATH": str(root / "site-packages"), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
            "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"}  # fmt: skip


def test_the_image_environment_holds_podsec_and_nothing_else(image_root: pathlib.Path) -> None:
    python = sys._base_executable  # the interpreter, not this virtual environment
    site = image_root / "site-packages"
    assert (site / "podsec" / "__init__.py").exists() and not (site / "bin").exists()
    assert list((site / "podsec").rglob("*.pyc"))  # compiled at build time: nothing compiles at run time
    out = subprocess.run([python, "-S", "-c", "import podsec, sys; print(podsec.__file__); print(sys.path)"],
                         env=_env(image_root), capture_output=True, text=True, cwd="/", check=True)  # fmt: skip
    assert out.stdout.startswith(str(site))
    assert "site-packages" not in out.stdout.split("\n")[1].replace(str(site), "")  # no other site-packages
    if os.environ.get("PODSEC_TEST_COMPILED") == "1":  # CI: a compiler is there, so the image's core is compiled
        compiled = subprocess.run([python, "-S", "-c", "import podsec; print(podsec.compiled())"],
                                  env=_env(image_root), capture_output=True, text=True, cwd="/", check=True)  # fmt: skip
        assert compiled.stdout.strip() == "True"
    scan = subprocess.run([python, "-S", "-m", "podsec", "scan", str(ROOT / "examples" / "workloads")],
                          env=_env(image_root), capture_output=True, text=True, cwd="/")  # fmt: skip
    assert scan.returncode == 1 and "findings" in scan.stdout


def test_the_webhook_serves_from_the_image_environment_and_writes_nothing(
    image_root: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    before = _tree(image_root)
    tls = tmp_path / "tls"
    certs.generate(str(tls), extra_hosts=("127.0.0.1",))
    config = tmp_path / "podsec.yaml"
    config.write_text("webhook:\n  namespaces:\n    shop: {pod-security.kubernetes.io/enforce: restricted}\n")
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    argv = [sys._base_executable, "-S", "-m", "podsec", "webhook", "serve", "--tls-cert", str(tls / "tls.crt"),
            "--tls-key", str(tls / "tls.key"), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--shutdown-delay", "0"]  # fmt: skip
    proc = subprocess.Popen(argv, env=_env(image_root), stderr=log, cwd="/")
    server = Server(port, str(tls / "ca.crt"), proc, None)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, answer = post(server, review(pod()), timeout=5)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.2)
        assert status == 200 and answer["response"]["allowed"] is False
        big = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big", "namespace": "shop"},
               "spec": {"containers": [{"name": f"c{i}", "image": "i"} for i in range(500)]}}  # fmt: skip
        status, answer = post(server, json.dumps(review(big)).encode())  # answered by a worker process
        assert status == 200 and answer["response"]["status"]["code"] == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
    assert _tree(image_root) == before
