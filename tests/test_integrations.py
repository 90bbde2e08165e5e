"""Where teams run podsec: the pre-commit hook (really run by pre-commit), the GitHub Action and the
GitLab CI template (their scripts run here as the runners would), and the kubectl plugin."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent  # where this environment's podsec and kubectl-podsec live
EXAMPLES = ROOT / "examples" / "workloads"
PRIVILEGED = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  namespace: ns\nspec:\n  containers:\n"
    "  - name: app\n    image: x\n    securityContext:\n      privileged: true\n"
)


def _sample_repo(path: pathlib.Path) -> pathlib.Path:
    (path / "deploy").mkdir(parents=True)
    (path / "deploy" / "bad.yaml").write_text(PRIVILEGED)
    shutil.copy(EXAMPLES / "compliant.yaml", path / "deploy" / "good.yaml")
    (path / "values.yaml").write_text("replicas: 2\n")  # not a manifest: the hook leaves it out
    (path / ".pre-commit-config.yaml").write_text("repos: []\n")
    return path


def _git(cwd: pathlib.Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_pre_commit_runs_the_hook_against_a_sample_repository(tmp_path: pathlib.Path) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout of podsec")
    repo = _sample_repo(tmp_path / "repo")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    _git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "manifests")
    env = {
        **os.environ,
        # pre-commit's environments are kept outside the work tree, between runs
        "PRE_COMMIT_HOME": os.environ.get("PRE_COMMIT_HOME", str(pathlib.Path.home() / ".cache" / "podsec-pre-commit")),
    }
    proc = subprocess.run(
        [str(BIN / "pre-commit"), "try-repo", str(ROOT), "podsec", "--all-files", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert re.search(r"podsec \(pod security contexts\)\.+Failed", out), out
    assert "deploy/bad.yaml:11:7: critical privileged privileged" in out
    assert "good.yaml" not in out and "values.yaml" not in out and ".pre-commit-config" not in out


def _action() -> dict:  # type: ignore[type-arg]
    data: dict = yaml.safe_load((ROOT / "action.yml").read_text())  # type: ignore[type-arg]
    return data


def test_action_metadata_is_consistent() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    declared = set(action["inputs"])
    text = (ROOT / "action.yml").read_text()
    assert set(re.findall(r"inputs\.([a-z-]+)", text)) <= declared
    steps = action["runs"]["steps"]
    assert all("shell" in s for s in steps if "run" in s)
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@"))
    assert upload["if"].startswith("always()") and upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"
    for name, spec in action["inputs"].items():
        assert spec["description"], name


def _run_step(step: dict, env: dict[str, str], cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:  # type: ignore[type-arg]
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300
    )


@pytest.mark.parametrize(("manifest", "expected"), [("bad", "1"), ("good", "0")])
def test_action_scan_and_fail_steps(manifest: str, expected: str, tmp_path: pathlib.Path) -> None:
    """The action's own shell steps, as the runner runs them (its inputs as the runner sets them)."""
    repo = _sample_repo(tmp_path / "repo")
    action = _action()
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    inputs["paths"] = f"deploy/{manifest}.yaml"
    output = tmp_path / "github_output"
    output.touch()

    def expand(value: str, outputs: dict[str, str]) -> str:
        value = re.sub(r"\$\{\{ inputs\.([a-z-]+) \}\}", lambda m: inputs[m.group(1)], value)
        return re.sub(r"\$\{\{ steps\.scan\.outputs\.([a-z-]+) \}\}", lambda m: outputs.get(m.group(1), ""), value)

    env = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(output), "HOME": str(tmp_path)}
    steps = {s["name"]: s for s in action["runs"]["steps"]}
    scan = steps["Scan"]
    done = _run_step(scan, {**env, **{k: expand(v, {}) for k, v in scan["env"].items()}}, repo)
    assert done.returncode == 0, done.stderr  # findings do not stop the job before the upload
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert outputs == {"exit-code": expected}
    sarif = json.loads((repo / "podsec.sarif").read_text())
    assert sarif["version"] == "2.1.0" and bool(sarif["runs"][0]["results"]) == (manifest == "bad")
    fail = steps["Fail on findings"]
    done = _run_step(fail, {**env, **{k: expand(v, outputs) for k, v in fail["env"].items()}}, repo)
    assert done.returncode == int(expected)


def test_gitlab_template_runs_its_script(tmp_path: pathlib.Path) -> None:
    template = yaml.safe_load((ROOT / "ci" / "podsec.gitlab-ci.yml").read_text())
    job = template["podsec"]
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["reports"]["junit"] == "podsec-junit.xml"
    repo = _sample_repo(tmp_path / "repo")
    env = {
        **{k: str(v) for k, v in template["variables"].items()},
        "PODSEC_PATHS": "deploy/",
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
    }
    install, scan = job["script"]
    assert "pip install" in install and '"$PODSEC_PIP_SPEC"' in install  # not run here: podsec is installed
    done = subprocess.run(["bash", "-c", scan], cwd=repo, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    assert "deploy/bad.yaml:11:7: critical privileged" in done.stdout
    junit = ET.parse(repo / "podsec-junit.xml").getroot()
    # the pod, the compliant file, and the pod's namespace "ns" (no default-deny network policy)
    assert junit.get("tests") == "3" and junit.get("failures") == "2"
    for artifact in job["artifacts"]["paths"]:
        assert (repo / artifact).is_file()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_plugin(tmp_path: pathlib.Path) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    plugins = subprocess.run(["kubectl", "plugin", "list"], env=env, capture_output=True, text=True, check=False)
    assert "kubectl-podsec" in plugins.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(PRIVILEGED)
    done = subprocess.run(
        ["kubectl", "podsec", "scan", "--format", "concise", str(bad)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and f"{bad}:11:7: critical privileged" in done.stdout
    usage = subprocess.run(
        ["kubectl", "podsec", "scan", "--help"], env=env, capture_output=True, text=True, check=False
    )
    assert usage.stdout.startswith("usage: kubectl podsec scan")
