"""The monitor's Helm chart (charts/podsec-monitor): `helm lint` passes and `helm template` renders
the same objects as `podsec monitor manifests` for every knob."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from podsec.cluster import manifests
from tests.charts.test_chart import ROOT, _normal, helm  # noqa: F401 (helm: the fixture)

CHART = ROOT / "charts" / "podsec-monitor"


def _render(helm_path: str, *sets: str, namespace: str) -> list[dict[str, Any]]:
    args = [helm_path, "template", "podsec", str(CHART), "--namespace", namespace]
    for s in sets:
        args += ["--set", s]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_monitor_chart_lints(helm: str) -> None:  # noqa: F811
    out = subprocess.run([helm, "lint", "--strict", str(CHART)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("sets", "options"),
    [
        ((), manifests.Options(namespace="podsec")),
        (
            ("image=registry.example/podsec:9", "replicas=3", "writeReports=false", "prometheusRule=false"),
            manifests.Options("mon", "registry.example/podsec:9", 3, False, False),
        ),
    ],
)
def test_monitor_chart_renders_the_manifests(helm: str, sets: tuple[str, ...], options: manifests.Options) -> None:  # noqa: F811
    rendered = _normal(_render(helm, *sets, namespace=options.namespace))
    assert rendered == _normal(manifests.objects(options))
