"""The real-world corpus in ../shared scans without a crash, and its broken files are reported.

Skipped when ../shared is not beside the checkout (users' machines).
"""

from __future__ import annotations

import json
import os
import pathlib
from collections import Counter

import pytest

from podsec.cli import main

# Files of the corpus that Kubernetes itself would refuse, and why (checked by hand).
BROKEN = {
    # duplicate mapping keys: kubectl refuses them (sigs.k8s.io/yaml strict decoding)
    "argoproj__argo-cd/gitops-engine/pkg/health/testdata/statefulset-ondelete.yaml": "duplicate key",
    "kubernetes__examples/_archived/openshift-origin/etcd-controller.yaml": "duplicate key",
    "kubernetes__examples/_archived/openshift-origin/etcd-discovery-controller.yaml": "duplicate key",
    "kubernetes__examples/_archived/openshift-origin/openshift-controller.yaml": "duplicate key",
    # a test fixture that is meant to fail API validation: containerPort is a string
    "argoproj__argo-cd/test/e2e/testdata/crd-validation/deployment.yaml": "expected an integer",
    # a bind zone file template, not YAML at all
    "cert-manager__cert-manager/make/config/bind/service.yaml": "invalid YAML",
    # kuttl assert fragments: partial objects, not manifests
    "open-telemetry__opentelemetry-operator/tests/e2e/smoke-collector/smoke-collector-obi-unprivileged/00-assert.yaml": "expected a list",
    "open-telemetry__opentelemetry-operator/tests/e2e/smoke-deletion/01-assert.yaml": "no apiVersion and kind",
    "open-telemetry__opentelemetry-operator/tests/e2e-openshift/multi-cluster/00-assert.yaml": "duplicate key",
    # test data with a document that is not an object (a bare spec:), which a full read reports
    # (before issue 11 the kind pre-filter passed over it because of a nested kind: line)
    "fluxcd__flux2/cmd/flux/testdata/migrate/file-system/dir/some-file.yaml": "no apiVersion and kind",
    "fluxcd__flux2/cmd/flux/testdata/migrate/file-system/dir.golden/some-file.yaml": "no apiVersion and kind",
    # built-in kinds under apiVersions Kubernetes does not serve (the API server refuses them)
    "kubernetes-sigs__kustomize/examples/transformerconfigs/images/resources.yaml": 'Deployment as "v1"',
    "kubernetes-sigs__kustomize/kyaml/fn/framework/testdata/patch-selector/apiversionselector/expected.yaml": 'Deployment as "apps/v1alpha1"',
    "kubernetes-sigs__kustomize/kyaml/fn/framework/testdata/patch-selector/apiversionselector/input.yaml": 'Deployment as "apps/v1alpha1"',
}


def manifest_files(root: pathlib.Path) -> int:
    count = 0
    for _, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        count += sum(1 for f in files if not f.startswith(".") and f.lower().endswith((".yaml", ".yml", ".json")))
    return count


def scan(capsys: pytest.CaptureFixture[str], corpus: pathlib.Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["scan", "--format", "json", *args, str(corpus)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, json.loads(out)


def test_corpus_scans_and_reports_exactly_the_broken_files(
    corpus: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = scan(capsys, corpus, "--profile", "restricted")
    assert code == 2  # findings, and input errors: errors win
    summary = doc["summary"]
    assert summary["files"] == manifest_files(corpus)  # nothing skipped silently
    assert summary["findings"] == len(doc["findings"]) > 1000
    assert summary["errors"] == len(doc["errors"])
    assert summary["objects"] > 1000

    prefix = str(corpus) + os.sep
    by_file = {e["file"].removeprefix(prefix): e["message"] for e in doc["errors"]}
    assert set(by_file) == set(BROKEN)
    for name, why in BROKEN.items():
        assert why in by_file[name], (name, by_file[name])
    for error in doc["errors"]:
        assert error["line"] >= 1

    for finding in doc["findings"]:  # every finding says what, where, and in which file and line
        assert finding["check"] and finding["message"] and finding["field"]
        assert finding["object"]["kind"] and finding["object"]["apiVersion"]  # name may be absent (generateName)
        assert finding["file"].startswith(prefix)
        assert finding["line"] >= 1
    kinds = Counter(f["object"]["kind"] for f in doc["findings"])
    # pods come wrapped in many kinds, CRDs included
    assert {"Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Rollout"} <= set(kinds)


def test_corpus_results_do_not_depend_on_parallelism(corpus: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    serial = scan(capsys, corpus, "--profile", "baseline", "--jobs", "1")
    parallel = scan(capsys, corpus, "--profile", "baseline", "--jobs", "2")
    assert serial == parallel
