"""The configuration file: every key, discovery, and clear errors for bad input."""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from podsec.checks import Severity
from podsec.cli import main
from podsec.config import ConfigError, find, load, parse
from podsec.model.standards import Profile

PRIVILEGED = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: app\n    securityContext:\n      privileged: true\n"


def test_every_key() -> None:
    cfg = parse(
        {
            "profile": "hardened",
            "pssVersion": "v1.30",
            "latestIs": "v1.33",
            "failOn": "high",
            "exclude": ["charts/*"],
            "checks": {
                "enable": ["runAsUserMinimum"],
                "disable": ["userNamespace"],
                "severity": {"readOnlyRootFilesystem": "low"},
                "options": {"runAsUserMinimum": {"minimum": 5000}},
            },
            "annotationExemptions": False,
            "exemptions": [{"checks": ["privileged"], "reason": "r"}],
        }
    )
    assert cfg.profile is Profile.HARDENED and cfg.fail_on is Severity.HIGH and cfg.latest_is == (1, 33)
    assert cfg.enable == ("runAsUserMinimum",) and cfg.disable == ("userNamespace",)
    assert cfg.severity == {"readOnlyRootFilesystem": Severity.LOW}
    assert cfg.options == {"runAsUserMinimum": {"minimum": 5000}}
    assert cfg.annotation_exemptions is False and len(cfg.exemptions) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"profil": "x"}, 'unknown key "profil"'),
        ({"profile": "strict"}, 'profile: expected "baseline", "restricted" or "hardened"'),
        ({"failOn": "severe"}, "failOn: expected one of error, critical, high, medium, low, info"),
        ({"checks": {"disable": ["nope"]}}, 'checks.disable: no such check "nope"'),
        ({"checks": {"enable": "runAsUser"}}, "checks.enable: expected a list of check ids"),
        ({"checks": {"severity": {"privileged": "huge"}}}, "checks.severity.privileged: expected one of"),
        ({"checks": {"options": {"runAsUserMinimum": {"min": 1}}}}, 'unknown option "min" (options: minimum)'),
        ({"checks": {"options": {"runAsUserMinimum": {"minimum": "high"}}}}, "minimum: expected an integer"),
        ({"checks": {"turnOff": []}}, 'checks: unknown key "turnOff"'),
        ({"annotationExemptions": "no"}, "annotationExemptions: expected true or false"),
        (["profile"], "the configuration must be a mapping"),
    ],
)
def test_bad_config(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(data)
    assert message in str(info.value)


def test_found_here_or_at_the_git_root(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    sub = tmp_path / "deploy" / "prod"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert find() is None
    (tmp_path / ".podsec.yaml").write_text("profile: baseline\n")
    assert find() == os.path.join(str(tmp_path), ".podsec.yaml")
    assert load(None).profile is Profile.BASELINE
    (sub / ".podsec.yaml").write_text("profile: restricted\n")
    assert load(None).profile is Profile.RESTRICTED


def test_severity_override_and_fail_on(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    pod = tmp_path / "p.yaml"
    pod.write_text(PRIVILEGED)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("profile: baseline\nchecks:\n  severity:\n    privileged: low\n")
    code = main(["scan", "--config", str(cfg), "--format", "json", str(pod)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["findings"][0]["severity"] == "low"
    assert main(["scan", "--config", str(cfg), "--fail-on", "medium", str(pod)]) == 0
    cfg.write_text("profile: baseline\nfailOn: medium\n")
    assert main(["scan", "--config", str(cfg), str(pod)]) == 1  # critical >= medium
    cfg.write_text("profile: baseline\nchecks:\n  disable: [privileged]\n")
    assert main(["scan", "--config", str(cfg), str(pod)]) == 0


def test_bad_config_file_is_exit_2(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("checks:\n  disable: [nope]\n")
    assert main(["scan", "--config", str(cfg), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and 'no such check "nope"' in err
