"""Kustomize as repositories hold it: kustomization files and patches are not manifests, top-level
overlays are rendered with kubectl, and findings point at the source file and line."""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import pytest

from podsec.cli import main

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      containers:
      - name: web
        image: nginx
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop: [ALL]
      - name: metrics
        image: exporter
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop: [ALL]
"""

PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      hostNetwork: true
      containers:
      - name: metrics
        securityContext:
          privileged: true
"""

OVERLAY = """\
namePrefix: prod-
namespace: prod
resources:
- ../../base
patches:
- path: patch.yaml
- target:
    kind: Deployment
    name: web
  patch: |-
    - op: add
      path: /spec/template/spec/hostPID
      value: true
"""

STAGING = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: staging
resources:
- ../../base
components:
- ../../components/debug
"""

COMPONENT = """\
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
- path: add-capability.yaml
"""

COMPONENT_PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        securityContext:
          capabilities:
            add: [SYS_PTRACE]
"""


def write(path: pathlib.Path, text: str) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def repo(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    write(tmp_path / "base" / "deployment.yaml", DEPLOYMENT)
    write(tmp_path / "base" / "kustomization.yaml", "resources:\n- deployment.yaml\n")
    write(tmp_path / "overlays" / "prod" / "kustomization.yaml", OVERLAY)
    write(tmp_path / "overlays" / "prod" / "patch.yaml", PATCH)
    write(tmp_path / "overlays" / "staging" / "kustomization.yaml", STAGING)
    write(tmp_path / "components" / "debug" / "kustomization.yaml", COMPONENT)
    write(tmp_path / "components" / "debug" / "add-capability.yaml", COMPONENT_PATCH)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def scan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    code = main(["scan", "--format", "json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def line_of(path: pathlib.Path, text: str, after: int = 0) -> int:
    lines = path.read_text().splitlines()
    return next(i + 1 for i, line in enumerate(lines) if i >= after and line.strip() == text)


def test_without_rendering_kustomize_files_and_patches_are_not_manifests(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc, _ = scan(capsys, "--kustomize", "off", "--profile", "baseline", ".")
    assert doc["errors"] == []  # kustomization.yaml files are never errors
    assert {f["file"] for f in doc["findings"]} <= {"base/deployment.yaml"}  # no partial patch evaluated
    assert doc["summary"]["files"] == 1 and code == 0


def test_patch_files_given_by_name_are_left_to_their_kustomization(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc, _ = scan(capsys, "--kustomize", "off", "overlays/prod/patch.yaml", "overlays/prod/kustomization.yaml")
    assert doc["findings"] == [] and doc["errors"] == [] and code == 0


@needs_kubectl
def test_top_level_overlays_are_rendered_and_findings_point_at_sources(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc, _ = scan(capsys, "--profile", "restricted", ".")
    assert code == 1 and doc["errors"] == []
    names = {(f["object"]["namespace"], f["object"]["name"]) for f in doc["findings"]}
    assert names == {("prod", "prod-web"), ("staging", "web")}  # two overlays; the base is not scanned alone
    prod = [f for f in doc["findings"] if f["object"]["namespace"] == "prod"]
    patch = repo / "overlays/prod/patch.yaml"
    kustomization = repo / "overlays/prod/kustomization.yaml"
    # a field set by a strategic-merge patch points at the patch; one set by an inline JSON 6902 patch at its value
    assert {(f["field"], f["file"], f["line"], f["column"]) for f in prod if f["check"] == "hostNamespaces"} == {
        ("spec.template.spec.hostNetwork", "overlays/prod/patch.yaml", line_of(patch, "hostNetwork: true"), 7),
        ("spec.template.spec.hostPID", "overlays/prod/kustomization.yaml", line_of(kustomization, "value: true"), 7),
    }
    (privileged,) = [f for f in prod if f["check"] == "privileged"]
    assert (privileged["container"], privileged["file"], privileged["line"], privileged["column"]) == (
        "metrics",  # the patch put it first in the rendered list: matched by name, not position
        "overlays/prod/patch.yaml",
        line_of(patch, "privileged: true"),
        11,
    )
    assert privileged["template"] == "overlays/prod/kustomization.yaml"
    staging = {(f["check"], f["container"]): f for f in doc["findings"] if f["object"]["namespace"] == "staging"}
    added = staging[("capabilities_restricted", "web")]
    component = repo / "components/debug/add-capability.yaml"
    assert (added["file"], added["line"]) == (
        "components/debug/add-capability.yaml",
        line_of(component, "add: [SYS_PTRACE]"),
    )
    assert added["template"] == "overlays/staging/kustomization.yaml"
    assert all(not f["file"].endswith("(kustomize)") for f in doc["findings"])


@needs_kubectl
def test_missing_fields_point_at_the_mapping_in_the_source(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, doc, _ = scan(capsys, "--profile", "hardened", "overlays/staging")
    base = repo / "base/deployment.yaml"
    ro = {f["container"]: f for f in doc["findings"] if f["check"] == "readOnlyRootFilesystem"}
    web_sc = line_of(base, "securityContext:", after=line_of(base, "- name: web"))
    metrics_sc = line_of(base, "securityContext:", after=line_of(base, "- name: metrics"))
    assert (ro["web"]["file"], ro["web"]["line"], ro["web"]["location"]) == ("base/deployment.yaml", web_sc, "parent")
    assert (ro["metrics"]["file"], ro["metrics"]["line"]) == ("base/deployment.yaml", metrics_sc)


@needs_kubectl
def test_sarif_of_rendered_overlays_names_real_files(
    repo: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.sarif"
    main(["scan", "--no-progress", "-o", f"sarif={out}", "."])
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in json.loads(out.read_text())["runs"][0]["results"]
    }
    assert uris and all((repo / uri).is_file() for uri in uris)
    assert "overlays/prod/patch.yaml" in uris and "base/deployment.yaml" in uris


@needs_kubectl
def test_text_names_the_source_file_of_each_finding(repo: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["scan", "--profile", "baseline", "overlays/prod"])
    out = capsys.readouterr().out
    assert "overlays/prod (kustomize)" in out
    assert "Deployment prod/prod-web (base/deployment.yaml:1, from overlays/prod/kustomization.yaml)" in out
    assert f"overlays/prod/patch.yaml:{line_of(repo / 'overlays/prod/patch.yaml', 'privileged: true')}:11" in out


@needs_kubectl
def test_kustomize_off_and_explicit_directories(repo: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, doc, _ = scan(capsys, "--kustomize", "off", "--profile", "baseline", "-k", "overlays/prod")
    assert {f["object"]["name"] for f in doc["findings"]} == {"prod-web"}  # -k renders even with off


def test_no_kubectl_is_a_clear_notice(
    repo: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(repo / "nothing-here"))
    code, doc, err = scan(capsys, "--profile", "baseline", ".")
    assert "kubectl was not found, so 2 kustomizations are not rendered" in err
    assert "--kustomize off" in err
    assert doc["errors"] == [] and {f["file"] for f in doc["findings"]} <= {"base/deployment.yaml"}
    assert code == 0


@needs_kubectl
def test_an_overlay_that_does_not_build_is_an_error_and_its_files_are_scanned(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo / "broken" / "kustomization.yaml", "resources:\n- pod.yaml\n- missing.yaml\n")
    write(
        repo / "broken" / "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  hostPID: true\n  containers:\n  - name: a\n    image: b\n",
    )
    code, doc, _ = scan(capsys, "--profile", "baseline", "broken")
    assert code == 2
    assert doc["errors"][0]["file"] == "broken" and "kubectl kustomize failed" in doc["errors"][0]["message"]
    assert [f["file"] for f in doc["findings"]] == [os.path.join("broken", "pod.yaml")]


def test_a_broken_kustomization_is_an_error(repo: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "bad" / "kustomization.yaml", "resources: [\n")
    code, doc, _ = scan(capsys, "--kustomize", "off", "bad")
    assert code == 2 and doc["errors"][0]["file"].endswith("kustomization.yaml")
    assert "invalid YAML" in doc["errors"][0]["message"]


@needs_kubectl
def test_older_patch_fields_point_at_their_patches(repo: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        repo / "legacy" / "kustomization.yaml",
        "resources:\n- ../base\n"
        "patchesStrategicMerge:\n"
        "- |-\n"
        "  apiVersion: apps/v1\n"
        "  kind: Deployment\n"
        "  metadata:\n"
        "    name: web\n"
        "  spec:\n"
        "    template:\n"
        "      spec:\n"
        "        hostIPC: true\n"
        "patchesJson6902:\n"
        "- target: {group: apps, version: v1, kind: Deployment, name: web}\n"
        "  path: ops.yaml\n",
    )
    write(
        repo / "legacy" / "ops.yaml",
        "- op: replace\n  path: /spec/template/spec/containers/0/image\n  value: x\n"
        "- op: add\n  path: /spec/template/spec/hostNetwork\n  value: true\n",
    )
    _, doc, _ = scan(capsys, "--profile", "baseline", "legacy")
    where = {f["message"]: (f["file"], f["line"], f["column"]) for f in doc["findings"]}
    kustomization = repo / "legacy" / "kustomization.yaml"
    assert where["host namespaces (hostIPC=true)"] == (
        "legacy/kustomization.yaml",
        line_of(kustomization, "hostIPC: true"),
        9,  # inside the inline patch
    )
    assert where["host namespaces (hostNetwork=true)"] == ("legacy/ops.yaml", 6, 3)  # the operation's value


@needs_kubectl
def test_a_container_appended_by_json6902_points_at_the_operation(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        repo / "sidecars" / "kustomization.yaml",
        "resources:\n- ../base\n"
        "patches:\n"
        "- target: {kind: Deployment}\n"
        "  patch: |-\n"
        "    - op: add\n"
        "      path: /spec/template/spec/containers/-\n"
        "      value:\n"
        "        name: debug\n"
        "        image: busybox\n"
        "        securityContext:\n"
        "          privileged: true\n"
        "    - op: add\n"
        "      path: /spec/template/spec/containers/-\n"
        "      value:\n"
        "        name: shell\n"
        "        image: busybox\n"
        "        securityContext:\n"
        "          privileged: true\n",
    )
    _, doc, _ = scan(capsys, "--profile", "hardened", "sidecars")
    kustomization = repo / "sidecars" / "kustomization.yaml"
    privileged = {
        f["container"]: (f["file"], f["line"], f["column"]) for f in doc["findings"] if f["check"] == "privileged"
    }
    debug, shell = line_of(kustomization, "name: debug"), line_of(kustomization, "name: shell")
    assert privileged == {  # each in its own operation's value (appended with "-"), matched by name
        "debug": ("sidecars/kustomization.yaml", line_of(kustomization, "privileged: true", after=debug), 11),
        "shell": ("sidecars/kustomization.yaml", line_of(kustomization, "privileged: true", after=shell), 11),
    }
    (missing,) = [f for f in doc["findings"] if f["check"] == "readOnlyRootFilesystem" and f["container"] == "shell"]
    assert (missing["file"], missing["line"], missing["location"]) == (
        "sidecars/kustomization.yaml",
        line_of(kustomization, "securityContext:", after=shell),
        "parent",
    )


@needs_kubectl
@pytest.mark.parametrize(
    ("kustomization", "says"),
    [
        ("resources:\n- missing.yaml\n", "missing.yaml: no such file or directory"),  # err="…" on one line
        ("resources:\n- ../base\npatches:\n- path: nope.yaml\n", "failed to get the patch file"),  # err=< … >
    ],
)
def test_why_an_overlay_does_not_build_is_kustomize_s_own_message(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str], kustomization: str, says: str
) -> None:
    write(repo / "broken" / "kustomization.yaml", kustomization)
    code, doc, _ = scan(capsys, "broken")
    (error,) = doc["errors"]
    assert code == 2 and error["message"].startswith("kubectl kustomize failed: ")
    assert says in error["message"]
    assert "run.go" not in error["message"] and not error["message"].endswith(">")  # no klog framing


@needs_kubectl
def test_a_baseline_entry_a_fixed_patch_no_longer_finds_is_stale(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", "--update-baseline", "bl.yaml", "--profile", "baseline", "overlays/prod"]) == 0
    capsys.readouterr()
    write(repo / "overlays/prod/patch.yaml", PATCH.replace("privileged: true", "privileged: false"))
    code, doc, _ = scan(capsys, "--baseline", "bl.yaml", "--profile", "baseline", "overlays/prod")
    stale = doc["baseline"]["stale"]
    assert code == 0 and [(e["check"], e["file"]) for e in stale] == [("privileged", "overlays/prod/patch.yaml")]


def test_a_kustomization_of_the_wrong_shape_does_not_stop_the_run(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo / "odd" / "kustomization.yaml", "resources: 7\npatches: 5\npatchesStrategicMerge: {a: 1}\n")
    code, doc, err = scan(capsys, "--kustomize", "off", "--profile", "baseline", ".")
    assert "internal error" not in err and doc["errors"] == []
    assert {f["file"] for f in doc["findings"]} <= {"base/deployment.yaml"} and code == 0


@needs_kubectl
def test_a_patch_applies_only_to_the_objects_its_target_selects(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two = "".join(
        f"---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {n}\n  namespace: {ns}\n"
        f"  labels: {{tier: {tier}}}\n  annotations: {{team: {team}}}\n"
        f"spec:\n  selector: {{matchLabels: {{app: {n}}}}}\n  template:\n    metadata: {{labels: {{app: {n}}}}}\n"
        "    spec:\n      containers:\n      - name: app\n        image: x\n"
        for n, ns, tier, team in (("a", "one", "front", "x"), ("b", "two", "back", "y"))
    )
    write(repo / "selected" / "apps.yaml", two)
    patch = "  patch: |-\n    - op: add\n      path: /spec/template/spec/containers/0/securityContext\n      value: {privileged: true}\n"
    write(
        repo / "selected" / "kustomization.yaml",
        "resources:\n- apps.yaml\npatches:\n"
        + "".join(
            f"- target: {target}\n{patch}"
            for target in (
                "{annotationSelector: team=x}",
                "{labelSelector: tier!=front}",
                "{namespace: one, kind: Deployment}",
                "{group: batch, kind: Deployment}",  # selects nothing here
            )
        ),
    )
    _, doc, _ = scan(capsys, "--profile", "baseline", "selected")
    where = {f["object"]["name"]: f["line"] for f in doc["findings"] if f["check"] == "privileged"}
    ops = [
        i + 1
        for i, line in enumerate((repo / "selected" / "kustomization.yaml").read_text().splitlines())
        if line.strip() == "value: {privileged: true}"
    ]
    assert where == {"a": ops[2], "b": ops[1]}  # the last patch that selects each object


KUBEBUILDER_CONFIG = """\
# teaches kustomize where CRDs name a Service (kubebuilder's config/crd/kustomizeconfig.yaml)
nameReference:
- kind: Service
  version: v1
  fieldSpecs:
  - kind: CustomResourceDefinition
    path: spec/conversion/webhook/clientConfig/service/name
"""


@pytest.mark.parametrize("mode", ["off", "auto"])
def test_kustomize_s_own_inputs_are_not_manifests(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    if mode == "auto" and shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    write(repo / "app" / "kustomizeconfig.yaml", KUBEBUILDER_CONFIG)
    write(repo / "app" / "settings.yaml", "logLevel: debug\nfeatures: [a, b]\n")  # the application's own config
    write(
        repo / "app" / "replacement.yaml",
        "source: {kind: ConfigMap, name: app, fieldPath: metadata.name}\n"
        "targets:\n- select: {kind: Deployment}\n  fieldPaths: [metadata.annotations.cfg]\n  options: {create: true}\n",
    )
    write(repo / "app" / "schema.json", '{"definitions": {}}\n')
    write(
        repo / "app" / "kustomization.yaml",
        "resources:\n- ../base\nconfigurations:\n- kustomizeconfig.yaml\nopenapi:\n  path: schema.json\n"
        "configMapGenerator:\n- name: app\n  files:\n  - config.yaml=settings.yaml\n"
        "replacements:\n- path: replacement.yaml\n",
    )
    code, doc, _ = scan(capsys, "--kustomize", mode, "--profile", "baseline", "app")
    assert doc["errors"] == [] and code == 0


def test_a_json_patch_no_kustomization_uses_is_not_an_error(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # kubebuilder scaffolds optional patches whose lines in kustomization.yaml are commented out
    write(
        repo / "overlays" / "prod" / "optional_patch.yaml",
        "# enable in kustomization.yaml\n- op: add\n  path: /spec/template/spec/hostNetwork\n  value: true\n",
    )
    code, doc, _ = scan(capsys, "--kustomize", "off", "--profile", "baseline", "overlays/prod/optional_patch.yaml")
    assert doc["errors"] == [] and doc["findings"] == [] and code == 0
    write(repo / "list.yaml", "- apiVersion: v1\n  kind: Pod\n")  # a list that is not a JSON patch still is one
    code, doc, _ = scan(capsys, "--kustomize", "off", "list.yaml")
    assert code == 2 and "the document is a list" in doc["errors"][0]["message"]


@needs_kubectl
def test_a_container_a_json6902_operation_replaced_is_followed_by_name_after_a_reorder(
    repo: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        repo / "reorder" / "kustomization.yaml",
        "resources:\n- ../base\n"
        "patches:\n"
        "- target: {kind: Deployment}\n"
        "  patch: |-\n"
        "    - op: replace\n"
        "      path: /spec/template/spec/containers/1\n"  # metrics, second in the base
        "      value:\n"
        "        name: metrics\n"
        "        image: exporter\n"
        "        securityContext:\n"
        "          privileged: true\n"
        "- patch: |-\n"  # then a strategic merge that puts metrics first
        "    apiVersion: apps/v1\n"
        "    kind: Deployment\n"
        "    metadata: {name: web}\n"
        "    spec:\n"
        "      template:\n"
        "        spec:\n"
        "          containers:\n"
        "          - name: metrics\n"
        "            image: exporter:2\n",
    )
    _, doc, _ = scan(capsys, "--profile", "baseline", "reorder")
    (privileged,) = [f for f in doc["findings"] if f["check"] == "privileged"]
    kustomization = repo / "reorder" / "kustomization.yaml"
    assert privileged["field"].startswith("spec.template.spec.containers[0]")  # first once rendered
    assert (privileged["file"], privileged["line"]) == (
        "reorder/kustomization.yaml",
        line_of(kustomization, "privileged: true"),
    )
