"""The analyses beyond the pod through `podsec scan`, `podsec psp` and `podsec rbac`: findings with
files and lines in every output format, namespaces seen across files, exemptions, input errors."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
import yaml

from podsec.cli import main
from podsec.sources.files import peek

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      automountServiceAccountToken: false
      containers:
      - name: web
        image: nginx
"""

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  # a comment\n  name: settings\n  namespace: 'billing'\ndata: {a: b}\n"

DENY_ALL = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: {ns}
spec:
  podSelector: {{}}
  policyTypes: [Ingress, Egress]
"""

OPEN = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: open
  namespace: shop
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{port: 80}]
"""

PSP = """\
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: legacy
spec:
  privileged: true
  seLinux: {rule: RunAsAny}
  runAsUser: {rule: RunAsAny}
  volumes: ['*']
"""


def scan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["scan", "--no-progress", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def only(doc: dict[str, Any], *checks: str) -> list[tuple[str, str | None, str | None, int | None, int | None]]:
    return sorted(
        (f["check"], f["object"]["kind"], f["object"]["name"], f["line"], f["column"])
        for f in doc["findings"]
        if f["check"] in checks
    )


NS_CHECKS = ("defaultDenyIngress", "defaultDenyEgress")


def test_namespace_findings_on_the_first_object_seen(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(DEPLOYMENT)
    (tmp_path / "b.yaml").write_text(CONFIGMAP)  # a ConfigMap is only peeked at, never parsed
    code, doc = scan(capsys, str(tmp_path))
    assert code == 1
    assert only(doc, *NS_CHECKS) == [
        ("defaultDenyEgress", "Namespace", "billing", 6, 3),
        ("defaultDenyEgress", "Namespace", "shop", 5, 3),
        ("defaultDenyIngress", "Namespace", "billing", 6, 3),
        ("defaultDenyIngress", "Namespace", "shop", 5, 3),
    ]
    files = {f["object"]["name"]: f["file"] for f in doc["findings"] if f["check"] in NS_CHECKS}
    assert files == {"shop": str(tmp_path / "a.yaml"), "billing": str(tmp_path / "b.yaml")}
    assert doc["summary"]["objects"] == 1  # the Deployment; namespaces are not workloads


def test_a_namespace_object_carries_its_findings(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_text(DEPLOYMENT)
    (tmp_path / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n")
    _, doc = scan(capsys, str(tmp_path))
    assert only(doc, *NS_CHECKS) == [
        ("defaultDenyEgress", "Namespace", "shop", 4, 3), ("defaultDenyIngress", "Namespace", "shop", 4, 3)
    ]  # fmt: skip
    assert {f["file"] for f in doc["findings"] if f["check"] in NS_CHECKS} == {str(tmp_path / "ns.yaml")}


def test_a_default_deny_policy_in_another_file_counts(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(DEPLOYMENT)
    (tmp_path / "z.yaml").write_text(DENY_ALL.format(ns="shop"))
    _, doc = scan(capsys, "--jobs", "2", str(tmp_path))  # worker processes: facts travel back with results
    assert only(doc, *NS_CHECKS) == []


def test_allow_all_rules_and_legacy_psps(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(DENY_ALL.format(ns="shop") + "---\n" + OPEN + "---\n" + PSP)
    code, doc = scan(capsys, str(path))
    assert code == 1
    assert only(doc, "allowAllIngress", "allowAllEgress", "podSecurityPolicy") == [
        ("allowAllIngress", "NetworkPolicy", "open", 18, 5),
        ("podSecurityPolicy", "PodSecurityPolicy", "legacy", 23, 3),
    ]
    psp = next(f for f in doc["findings"] if f["check"] == "podSecurityPolicy")
    assert psp["message"].startswith(
        "PodSecurityPolicy (equivalent to privileged; kept from baseline by spec.privileged is true"
    )
    assert "pod-security.kubernetes.io/enforce: privileged" in psp["message"]
    assert psp["severity"] == "low" and psp["level"] == "hardened"


def test_profiles_and_selection(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(DEPLOYMENT + "---\n" + OPEN)
    _, doc = scan(capsys, "--profile", "restricted", str(path))
    assert only(doc, *NS_CHECKS, "allowAllIngress") == []  # hardened checks only
    _, doc = scan(capsys, "--ignore", "defaultDenyEgress", str(path))
    assert [c for c, *_ in only(doc, *NS_CHECKS, "allowAllIngress")] == ["allowAllIngress", "defaultDenyIngress"]
    code, doc = scan(capsys, "--select", "defaultDenyIngress", str(path))
    assert code == 1 and {f["check"] for f in doc["findings"]} == {"defaultDenyIngress"}
    code, doc = scan(capsys, "--select", "hardened", "--ignore", "defaultDenyIngress", str(path))
    assert {"defaultDenyEgress", "allowAllIngress"} <= {f["check"] for f in doc["findings"]}
    assert "defaultDenyIngress" not in {f["check"] for f in doc["findings"]}
    config = tmp_path / "c.yaml"
    config.write_text("checks:\n  disable: [allowAllIngress]\n  severity: {defaultDenyEgress: high}\n")
    _, doc = scan(capsys, "--config", str(config), str(path))
    by_check = {f["check"]: f["severity"] for f in doc["findings"]}
    assert "allowAllIngress" not in by_check and by_check["defaultDenyEgress"] == "high"
    assert main(["scan", "--select", "rbacExec", str(path)]) == 2
    assert "rbacExec: run by `podsec rbac`" in capsys.readouterr().err


def test_exemptions_on_the_namespace_and_the_policy(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    namespace = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations:\n"
        "    podsec.io/exempt: defaultDenyEgress\n    podsec.io/exempt-reason: egress is filtered by the mesh\n"
    )
    policy = OPEN.replace(
        "  namespace: shop\n",
        "  namespace: shop\n  annotations:\n    podsec.io/exempt: allowAllIngress\n    podsec.io/exempt-reason: public\n",
    )
    path = tmp_path / "x.yaml"
    path.write_text(namespace + "---\n" + policy)
    _, doc = scan(capsys, str(path))
    assert [f["check"] for f in doc["findings"]] == ["defaultDenyIngress"]
    assert sorted(s["check"] for s in doc["suppressed"]) == ["allowAllIngress", "defaultDenyEgress"]
    config = tmp_path / "c.yaml"
    config.write_text("exemptions:\n- {checks: [defaultDenyIngress], kind: Namespace, reason: the platform team's}\n")
    _, doc = scan(capsys, "--config", str(config), str(path))
    assert doc["findings"] == []


def test_namespace_exemptions_do_not_depend_on_the_first_object(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotated = DEPLOYMENT.replace(
        "  namespace: shop\n", "  namespace: shop\n  annotations:\n    podsec.io/exempt: defaultDenyIngress\n"
        "    podsec.io/exempt-reason: not the namespace's to say\n"
    )  # fmt: skip
    path = tmp_path / "x.yaml"
    path.write_text(annotated)
    _, doc = scan(capsys, "--select", "defaultDenyIngress", str(path))
    assert [f["check"] for f in doc["findings"]] == ["defaultDenyIngress"]  # a workload's annotation: not used
    config = tmp_path / "c.yaml"
    config.write_text(
        "exemptions:\n- {checks: [defaultDenyIngress], kind: Namespace, name: shop, reason: mesh}\n"
        "- {checks: [defaultDenyEgress], namespace: 'sh*', reason: mesh}\n"
        "- {checks: [defaultDenyEgress], kind: Deployment, namespace: shop, reason: not a namespace}\n"
    )
    _, doc = scan(capsys, "--config", str(config), "--select", ",".join(NS_CHECKS), str(path))
    assert doc["findings"] == []
    assert sorted(s["check"] for s in doc["suppressed"]) == sorted(NS_CHECKS)
    config.write_text("exemptions:\n- {checks: ['*'], kind: Deployment, namespace: shop, reason: its pods}\n")
    _, doc = scan(capsys, "--config", str(config), "--select", ",".join(NS_CHECKS), str(path))
    assert sorted(f["check"] for f in doc["findings"]) == sorted(NS_CHECKS)


def test_refused_policies_are_input_errors_with_lines(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(DENY_ALL.format(ns="shop").replace("[Ingress, Egress]", "[ingress]"))
    code, doc = scan(capsys, str(path))
    assert code == 2
    (error,) = doc["errors"]
    assert error["line"] == 8 and 'spec.policyTypes[0]: unsupported value "ingress"' in error["message"]
    assert "the API server refuses this object" in error["message"]
    path.write_text(DENY_ALL.format(ns="n"))  # namespace: n is the boolean false to Kubernetes
    code, doc = scan(capsys, str(path))
    assert code == 2 and doc["findings"] == []
    (error,) = doc["errors"]
    assert error["line"] == 5 and "metadata.namespace: expected a string, got boolean false" in error["message"]


def test_rbac_select_ignore_and_baseline(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rbac.yaml"
    path.write_text(RBAC)

    def checks(*args: str) -> set[str]:
        main(["rbac", "--format", "json", *args, str(path)])
        return {f["check"] for f in json.loads(capsys.readouterr().out)["findings"]}

    assert checks() == {"rbacPrivilegedPods", "rbacExec", "rbacImpersonate"}
    assert checks("--select", "rbacExec") == {"rbacExec"}
    assert checks("--ignore", "rbacExec,rbacImpersonate") == {"rbacPrivilegedPods"}
    assert checks("--select", "rbac", "--ignore", "rbacExec") == {"rbacPrivilegedPods", "rbacImpersonate"}
    assert main(["rbac", "--ignore", "rbac", str(path)]) == 2
    assert "leave no rbac check to run" in capsys.readouterr().err
    assert main(["rbac", "--select", "noSuchCheck", str(path)]) == 2
    capsys.readouterr()
    sarif = tmp_path / "o.sarif"
    main(["rbac", "--select", "rbacExec", "-o", f"sarif={sarif}", str(path)])
    assert [r["id"] for r in json.loads(sarif.read_text())["runs"][0]["tool"]["driver"]["rules"]] == ["rbacExec"]
    accepted = tmp_path / "baseline.yaml"
    assert main(["rbac", "--update-baseline", str(accepted), str(path)]) == 0
    assert "wrote 4 baseline entries" in capsys.readouterr().err
    assert main(["rbac", "--baseline", str(accepted), "--format", "json", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["findings"] == [] and doc["summary"]["baselined"] >= 3
    path.write_text(RBAC.replace("name: ops, apiGroup", "name: admins, apiGroup"))  # a new subject is new
    assert main(["rbac", "--baseline", str(accepted), "--format", "json", str(path)]) == 1
    assert {f["object"]["name"] for f in json.loads(capsys.readouterr().out)["findings"]} == {"ops"}


def test_rbac_reads_files_as_scan_does(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A kustomization's patch files are not manifests, nor is a strategic-merge $patch: delete."""
    (tmp_path / "rbac.yaml").write_text(RBAC)
    (tmp_path / "kustomization.yaml").write_text("resources: [rbac.yaml]\npatches:\n- path: patch.yaml\n")
    (tmp_path / "patch.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: deployers, namespace: dev}\n"
        "subjects: []\n"
    )
    (tmp_path / "orphan.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: old}\n$patch: delete\n"
    )
    assert main(["rbac", "--format", "json", str(tmp_path)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["errors"] == [] and doc["findings"]


def test_rbac_json_lists_cluster_wide_grants_once(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rbac.yaml"
    path.write_text(RBAC)
    main(["rbac", "--format", "json", str(path)])
    section = json.loads(capsys.readouterr().out)["rbac"]
    in_namespaces = [g for ns in section["namespaces"] for grants in ns["powers"].values() for g in grants]
    assert in_namespaces and not any(g["everywhere"] for g in in_namespaces)
    assert any(g["binding"]["name"] == "ops" for grants in section["everywhere"].values() for g in grants)


def test_junit_has_one_suite_per_file(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(DEPLOYMENT + "---\n" + OPEN)
    main(["scan", "--no-progress", "--format", "junit", str(path)])
    out = capsys.readouterr().out
    assert out.count("<testsuite ") == 1  # the namespace's findings join the suite of the file they are shown in
    assert "Namespace/shop" in out and " : no default-deny" not in out


def test_every_output_format(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(DEPLOYMENT + "---\n" + OPEN)
    sarif, html, text = tmp_path / "o.sarif", tmp_path / "o.html", tmp_path / "o.txt"
    code = main(
        ["scan", "--no-progress", "-o", f"sarif={sarif}", "-o", f"html={html}", "-o", f"text={text}", str(path)]
    )
    assert code == 1
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    regions = {r["ruleId"]: r["locations"][0]["physicalLocation"]["region"] for r in results}
    assert regions["allowAllIngress"] == {"startLine": 22, "startColumn": 5}
    assert regions["defaultDenyIngress"] == {"startLine": 5, "startColumn": 3}
    rules = {r["id"] for r in json.loads(sarif.read_text())["runs"][0]["tool"]["driver"]["rules"]}
    assert {"allowAllIngress", "defaultDenyIngress", "defaultDenyEgress"} <= rules
    assert "defaultDenyIngress" in html.read_text() and "allowAllIngress" in html.read_text()
    out = text.read_text()
    assert "Namespace shop" in out and "5:3" in out and "22:5" in out and "allows all ingress" in out


def test_peek_reads_plain_metadata_only() -> None:
    m = peek(CONFIGMAP.encode(), 10)
    assert m is not None and (m.kind, m.name, m.namespace, m.line, m.column) == (
        "ConfigMap",
        "settings",
        "billing",
        16,
        3,
    )
    m = peek(b"apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec: {}\n", 0)
    assert m is not None and m.namespace is None and m.line == 3
    assert peek(b"apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: x}\n", 0) is None
    assert peek(b"apiVersion: v1\nkind: Service\nmetadata:\n  namespace: *ns\n", 0) is None
    assert peek(b'{"apiVersion": "v1", "kind": "Service"}', 0) is None
    # YAML 1.1 as Kubernetes reads it: "n" is false, "1" a number; quoted, they are names
    assert peek(b"apiVersion: v1\nkind: Service\nmetadata:\n  namespace: n\n", 0) is None
    assert peek(b"apiVersion: v1\nkind: Service\nmetadata:\n  name: 1\n", 0) is None
    m = peek(b"apiVersion: v1\nkind: Service\nmetadata:\n  namespace: 'n'\n", 0)
    assert m is not None and m.namespace == "n"


RBAC = """\
apiVersion: v1
kind: Namespace
metadata:
  name: prod
  labels: {pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: v1
kind: Namespace
metadata:
  name: dev
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: deployer}
rules:
- apiGroups: ["*"]
  resources: [deployments]
  verbs: [patch]
- apiGroups: [""]
  resources: ["*/exec"]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployers, namespace: dev}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: deployer}
subjects:
- {kind: ServiceAccount, name: ci}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployers, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: deployer}
subjects:
- {kind: ServiceAccount, name: ci}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ops}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {kind: Group, name: ops, apiGroup: rbac.authorization.k8s.io}
"""


def test_rbac_headline_findings_and_json(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rbac.yaml"
    path.write_text(RBAC)
    assert main(["rbac", str(path)]) == 1
    out = capsys.readouterr().out
    head = out.split("\n\n")[0].splitlines()
    assert head[0].startswith("Who can run a privileged pod")
    assert '  namespace "dev" (enforce privileged)' in head
    assert any(
        "ServiceAccount dev/ci — patch deployments.apps through RoleBinding dev/deployers" in line for line in head
    )
    assert '  nobody in "prod"' in head
    assert main(["rbac", "--format", "json", str(path)]) == 1
    doc = json.loads(capsys.readouterr().out)
    found = {(f["check"], f["object"]["namespace"], f["object"]["name"], f["line"]) for f in doc["findings"]}
    assert ("rbacPrivilegedPods", "dev", "deployers", 28) in found  # subjects[0] of the dev binding
    assert ("rbacPrivilegedPods", "prod", "deployers", None) not in {(c, n, o, None) for c, n, o, _ in found}
    assert ("rbacExec", None, "ops", 42) in found  # edit: create pods/exec, everywhere
    assert ("rbacImpersonate", None, "ops", 42) in found  # edit impersonates service accounts
    privileged = {
        (r["subject"]["name"], tuple(r["namespaces"]), r["everyUnlabelledNamespace"]) for r in doc["rbac"]["privileged"]
    }
    assert privileged == {("ci", ("dev",), False), ("ops", ("dev",), True)}
    assert doc["rbac"]["kubeVersion"] == "v1.37" and doc["rbac"]["defaultRoles"] > 50


def test_rbac_kube_version_and_default_roles(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rbac.yaml"
    path.write_text(RBAC)

    def checks(*args: str) -> set[tuple[str, str]]:
        main(["rbac", "--format", "json", *args, str(path)])
        return {(f["check"], f["object"]["name"]) for f in json.loads(capsys.readouterr().out)["findings"]}

    assert ("rbacExec", "deployers") not in checks()  # get on */exec: not from 1.35
    assert ("rbacExec", "deployers") in checks("--kube-version", "1.34")
    assert ("rbacExec", "deployers") in checks("--kube-version", "v1.34")
    assert not {c for c in checks("--no-default-roles") if c[1] == "ops"}  # edit unknown: nothing


def test_rbac_sarif_and_errors(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rbac.yaml"
    path.write_text(
        RBAC
        + "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: bad, namespace: dev}\nrules:\n- {resources: [pods], verbs: [get]}\n"
    )
    sarif = tmp_path / "o.sarif"
    assert main(["rbac", "-o", f"sarif={sarif}", str(path)]) == 2
    run = json.loads(sarif.read_text())["runs"][0]
    assert any(
        r["ruleId"] == "rbacPrivilegedPods" and r["locations"][0]["physicalLocation"]["region"]["startLine"] == 28
        for r in run["results"]
    )
    notes = [n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"]]
    assert any("resource rules must supply at least one api group" in n for n in notes)
    capsys.readouterr()


PSP_USE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: psp-legacy}
rules:
- {apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use], resourceNames: [legacy]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: psp, namespace: kube-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: psp-legacy}
subjects:
- {kind: Group, name: "system:serviceaccounts:kube-system", apiGroup: rbac.authorization.k8s.io}
---
apiVersion: v1
kind: Namespace
metadata: {name: apps}
"""


def test_psp_command(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "psp.yaml"
    path.write_text(PSP + "---\n" + PSP_USE)
    assert main(["psp", str(path)]) == 0
    out = capsys.readouterr().out
    assert "PodSecurityPolicy legacy\n  equivalent to: privileged\n  kept from baseline by:\n" in out
    assert "    spec.privileged = true: baseline needs false or unset\n" in out
    assert '  "kube-system": legacy (privileged) -> pod-security.kubernetes.io/enforce=privileged\n' in out
    assert '  "apps": none\n' in out
    assert main(["psp", "--format", "json", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    (policy,) = doc["policies"]
    assert policy["level"] == "privileged" and policy["mutates"] is False and policy["line"] == 1
    assert [b["field"] for b in policy["blocking"]["baseline"]] == [
        "spec.privileged", "spec.volumes", "spec.seLinux",
        'metadata.annotations["apparmor.security.beta.kubernetes.io/allowedProfileNames"]',
    ]  # fmt: skip
    assert policy["usedBy"] == [
        {
            "subject": {"kind": "Group", "name": "system:serviceaccounts:kube-system"},
            "binding": {"kind": "RoleBinding", "namespace": "kube-system", "name": "psp"},
            "namespace": "kube-system",
            "everywhere": False,
        }
    ]
    rows = {r["namespace"]: r for r in doc["namespaces"] if not r["otherNamespaces"]}
    assert rows["kube-system"]["labels"] == {"pod-security.kubernetes.io/enforce": "privileged"}
    assert rows["apps"]["level"] is None


def test_psp_command_input_errors(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "psp.yaml"
    path.write_text(PSP.replace("privileged: true", "privileged: 'yes'"))
    assert main(["psp", str(path)]) == 2
    out = capsys.readouterr().out
    assert "equivalent to: privileged" in out
    docs = list(yaml.safe_load_all(PSP))
    assert docs[0]["kind"] == "PodSecurityPolicy"
