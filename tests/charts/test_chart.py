"""The Helm chart (charts/podsec-webhook): `helm lint` passes, `helm template` renders the same
objects as `podsec webhook manifests` for every knob, and its output passes podsec's own
hardened profile and the Kubernetes schema.

helm is built from its Go module (tools/helm, scripts/helm-tool) into a cache outside the work
tree when it is missing. Without Go these tests skip, except where PODSEC_REQUIRE_HELM=1 (CI):
there a missing helm is a failure."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from podsec.admission import manifests
from podsec.admission.server import ServerSettings
from podsec.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "podsec-webhook"
HELM_LABELS = (
    "helm.sh/chart",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
)


@pytest.fixture(scope="module")
def helm() -> str:
    script = ROOT / "scripts" / "helm-tool"
    if shutil.which("go") is None:
        path = subprocess.run([str(script), "path"], capture_output=True, text=True, check=True).stdout.strip()
        if os.access(path, os.X_OK):
            return path
        if os.environ.get("PODSEC_REQUIRE_HELM") == "1":
            pytest.fail("helm is required (PODSEC_REQUIRE_HELM=1) but neither helm nor Go is installed")
        pytest.skip("helm is not built and Go is not installed (scripts/helm-tool builds it)")
    out = subprocess.run([str(script), "build"], capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        pytest.fail(f"scripts/helm-tool build failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip()


def render(helm: str, *sets: str, namespace: str = "podsec") -> list[dict[str, Any]]:
    args = [helm, "template", "podsec", str(CHART), "--namespace", namespace]
    for s in sets:
        args += ["--set", s]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def _normal(docs: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """Objects by (kind, name), without Helm's bookkeeping labels; the config as parsed YAML."""
    out = {}
    for doc in docs:
        doc = json.loads(json.dumps(doc))
        labels = doc["metadata"].get("labels", {})
        for key in HELM_LABELS:
            labels.pop(key, None)
        if doc["kind"] == "ConfigMap":
            doc["data"] = {k: yaml.safe_load(v) for k, v in doc["data"].items()}
        out[(doc["kind"], doc["metadata"]["name"])] = doc
    return out


def test_helm_lint(helm: str) -> None:
    out = subprocess.run([helm, "lint", "--strict", str(CHART)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("sets", "options"),
    [
        ((), manifests.Options()),
        (
            ("workers=3", "replicas=5", "failurePolicy=Ignore", "failureMode=allow", "timeoutSeconds=5",
             "priorityClassName=webhooks", "image=registry.example/podsec:1", "certManagerNamespace=certs"),
            manifests.Options(workers=3, replicas=5, failure_policy="Ignore", failure_mode="allow", timeout_seconds=5,
                              priority_class="webhooks", image="registry.example/podsec:1",
                              cert_manager_namespace="certs"),
        ),
        (
            ("apiServerCIDRs={10.0.0.10/32,fd00::10/128}", "workers=1"),
            manifests.Options(api_server_cidrs=("10.0.0.10/32", "fd00::10/128"), workers=1),
        ),
    ],
)  # fmt: skip
def test_the_chart_renders_what_podsec_webhook_manifests_prints(
    helm: str, sets: tuple[str, ...], options: manifests.Options
) -> None:
    assert _normal(render(helm, *sets)) == _normal(manifests.objects(options))


def test_secret_mode_and_another_namespace(helm: str, tmp_path: pathlib.Path) -> None:
    ca = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    (tmp_path / "ca.crt").write_bytes(ca)
    args = [helm, "template", "podsec", str(CHART), "--namespace", "sec", "--set", "tls.mode=secret",
            "--set-file", f"tls.caBundle={tmp_path / 'ca.crt'}"]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    expected = manifests.objects(manifests.Options(namespace="sec", tls="secret", ca_bundle=ca))
    assert _normal(docs) == _normal(expected)
    refused = subprocess.run([helm, "template", "podsec", str(CHART), "--set", "tls.mode=secret"],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert refused.returncode != 0 and "tls.caBundle is required" in refused.stderr


def test_values_are_checked(helm: str) -> None:
    for bad in ("replicas=1", "failureMode=maybe", "tls.mode=none"):
        out = subprocess.run([helm, "template", "podsec", str(CHART), "--set", bad], capture_output=True, text=True)
        assert out.returncode != 0, bad


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 8])
def test_memory_limit_follows_the_servers_bound(helm: str, workers: int) -> None:
    deployment = next(d for d in render(helm, f"workers={workers}") if d["kind"] == "Deployment")
    limit = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
    assert limit == manifests.Options(workers=workers).memory_limit()
    assert int(limit.removesuffix("Mi")) * 1024 * 1024 >= ServerSettings(workers=workers).memory_bound()


def test_the_charts_memory_helper_is_the_servers_bound() -> None:
    """The chart's limit formula (server process + per worker) from `ServerSettings.memory_bound`,
    checked without helm too (the rendering is compared above when helm is there)."""
    import re

    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    found = re.search(r"\$mi := add (\d+) \(mul (\d+) \(int \.Values\.workers\)\)", helpers)
    assert found, "podsec.memory's formula changed: update this test"
    server, per_worker = (int(g) * 1024 * 1024 for g in found.groups())
    assert server == ServerSettings(workers=0).memory_bound()
    assert per_worker == ServerSettings(workers=1).memory_bound() - server
    assert f"{server // 2**20} MiB for the server process, {per_worker // 2**20} MiB per worker" in helpers


def test_rendered_chart_passes_hardened_and_the_schema(
    helm: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import kubernetes_validate

    docs = render(helm)
    for doc in docs:
        if doc["kind"] not in ("Issuer", "Certificate"):
            kubernetes_validate.validate(doc, "1.33", strict=True)
    path = tmp_path / "chart.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    assert main(["scan", "--profile", "hardened", "--format", "json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["findings"] == 0
