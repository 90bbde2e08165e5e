"""Adopting podsec on a real repository: defaults, severities along the profile lineage,
--select/--ignore, --exclude, configuration discovery, baselines and the outputs people read."""

from __future__ import annotations

import argparse
import json
import os
import pathlib

import pytest
import yaml

from podsec.cli import build_parser, main

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples" / "workloads"

HOST_ROOT = """apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: ns
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: app
    image: x
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: [ALL]
        add: [SYS_ADMIN]
  volumes:
  - name: root
    hostPath:
      path: /
"""

PRIVILEGED = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: ns\nspec:\n  containers:\n"
    "  - name: app\n    image: x\n    securityContext:\n      privileged: true\n"
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def scan_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code, out, _ = run(capsys, "scan", "--format", "json", *args)
    return code, json.loads(out)


def write(path: pathlib.Path, text: str) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- 1. defaults a real repository can pass ------------------------------------------------------


def test_the_compliant_example_passes_without_a_user_namespace(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (EXAMPLES / "compliant.yaml").read_text().replace("          hostUsers: false\n", "")
    path = write(tmp_path / "compliant.yaml", text)
    code, doc = scan_json(capsys, str(path))
    assert {f["check"] for f in doc["findings"]} == {"userNamespace"}  # reported, informational
    assert code == 0  # informational findings never fail by default
    assert run(capsys, "scan", "--fail-on", "info", str(path))[0] == 1  # unless asked
    assert run(capsys, "scan", str(EXAMPLES / "compliant.yaml"))[0] == 0


def test_fail_on_none_reports_only(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path / "p.yaml", PRIVILEGED.format(name="p"))
    code, out, _ = run(capsys, "scan", "--fail-on", "none", str(bad))
    assert code == 0 and "privileged" in out and "--fail-on none: findings do not fail the run" in out
    broken = write(tmp_path / "broken.yaml", "a: [\n")
    assert run(capsys, "scan", "--fail-on", "none", str(bad), str(broken))[0] == 2  # input errors still do
    config = write(tmp_path / "c.yaml", "failOn: none\n")
    assert run(capsys, "scan", "--config", str(config), str(bad))[0] == 0
    assert run(capsys, "scan", "--config", str(config), "--fail-on", "high", str(bad))[0] == 1  # the CLI wins


def test_default_exit_code_is_low_and_above(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    # only automountServiceAccountToken (low) and the informational checks
    pod = (EXAMPLES / "compliant.yaml").read_text().replace("automountServiceAccountToken: false", "hostPID: false")
    path = write(tmp_path / "p.yaml", pod)
    code, doc = scan_json(capsys, str(path))
    assert {f["severity"] for f in doc["findings"]} == {"low"} and code == 1


@pytest.mark.parametrize("profile", ["baseline", "restricted", "hardened"])
def test_severity_never_drops_as_the_profile_gets_stricter(
    profile: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "p.yaml", HOST_ROOT)
    _, doc = scan_json(capsys, "--profile", profile, str(path))
    by_field = {}
    for f in doc["findings"]:
        by_field.setdefault(f["field"], []).append((f["check"], f["severity"]))
    volume = by_field["spec.volumes[0].hostPath"]
    cap = by_field["spec.containers[0].securityContext.capabilities.add[0]"]
    expected = "hostPathVolumes" if profile == "baseline" else "restrictedVolumes"
    assert (expected, "high") in volume  # at least baseline's hostPathVolumes severity
    assert ("capabilities_baseline" if profile == "baseline" else "capabilities_restricted", "high") in cap
    assert run(capsys, "scan", "--profile", profile, "--fail-on", "high", str(path))[0] == 1


def test_a_violation_only_the_stricter_check_sees_keeps_its_own_severity(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pod = HOST_ROOT.replace("hostPath:\n      path: /", "nfs:\n      server: nfs\n      path: /x").replace(
        "add: [SYS_ADMIN]", "add: [NET_BIND_SERVICE]"
    )
    _, doc = scan_json(capsys, "--profile", "restricted", str(write(tmp_path / "p.yaml", pod)))
    assert [(f["check"], f["severity"]) for f in doc["findings"]] == [("restrictedVolumes", "medium")]


def test_a_configured_severity_counts_in_the_lineage(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "c.yaml", "checks:\n  severity:\n    hostPathVolumes: critical\n")
    _, doc = scan_json(
        capsys, "--config", str(config), "--profile", "restricted", str(write(tmp_path / "p.yaml", HOST_ROOT))
    )
    volume = next(f for f in doc["findings"] if f["check"] == "restrictedVolumes")
    assert volume["severity"] == "critical"


def test_check_docs_say_which_severity_applies_when(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "checks", "show", "restrictedVolumes")[0] == 0
    page = capsys.readouterr().out or run(capsys, "checks", "show", "restrictedVolumes")[1]
    assert "medium; high for a violation hostPathVolumes also reports" in " ".join(page.split())
    text = " ".join(run(capsys, "checks", "show", "hostpathvolumes")[1].split())
    assert "under restricted and hardened restrictedVolumes reports these violations in its place, at high" in text
    text = " ".join(run(capsys, "checks", "show", "capabilities_restricted")[1].split())
    assert "high for a violation capabilities_baseline also reports" in text


# --- 2. select / ignore ------------------------------------------------------------------------


def test_select_a_level_and_ignore_a_check(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    pod = HOST_ROOT.replace("  containers:", "  hostNetwork: true\n  containers:").replace(
        "    image: x\n", "    image: x\n    ports:\n    - containerPort: 80\n      hostPort: 80\n"
    )
    path = write(tmp_path / "p.yaml", pod)
    _, doc = scan_json(capsys, "--select", "baseline", str(path))
    checks = {f["check"] for f in doc["findings"]}
    assert checks == {"hostNamespaces", "hostPorts", "capabilities_baseline", "hostPathVolumes"}
    _, doc = scan_json(capsys, "--select", "baseline", "--ignore", "hostPorts", str(path))
    assert {f["check"] for f in doc["findings"]} == checks - {"hostPorts"}
    _, doc = scan_json(capsys, "--select", "Baseline,readonlyrootfilesystem", "--ignore", "HOSTPORTS", str(path))
    assert {f["check"] for f in doc["findings"]} == (checks - {"hostPorts"}) | {"readOnlyRootFilesystem"}


def test_ignoring_a_restricted_check_brings_back_the_baseline_one_it_replaced(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "p.yaml", HOST_ROOT)
    _, doc = scan_json(
        capsys, "--profile", "restricted", "--ignore", "capabilities_restricted,restrictedVolumes", str(path)
    )
    assert {(f["check"], f["severity"]) for f in doc["findings"]} == {
        ("capabilities_baseline", "high"),
        ("hostPathVolumes", "high"),
    }


def test_select_turns_on_an_off_by_default_check(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    pod = (EXAMPLES / "compliant.yaml").read_text().replace("runAsUser: 10001", "runAsUser: 1000")
    _, doc = scan_json(capsys, "--select", "runAsUserMinimum", str(write(tmp_path / "p.yaml", pod)))
    assert [f["check"] for f in doc["findings"]] == ["runAsUserMinimum"]


def test_select_and_ignore_in_the_config(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "p.yaml", HOST_ROOT)
    config = write(tmp_path / "c.yaml", "select: [baseline]\nignore: [hostPathVolumes]\n")
    _, doc = scan_json(capsys, "--config", str(config), str(path))
    assert {f["check"] for f in doc["findings"]} == {"capabilities_baseline"}
    _, doc = scan_json(capsys, "--config", str(config), "--select", "restricted", str(path))  # the CLI's select wins
    assert {f["check"] for f in doc["findings"]} == {"capabilities_restricted", "restrictedVolumes"}


def test_a_check_selected_by_id_wins_over_an_ignored_level(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "p.yaml", HOST_ROOT)
    # as in ruff: the more specific name wins; named alike on both sides, ignore wins
    _, doc = scan_json(capsys, "--ignore", "baseline", "--select", "hostPathVolumes,capabilities_restricted", str(path))
    assert {f["check"] for f in doc["findings"]} == {"hostPathVolumes", "capabilities_restricted"}
    _, doc = scan_json(capsys, "--select", "baseline", "--ignore", "hostPathVolumes", str(path))
    assert {f["check"] for f in doc["findings"]} == {"capabilities_baseline"}
    code, _, err = run(capsys, "scan", "--select", "hostPathVolumes", "--ignore", "hostPathVolumes", str(path))
    assert code == 2 and "leaves no check to run" in err


def test_select_on_the_command_line_starts_afresh(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "p.yaml", HOST_ROOT)
    config = write(
        tmp_path / "c.yaml", "ignore: [hostPathVolumes, restricted]\nchecks:\n  disable: [capabilities_baseline]\n"
    )
    _, doc = scan_json(capsys, "--config", str(config), str(path))
    assert "hostPathVolumes" not in {f["check"] for f in doc["findings"]}
    # as in ruff, --select replaces the configuration's selection, its ignores included; --ignore adds to it
    _, doc = scan_json(capsys, "--config", str(config), "--select", "hostPathVolumes,capabilities_baseline", str(path))
    assert {f["check"] for f in doc["findings"]} == {"hostPathVolumes", "capabilities_baseline"}
    _, doc = scan_json(
        capsys, "--config", str(config), "--select", "baseline", "--ignore", "hostPathVolumes", str(path)
    )
    assert {f["check"] for f in doc["findings"]} == {"capabilities_baseline"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--select", "nope"), '--select: no such check or level "nope"'),
        (("--ignore", "privileged,nope"), '--ignore: no such check or level "nope"'),
    ],
)
def test_unknown_names_are_errors(
    args: tuple[str, ...], message: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "scan", *args, str(write(tmp_path / "p.yaml", HOST_ROOT)))
    assert code == 2 and message in err


def test_bad_select_in_the_config_is_an_error(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path / "c.yaml", "select: baseline\n")
    code, _, err = run(capsys, "scan", "--config", str(config), str(tmp_path))
    assert code == 2 and "select: expected a list of check ids or level names" in err
    write(config, "ignore: [baseline, nope]\n")
    code, _, err = run(capsys, "scan", "--config", str(config), str(tmp_path))
    assert code == 2 and f'{config}: ignore: no such check or level "nope"' in err


# --- 2. --exclude ------------------------------------------------------------------------------


def _tree(root: pathlib.Path) -> None:
    for rel in ("charts/a.yaml", "charts/sub/b.yaml", "apps/web.yaml", "apps/charts/c.yaml", "legacy/old.yaml"):
        write(root / rel, PRIVILEGED.format(name=rel.replace("/", "-").removesuffix(".yaml")))


def _files(doc: dict, root: pathlib.Path) -> set[str]:  # type: ignore[type-arg]
    return {os.path.relpath(f["file"], root) for f in doc["findings"]}


def test_exclude_is_relative_to_the_scanned_root(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    _, doc = scan_json(capsys, "--exclude", "charts/*", ".")
    assert _files(doc, tmp_path) == {"apps/web.yaml", "apps/charts/c.yaml", "legacy/old.yaml"}  # as in .gitignore
    _, doc = scan_json(capsys, "--exclude", "charts/", ".")  # a directory name at any depth
    assert _files(doc, tmp_path) == {"apps/web.yaml", "legacy/old.yaml"}
    _, doc = scan_json(capsys, "--exclude", "/legacy", "--exclude", "**/c.yaml", str(tmp_path))
    assert _files(doc, tmp_path) == {"charts/a.yaml", "charts/sub/b.yaml", "apps/web.yaml"}
    _, doc = scan_json(capsys, "--exclude", "*.yaml", "--exclude", "!web.yaml", "apps")  # negation
    assert _files(doc, tmp_path) == {"apps/web.yaml"}


def test_exclude_takes_absolute_and_dot_slash_paths(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    everything_but_charts = {"apps/web.yaml", "apps/charts/c.yaml", "legacy/old.yaml"}
    for pattern in (str(tmp_path / "charts"), str(tmp_path / "charts") + "/", "./charts", "./charts/"):
        _, doc = scan_json(capsys, "--exclude", pattern, ".")
        assert _files(doc, tmp_path) == everything_but_charts, pattern
        _, doc = scan_json(capsys, "--exclude", pattern, str(tmp_path))
        assert _files(doc, tmp_path) == everything_but_charts, pattern
    _, doc = scan_json(capsys, "--exclude", "*.yaml", "--exclude", f"!{tmp_path / 'apps' / 'web.yaml'}", "apps")
    assert _files(doc, tmp_path) == {"apps/web.yaml"}
    _, doc = scan_json(capsys, "--exclude", "/charts", ".")  # a pattern anchored at the root, as in .gitignore
    assert _files(doc, tmp_path) == everything_but_charts


def test_an_input_that_is_entirely_excluded_says_so(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "scan", "--exclude", "*.yaml", "charts")
    assert code == 0 and "0 findings" in out
    assert "charts: everything in it is excluded" in err
    code, _, err = run(capsys, "scan", "--exclude", "web.yaml", "apps/web.yaml")
    assert code == 0 and "apps/web.yaml is excluded (--exclude); not scanned" in err


def test_a_directory_without_manifests_says_so(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "deploy").mkdir()  # a typo in CI, or manifests that moved away: not a silent pass
    write(tmp_path / "deploy" / "README.md", "nothing\n")
    code, out, err = run(capsys, "scan", str(tmp_path / "deploy"))
    assert code == 0 and "0 findings" in out
    assert f"{tmp_path / 'deploy'}: no .yaml, .yml, .json files in it; nothing scanned there" in err


def test_exclude_in_the_config_is_relative_to_the_config_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(tmp_path)
    write(tmp_path / ".podsec.yaml", "exclude: [/charts/, legacy/]\n")
    monkeypatch.chdir(tmp_path / "apps")  # the working directory does not matter
    _, doc = scan_json(capsys, str(tmp_path))
    assert _files(doc, tmp_path) == {"apps/web.yaml", "apps/charts/c.yaml"}
    _, doc = scan_json(capsys, str(tmp_path / "charts"))  # a scan below the config
    assert _files(doc, tmp_path) == set()


def test_podsec_s_own_files_given_by_name_are_not_manifests(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # pre-commit passes every changed file: the configuration, a baseline or a policy test suite among them
    write(tmp_path / ".podsec.yaml", "profile: baseline\n")
    write(tmp_path / "podsec-baseline.yaml", "schemaVersion: 1\nfindings: []\n")
    write(tmp_path / "policies" / "podsec-test.yaml", "cases: []\n")
    write(tmp_path / "p.yaml", HOST_ROOT)
    monkeypatch.chdir(tmp_path)
    code, doc = scan_json(capsys, ".podsec.yaml", "podsec-baseline.yaml", "policies/podsec-test.yaml", "p.yaml")
    assert doc["errors"] == [] and doc["summary"]["files"] == 1
    assert code == 1 and {f["file"] for f in doc["findings"]} == {"p.yaml"}


# --- 2. configuration discovery ------------------------------------------------------------


def test_config_is_found_from_the_scanned_path_upward(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(repo / ".podsec.yaml", "profile: baseline\n")
    write(repo / "deploy" / "team" / ".podsec.yaml", "profile: restricted\nfailOn: none\n")
    pod = write(repo / "deploy" / "team" / "app" / "p.yaml", HOST_ROOT)
    other = write(repo / "deploy" / "other" / "p.yaml", HOST_ROOT)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write(elsewhere / ".podsec.yaml", "profile: hardened\n")
    monkeypatch.chdir(elsewhere)  # not from the working directory
    code, out, _ = run(capsys, "scan", str(pod))
    assert code == 0 and f"[restricted:latest, evaluated as v1.37, config {repo / 'deploy/team/.podsec.yaml'}]" in out
    code, out, _ = run(capsys, "scan", str(other))
    assert code == 1 and f"config {repo / '.podsec.yaml'}]" in out and "baseline:latest" in out
    monkeypatch.chdir(repo)
    code, out, _ = run(capsys, "scan", "deploy/team")
    assert "config deploy/team/.podsec.yaml]" in out  # named relative to the working directory
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "scan", "--format", "json", "repo/deploy/team/app/p.yaml")
    assert json.loads(out)["summary"]["profile"] == "restricted:latest"


def test_a_config_below_the_scanned_directory_is_named_as_not_used(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "deploy" / ".podsec.yaml", "profile: baseline\n")
    write(tmp_path / "deploy" / "p.yaml", HOST_ROOT)
    monkeypatch.chdir(tmp_path)
    _, out, err = run(capsys, "scan", ".")
    assert "hardened:latest" in out  # one run, one configuration: the nearest from "." upward (none)
    assert "deploy/.podsec.yaml is not used" in err
    _, out, err = run(capsys, "scan", "deploy")
    assert "baseline:latest" in out and "not used" not in err


def test_the_search_stops_at_the_git_root(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / ".podsec.yaml", "profile: baseline\n")
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    pod = write(tmp_path / "repo" / "p.yaml", HOST_ROOT)
    _, out, _ = run(capsys, "scan", str(pod))
    assert "hardened:latest" in out and "config" not in out.splitlines()[-1]


def test_paths_in_different_repositories_never_get_a_config_from_above_them(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / ".podsec.yaml", "profile: baseline\n")  # above both repositories: neither's search reaches it
    for repo in ("one", "two"):
        (tmp_path / repo / ".git").mkdir(parents=True)
        write(tmp_path / repo / "deploy" / "p.yaml", HOST_ROOT)
    write(tmp_path / "one" / ".podsec.yaml", "profile: restricted\n")
    monkeypatch.chdir(tmp_path)
    _, out, err = run(capsys, "scan", "one/deploy/p.yaml", "two/deploy/p.yaml")
    assert "hardened:latest" in out and "config" not in out.splitlines()[-1]
    assert "one/deploy/p.yaml is scanned without its configuration one/.podsec.yaml" in err
    _, out, err = run(capsys, "scan", "one/deploy/p.yaml", "one/.podsec.yaml")  # both find the same one
    assert "config one/.podsec.yaml]" in out and err == ""


def test_a_sub_directory_s_config_is_not_silently_overridden(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / ".podsec.yaml", "profile: baseline\n")
    write(tmp_path / "team" / ".podsec.yaml", "profile: restricted\n")
    write(tmp_path / "team" / "p.yaml", HOST_ROOT)
    write(tmp_path / "deploy" / "p.yaml", HOST_ROOT)
    monkeypatch.chdir(tmp_path)
    _, out, err = run(capsys, "scan", "deploy/p.yaml", "team/p.yaml")  # pre-commit passes both; one run, one config
    assert "baseline:latest" in out and "config .podsec.yaml]" in out
    assert "team/p.yaml is scanned with .podsec.yaml, not its own team/.podsec.yaml" in err
    write(tmp_path / "team" / "q.yaml", HOST_ROOT)
    _, out, err = run(capsys, "scan", "deploy/p.yaml", "team/p.yaml", "team/q.yaml")
    assert err.count("note:") == 1 and "team/p.yaml (and 1 more) is scanned with .podsec.yaml" in err


# --- 2. baseline -------------------------------------------------------------------------------


def _repo(root: pathlib.Path) -> pathlib.Path:
    write(root / "a.yaml", PRIVILEGED.format(name="a") + "---\n" + HOST_ROOT)
    write(root / "b.yaml", PRIVILEGED.format(name="b"))
    return root


def test_baseline_accepts_what_exists_and_fails_on_what_is_new(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path / "repo")
    base = tmp_path / "podsec-baseline.yaml"
    code, _, err = run(capsys, "scan", "--update-baseline", str(base), str(repo))
    assert code == 0 and "baseline entries to" in err
    first = base.read_text()
    code, doc = scan_json(capsys, "--baseline", str(base), str(repo))
    assert code == 0 and doc["findings"] == [] and doc["summary"]["findings"] == 0
    # a new finding fails, the accepted ones stay quiet
    write(repo / "c.yaml", PRIVILEGED.format(name="c"))
    code, doc = scan_json(capsys, "--baseline", str(base), str(repo))
    assert code == 1 and {f["object"]["name"] for f in doc["findings"]} == {"c"}
    # the file is stable: written again, it is the same
    (repo / "c.yaml").unlink()
    assert run(capsys, "scan", "--update-baseline", str(base), str(repo))[0] == 0
    assert base.read_text() == first


def test_baseline_does_not_depend_on_lines_or_file_order(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path / "repo")
    base = tmp_path / "b.yaml"
    run(capsys, "scan", "--update-baseline", str(base), str(repo))
    # move the code: comments above, documents swapped, an object moved to another file, containers reordered
    a = (repo / "a.yaml").read_text().split("---\n")
    write(repo / "a.yaml", "# moved\n\n" + a[1])
    write(
        repo / "z.yaml",
        a[0].replace(
            "  - name: app\n",
            "  - name: first\n    image: q\n    securityContext:\n      privileged: true\n  - name: app\n",
        ),
    )
    write(repo / "b.yaml", "\n\n\n" + (repo / "b.yaml").read_text())
    code, doc = scan_json(capsys, "--baseline", str(base), str(repo))
    assert {(f["object"]["name"], f["container"]) for f in doc["findings"]} == {("a", "first")}  # only what is new
    assert code == 1 and doc["baseline"]["stale"] == []


def test_renaming_resurrects_and_fixed_findings_are_stale(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path / "repo")
    base = tmp_path / "b.yaml"
    run(capsys, "scan", "--update-baseline", str(base), str(repo))
    write(repo / "b.yaml", PRIVILEGED.format(name="b-renamed"))
    code, out, _ = run(capsys, "scan", "--baseline", str(base), str(repo))
    assert code == 1 and "Pod ns/b-renamed" in out
    assert "baseline entries in" in out and "no longer found" in out and "privileged Pod ns/b container 'app'" in out
    _, doc = scan_json(capsys, "--baseline", str(base), str(repo))
    stale = doc["baseline"]["stale"]
    assert {(e["check"], e["object"]) for e in stale} >= {("privileged", "Pod ns/b")}
    assert doc["summary"]["baselined"] > 0 and doc["baseline"]["file"] == str(base)


def test_entries_of_a_deleted_file_are_stale(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path / "repo")
    base = tmp_path / "b.yaml"
    run(capsys, "scan", "--update-baseline", str(base), str(repo))
    (repo / "b.yaml").unlink()
    code, doc = scan_json(capsys, "--baseline", str(base), str(repo / "a.yaml"))  # a.yaml alone, as pre-commit would
    assert code == 0 and {(e["object"], e["file"]) for e in doc["baseline"]["stale"]} == {("Pod ns/b", "repo/b.yaml")}


def test_input_errors_are_baselined_and_new_ones_fail(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path / "repo")
    write(repo / "dup.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  name: y\n")
    write(repo / "app-config.yaml", "logLevel: debug\n")
    base = tmp_path / "b.yaml"
    code, _, _ = run(capsys, "scan", "--update-baseline", str(base), str(repo))
    assert code == 0  # a repository with broken files adopts podsec as it is
    errors = yaml.safe_load(base.read_text())["errors"]
    assert {e["file"] for e in errors} == {"repo/dup.yaml", "repo/app-config.yaml"}
    code, doc = scan_json(capsys, "--baseline", str(base), str(repo))
    assert code == 0 and doc["errors"] == [] and doc["findings"] == []
    assert doc["summary"]["baselined"] == len(doc["baseline"]["stale"]) + doc["baseline"]["matched"] > 2
    write(repo / "dup.yaml", "# moved down\n\n" + (repo / "dup.yaml").read_text())  # lines are not its identity
    (repo / "app-config.yaml").rename(repo / "settings.yaml")  # nor is its file
    code, doc = scan_json(capsys, "--baseline", str(base), str(repo))
    assert code == 0 and doc["errors"] == []
    write(repo / "new.yaml", "apiVersion: v1\nkind: Pod\nmetadata: [\n")  # a new broken file fails
    code, doc = scan_json(capsys, "--baseline", str(base), str(repo))
    assert code == 2 and [e["file"] for e in doc["errors"]] == [str(repo / "new.yaml")]
    (repo / "new.yaml").unlink()
    write(repo / "dup.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n")  # fixed: its entry is stale
    code, doc = scan_json(capsys, "--baseline", str(base), str(repo))
    assert code == 0 and [e["file"] for e in doc["baseline"]["stale"] if "check" not in e] == ["repo/dup.yaml"]
    code, _, _ = run(capsys, "scan", "--update-baseline", str(base), str(repo), str(repo / "missing.yaml"))
    assert code == 2  # a path that does not exist is never accepted


def test_a_baseline_of_the_corpus_accepts_all_of_it_wherever_it_moves(
    corpus: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "b.yaml"
    assert run(capsys, "scan", "--no-progress", "--update-baseline", str(base), str(corpus))[0] == 0
    code, doc = scan_json(capsys, "--no-progress", "--baseline", str(base), str(corpus))
    assert code == 0 and doc["findings"] == [] and doc["errors"] == [] and doc["baseline"]["stale"] == []
    moved = tmp_path / "elsewhere" / "deep"
    moved.parent.mkdir()
    os.symlink(corpus, moved)
    code, doc = scan_json(capsys, "--no-progress", "--baseline", str(base), str(moved))
    assert code == 0 and doc["findings"] == [] and doc["errors"] == []


def test_baseline_file_is_sorted_and_reviewable(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path / "repo")
    base = repo / "podsec-baseline.yaml"
    run(capsys, "scan", "--update-baseline", str(base), str(repo / "b.yaml"), str(repo / "a.yaml"))
    text = base.read_text()
    assert text.startswith("# podsec baseline")
    data = yaml.safe_load(text)
    entries = data["findings"]
    assert data["schemaVersion"] == 1 and len(entries) > 5
    keys = [(e["file"], e["object"], e.get("container", ""), e["check"]) for e in entries]
    assert keys == sorted(keys)
    assert {"fingerprint", "check", "object", "field", "file", "message"} <= set(entries[0])
    assert {e["file"] for e in entries} == {"a.yaml", "b.yaml"}  # relative to the baseline file
    assert all("[" not in e["field"] or "[app]" in e["field"] or "[*]" in e["field"] for e in entries)


def test_baseline_from_the_config(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    assert run(capsys, "scan", "--update-baseline", "podsec-baseline.yaml", ".")[0] == 0
    write(repo / ".podsec.yaml", "baseline: podsec-baseline.yaml\n")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "scan", "repo")
    assert code == 0 and "in the baseline" in out
    write(repo / ".podsec.yaml", "baseline: missing.yaml\n")
    code, _, err = run(capsys, "scan", "repo")
    assert code == 2 and "no such baseline file" in err


def test_a_baseline_that_cannot_be_written_is_a_clear_error(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path / "repo")
    code, _, err = run(capsys, "scan", "--update-baseline", str(tmp_path / "missing" / "b.yaml"), str(repo))
    assert code == 2 and "cannot write: No such file or directory" in err and "internal error" not in err


def test_a_broken_baseline_is_an_error(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write(tmp_path / "b.yaml", "findings:\n- check: privileged\n")
    code, _, err = run(capsys, "scan", "--baseline", str(base), str(tmp_path))
    assert code == 2 and "expected a fingerprint" in err


# --- 3. output people read ---------------------------------------------------------------------


def test_concise_output(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "p.yaml", HOST_ROOT)
    broken = write(tmp_path / "z.yaml", "a: [\n")
    code, out, _ = run(capsys, "scan", "--format", "concise", "--profile", "restricted", str(path), str(broken))
    lines = out.splitlines()
    assert code == 2
    assert lines[0] == (  # exactly file:line:col: severity check message
        f'{path}:17:15: high capabilities_restricted unrestricted capabilities (container "app" must not include '
        '"SYS_ADMIN" in securityContext.capabilities.add)'
    )
    assert lines[1] == (
        f'{path}:20:5: high restrictedVolumes restricted volume types (volume "root" uses restricted volume type '
        '"hostPath")'
    )
    assert lines[2].startswith(f"{broken}:2:1: error input invalid YAML")
    write(broken, "kind: Pod\n")  # an error with a line but no column
    _, out, _ = run(capsys, "scan", "--format", "concise", str(broken))
    assert out.splitlines()[0] == f"{broken}:1:1: error input not a Kubernetes object: no apiVersion"
    assert lines[-1].startswith("2 findings (2 high) in 1 workload across 2 files; 1 input error")
    _, doc = scan_json(capsys, "--profile", "restricted", str(path))
    assert lines[:2] == [
        f"{f['file']}:{f['line']}:{f['column']}: {f['severity']} {f['check']} {f['message']}" for f in doc["findings"]
    ]


def test_text_groups_a_missing_mapping_and_points_at_docs_once(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: x\n  - name: b\n    image: z\n"
    _, out, _ = run(capsys, "scan", str(write(tmp_path / "p.yaml", pod)))
    lines = out.splitlines()
    assert "5:3" not in out  # nothing points at a made-up place
    group = next(i for i, line in enumerate(lines) if "spec.containers[0].securityContext is not set" in line)
    assert lines[group].split()[:3] == ["7:5", "medium", "container"] and "(7 checks)" in lines[group]
    listed = [line.split()[1].rstrip(":") for line in lines[group + 1 : group + 8]]
    assert listed == [
        "allowPrivilegeEscalation",
        "capabilities_restricted",
        "readOnlyRootFilesystem",
        "runAsNonRoot",
        "seccompProfile_restricted",
        "containerSecurityContextMissing",
        "confinement",
    ]  # one missing mapping, shown once, the checks it trips listed by severity
    for check in ("readOnlyRootFilesystem", "seccompProfile_restricted", "runAsNonRoot"):
        assert out.count(f"podsec checks show {check}") == 1  # once per run, not per finding
    at = [int(line.split()[0].split(":")[0]) for line in lines[2:] if line.strip() and line.split()[0][0].isdigit()]
    assert at == sorted(at)  # by line within the object
    summary = lines[-1]
    assert " 0 errors" not in summary and "1 error" not in summary and "input error" not in summary


def test_json_stays_one_entry_per_check(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: x\n"
    _, doc = scan_json(capsys, str(write(tmp_path / "p.yaml", pod)))
    checks = [f["check"] for f in doc["findings"] if f["field"].startswith("spec.containers[0].securityContext")]
    assert len(checks) == len(set(checks)) == 7 and "confinement" in checks and "seccompProfile_restricted" in checks


def _options(parser: argparse.ArgumentParser, prefix: str = "") -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _options(sub, f"{prefix}{name} ")
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            found.append((prefix + "/".join(action.option_strings or [action.dest]), action))
    return found


def test_every_option_has_help_and_no_abbreviations() -> None:
    options = _options(build_parser())
    assert len(options) > 50
    missing = [name for name, action in options if not action.help or action.help == argparse.SUPPRESS]
    assert missing == []


def test_abbreviated_options_are_refused(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "scan", "--prof", "baseline", str(tmp_path))
    assert code == 2 and "unrecognized arguments: --prof" in err


def test_kustomize_dir_is_no_longer_spelled_kustomize(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "scan", "--kustomize", str(tmp_path))
    assert code == 2 and "--kustomize: invalid choice" in err


def test_exclude_also_reads_paths_from_the_working_directory(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "scan", "--exclude", "charts/*", "charts")
    assert code == 0 and "charts: everything in it is excluded" in err


def test_a_missing_seccomp_profile_is_shown_once(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: x\n"
        "    securityContext:\n      runAsNonRoot: true\n      allowPrivilegeEscalation: false\n"
        "      readOnlyRootFilesystem: true\n      capabilities:\n        drop: [ALL]\n"
    )
    _, out, _ = run(capsys, "scan", str(write(tmp_path / "p.yaml", pod)))
    lines = out.splitlines()
    i = next(i for i, line in enumerate(lines) if "seccompProfile is not set" in line)
    assert lines[i].split()[:2] == ["9:5", "medium"] and "(2 checks)" in lines[i]
    assert [line.split()[1] for line in lines[i + 1 : i + 3]] == ["seccompProfile_restricted:", "confinement:"]
    assert out.count("seccompProfile_restricted") == 2  # the listed check and its help pointer
