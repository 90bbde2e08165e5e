"""`podsec fix` on every kind of file the issue lists: what it changes, and that nothing else
changes (every original line survives byte for byte, in order, unless an edit is on it)."""

from __future__ import annotations

import difflib
import json
import pathlib
import re
import shutil
import subprocess

import pytest

from podsec import kyaml
from podsec.cli import main

DEPLOYMENT = """\
# leading comment
apiVersion: apps/v1   # trailing comment
kind: Deployment
metadata:
  name: web
  annotations:
    quoted: 'single'
    other: "double"
    mode: 0644
spec:
  template:
    spec:
      # before the containers
      containers:
      - name: web
        image: example.com/web:1.0
        ports:
        - containerPort: 8080
        # comment at the end of the container
      # comment at the end of the pod spec
# comment at the end of the file
"""


def fix(tmp_path: pathlib.Path, name: str, text: str | bytes, *args: str) -> tuple[int, bytes, bytes]:
    """(exit code of --write, the file before, after)."""
    path = tmp_path / name
    data = text.encode() if isinstance(text, str) else text
    path.write_bytes(data)
    code = main(["fix", "--write", *args, str(path)])
    return code, data, path.read_bytes()


def _lines(data: bytes) -> list[str]:
    parts = data.decode().split("\n")
    return [line + "\n" for line in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _gone(a: list[str], b: list[str]) -> list[int]:
    """Which lines of ``a`` are not in ``b`` as they were."""
    gone: list[int] = []
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            gone += range(i1, i2)
    return gone


def removed(before: bytes, after: bytes) -> list[str]:
    """The original lines that are not in the result as they were (LF-split, ends kept)."""
    a = _lines(before)
    return [a[i] for i in _gone(a, _lines(after))]


# What an edit may change on a line it is on: a field fix removes or sets, an item of a
# capability list (an empty name too: '' or ""), a flow mapping or list edited in place.
EDITED = re.compile(
    r"privileged|host(Network|PID|IPC|Port)|capabilities|\badd\b|\bdrop\b|securityContext|allowPrivilegeEscalation"
    r"|runAsNonRoot|runAsUser|readOnlyRootFilesystem|automountServiceAccountToken|seccompProfile"
    r"|^\s*-?\s*(['\"]?(CAP_)?[A-Za-z_]+['\"]?|''|\"\"),?\s*(#.*)?$|[{}\[\]]"
)
_OWNER = re.compile(r"\b(add|drop)['\"]?\s*:")


def _bare(line: str) -> str:
    """A line without its indentation, item dash and flow punctuation at its end."""
    return re.sub(r"^-\s+", "", line.strip()).rstrip(",}] ")


def _scalar_item(line: str) -> bool:
    """``- NAME`` or, in a flow list, ``NAME,`` (whatever the name: quoted, digits, empty)."""
    body = line.strip()
    return bool(body) and (body.startswith("- ") or body.endswith((",", "]"))) and not re.search(r": |[{]", body)


def _capability_item(a: list[str], i: int) -> bool:
    """Line ``i`` is a name in a capability list: the lines above it are names up to ``add:`` or ``drop:``."""
    while i >= 0 and _scalar_item(a[i]):
        i -= 1
    return i >= 0 and bool(_OWNER.search(a[i]))


def unexplained(before: bytes, after: bytes) -> list[str]:
    """The original lines gone from the result that no edit explains. An edit explains the lines
    it is on (`EDITED`, or any name in a capability list); the last line of a file without a
    final newline, after which lines are added; a key that moves up to its item's ``- `` line
    when the key before it is removed; and a flow entry whose comma goes when the entry after it
    is removed (or whose brackets close after it)."""
    a, b = _lines(before), _lines(after)
    last = before.decode().rsplit("\n", 1)[-1]
    kept = {_bare(line) for line in b}
    return [
        a[i]
        for i in _gone(a, b)
        if not EDITED.search(a[i])
        and a[i] != last
        and not (_bare(a[i]) and _bare(a[i]) in kept)
        and not _capability_item(a, i)
    ]


def test_comments_quoting_and_order_survive(tmp_path: pathlib.Path) -> None:
    code, before, after = fix(tmp_path, "d.yaml", DEPLOYMENT)
    assert code == 1  # findings remain that need --unsafe or a human
    assert removed(before, after) == []
    text = after.decode()
    assert "        securityContext:\n          allowPrivilegeEscalation: false\n" in text
    assert text.index("allowPrivilegeEscalation") < text.index("# comment at the end of the container")
    ends = ("# comment at the end of the container", "seccompProfile:", "# comment at the end of the pod spec")
    assert [text.index(s) for s in ends] == sorted(text.index(s) for s in ends)  # each comment with its block
    assert "seccompProfile:\n" in text and "type: RuntimeDefault" in text
    assert text.endswith("# comment at the end of the file\n")
    assert "runAsNonRoot" not in text  # an unsafe fix: not without --unsafe


def test_second_run_changes_nothing_and_exit_codes(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(DEPLOYMENT)
    assert main(["fix", str(path)]) == 1  # a diff was shown
    out, err = capsys.readouterr()
    assert out.startswith(f"--- {path}\n+++ {path}\n@@") and path.read_text() == DEPLOYMENT
    assert "need --unsafe" in err and "need a human" in err
    assert main(["fix", "--write", "--unsafe", "--run-as-user", "10001", str(path)]) == 0  # only info left
    once = path.read_bytes()
    capsys.readouterr()
    assert main(["fix", "--write", "--unsafe", "--run-as-user", "10001", str(path)]) == 0
    assert path.read_bytes() == once
    assert capsys.readouterr().out == ""
    assert main(["fix", "--unsafe", str(tmp_path / "missing.yaml")]) == 2


FOUR = """\
apiVersion: apps/v1
kind: Deployment
metadata:
    name: web   # four spaces, sequences indented
spec:
    template:
        spec:
            containers:
                -   name: web
                    image: example.com/web:1.0
                    # last in the container
"""


def test_four_space_indent_and_crlf(tmp_path: pathlib.Path) -> None:
    code, before, after = fix(tmp_path, "four.yaml", FOUR.replace("\n", "\r\n"))
    assert code == 1
    assert removed(before, after) == []
    assert b"\n" not in after.replace(b"\r\n", b"")  # every line still ends in CRLF
    data = kyaml.load_all(after)[0].data
    c = data["spec"]["template"]["spec"]["containers"][0]
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert b"\r\n                    securityContext:\r\n" in after


def test_inserted_blocks_follow_the_files_indentation(tmp_path: pathlib.Path) -> None:
    """Four-space steps in a four-space file, sequences as the file writes them (indented by four,
    or indentless), CRLF kept: what a careful human would write."""
    args = ("--unsafe", "--run-as-user", "10001")
    code, before, after = fix(tmp_path, "four.yaml", FOUR.replace("\n", "\r\n"), *args)
    assert code == 0 and removed(before, after) == []
    container = """\
                    securityContext:
                        allowPrivilegeEscalation: false
                        capabilities:
                            drop:
                                - ALL
                        readOnlyRootFilesystem: true
"""
    pod = """\
            securityContext:
                runAsNonRoot: true
                runAsUser: 10001
                seccompProfile:
                    type: RuntimeDefault
            automountServiceAccountToken: false
"""
    last = "                    # last in the container\n"
    assert after == FOUR.replace(last, container + last + pod).replace("\n", "\r\n").encode()  # the comment
    # that ends the container stays with it
    indentless = """\
apiVersion: v1
kind: Pod
metadata:
    name: web
spec:
    containers:
    - name: web
      image: example.com/web:1.0
      securityContext:
          capabilities:
              add: [NET_BIND_SERVICE]
"""
    code, before, after = fix(tmp_path, "indentless.yaml", indentless, *args)
    assert code == 0 and removed(before, after) == []
    assert after.decode() == indentless + (
        "              drop:\n"
        "              - ALL\n"
        "          allowPrivilegeEscalation: false\n"
        "          readOnlyRootFilesystem: true\n"
        "    securityContext:\n"
        "        runAsNonRoot: true\n"
        "        runAsUser: 10001\n"
        "        seccompProfile:\n"
        "            type: RuntimeDefault\n"
        "    automountServiceAccountToken: false\n"
    )
    two = DEPLOYMENT.replace("        ports:\n        - containerPort: 8080\n", "")
    code, before, after = fix(tmp_path, "two.yaml", two, *args)
    assert code == 0 and "          capabilities:\n            drop:\n            - ALL\n" in after.decode()
    replaced = EMPTY_CAPABILITY.replace(" {add: ['']}", "\n        add:\n        - NET_ADMIN")  # indentless
    code, before, after = fix(tmp_path, "replaced.yaml", replaced, "--unsafe", "--profile", "restricted")
    assert code == 0 and "      capabilities:\n        drop:\n        - ALL\n  - name: other\n" in after.decode()


def test_flow_maps_stay_flow(tmp_path: pathlib.Path) -> None:
    text = DEPLOYMENT.replace(
        "        image: example.com/web:1.0\n",
        "        image: example.com/web:1.0\n        securityContext: {runAsUser: 1000, capabilities: {drop: [all]}}\n",
    )
    _, before, after = fix(tmp_path, "flow.yaml", text)
    gone = removed(before, after)
    assert gone == ["        securityContext: {runAsUser: 1000, capabilities: {drop: [all]}}\n"]
    line = next(x for x in after.decode().splitlines() if "securityContext: {" in x)
    assert line.startswith("        securityContext: {runAsUser: 1000, capabilities: {drop: [ALL]}")
    assert "allowPrivilegeEscalation: false" in line


def test_anchors_merge_keys_and_aliases(tmp_path: pathlib.Path) -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata:
  name: anchored
  labels: &labels {app: web}
spec:
  securityContext:
    seccompProfile: {type: RuntimeDefault}
  containers:
  - &base
    name: a
    image: i
    securityContext: &sc
      allowPrivilegeEscalation: false
  - <<: *base
    name: b
    securityContext: *sc
"""
    code, before, after = fix(tmp_path, "anchors.yaml", text)
    assert removed(before, after) == []
    assert b"&labels" in after and b"<<: *base" in after and b"securityContext: *sc" in after
    data = kyaml.load_all(after)[0].data
    assert data["spec"]["containers"][0]["securityContext"] == {"allowPrivilegeEscalation": False}  # shared: refused
    assert code == 1


def test_multi_document_separators_lists_and_missing_final_newline(tmp_path: pathlib.Path) -> None:
    text = """\
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: one}
  spec:
    containers:
    - {name: a, image: i}
...
---
# a CronJob
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: job
            image: i"""
    code, before, after = fix(tmp_path, "multi.yaml", text)
    # the flow mapping is edited in place; the last line gains the newline it lacked
    assert removed(before, after) == ["    - {name: a, image: i}\n", "            image: i"]
    assert not after.endswith(b"\n") and after.startswith(b"---\n") and b"\n...\n---\n# a CronJob\n" in after
    docs = [d.data for d in kyaml.load_all(after)]
    pod = docs[0]["items"][0]
    assert pod["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
    job = docs[1]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert job["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert code == 1


def test_init_and_ephemeral_containers_and_pod_settings_present(tmp_path: pathlib.Path) -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile:
      type: Localhost
      localhostProfile: my.json
  initContainers:
  - name: init
    image: i
    securityContext:
      capabilities:
        add: [NET_BIND_SERVICE]
  containers:
  - name: app
    image: i
  ephemeralContainers:
  - name: debug
    image: i
"""
    code, before, after = fix(tmp_path, "pod.yaml", text, "--profile", "restricted")
    assert code == 0 and removed(before, after) == []
    spec = kyaml.load_all(after)[0].data["spec"]
    assert spec["securityContext"]["seccompProfile"]["type"] == "Localhost"  # never over a value
    assert spec["initContainers"][0]["securityContext"]["capabilities"] == {
        "add": ["NET_BIND_SERVICE"],  # restricted allows it: kept
        "drop": ["ALL"],
    }
    for c in (*spec["containers"], *spec["ephemeralContainers"]):
        assert c["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def test_windows_pods_get_no_linux_fields(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: w}
spec:
  os: {name: windows}
  containers:
  - name: app
    image: i
"""
    code, before, after = fix(tmp_path, "win.yaml", text, "--unsafe")
    assert removed(before, after) == []
    assert kyaml.load_all(after)[0].data["spec"]["securityContext"] == {"runAsNonRoot": True}  # allowed on Windows
    assert b"allowPrivilegeEscalation" not in after and b"seccompProfile" not in after
    assert b"capabilities" not in after and b"readOnlyRootFilesystem" not in after
    assert code in (0, 1)
    capsys.readouterr()


def test_host_process_pods_keep_host_network(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The API server refuses a HostProcess pod without hostNetwork: true, so --unsafe keeps it."""
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: w}
spec:
  os: {name: windows}
  hostNetwork: true
  securityContext:
    windowsOptions: {hostProcess: true, runAsUserName: "NT AUTHORITY\\\\SYSTEM"}
  containers:
  - name: app
    image: i
"""
    code, before, after = fix(tmp_path, "hostprocess.yaml", text, "--unsafe")
    assert removed(before, after) == []
    assert kyaml.load_all(after)[0].data["spec"]["hostNetwork"] is True
    assert code == 1
    assert "hostNetwork; the API server requires hostNetwork: true" in capsys.readouterr().err


def test_json_keeps_its_indentation(tmp_path: pathlib.Path) -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "j"},
        "spec": {"containers": [{"name": "app", "image": "i"}]},
    }
    text = json.dumps(obj, indent=4) + "\n"
    _, before, after = fix(tmp_path, "pod.json", text)
    assert removed(before, after) == ['                "image": "i"\n', "        ]\n"]  # a comma follows them now
    fixed = json.loads(after)
    assert fixed["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
    assert after.decode() == json.dumps(fixed, indent=4) + "\n"


def test_json_is_edited_in_place(tmp_path: pathlib.Path) -> None:
    """Objects written on one line stay on one line, untouched ones byte for byte; members a fix adds
    to a multi-line object get lines of their own at its indentation, with the file's line ends."""
    text = (
        '{\r\n  "apiVersion": "v1", "kind": "Pod",\r\n'
        '  "metadata": { "name": "d", "labels": { "app": "d" } },\r\n'
        '  "spec": {\r\n'
        '    "containers": [{"name": "a", "image": "busybox", "ports": [{"containerPort": 80}]}]\r\n'
        "  }\r\n}"
    )
    after = fix(tmp_path, "pod.json", text, "--unsafe")[2]
    assert after.decode() == (
        '{\r\n  "apiVersion": "v1", "kind": "Pod",\r\n'
        '  "metadata": { "name": "d", "labels": { "app": "d" } },\r\n'
        '  "spec": {\r\n'
        '    "containers": [{"name": "a", "image": "busybox", "ports": [{"containerPort": 80}], '
        '"securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, '
        '"readOnlyRootFilesystem": true}}],\r\n'
        '    "securityContext": {\r\n'
        '      "runAsNonRoot": true,\r\n'
        '      "seccompProfile": {\r\n'
        '        "type": "RuntimeDefault"\r\n'
        "      }\r\n"
        "    },\r\n"
        '    "automountServiceAccountToken": false\r\n'
        "  }\r\n}"
    )
    assert fix(tmp_path, "pod.json", after, "--unsafe")[2] == after  # a second run changes nothing


def test_unsafe_set_and_run_as_user(tmp_path: pathlib.Path) -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  hostNetwork: true
  volumes:
  - name: host
    hostPath: {path: /var/run}
  containers:
  - name: app
    image: i
    ports:
    - containerPort: 80
      hostPort: 80
    securityContext:
      privileged: true
      runAsUser: 0
      capabilities:
        add: [NET_BIND_SERVICE, SYS_ADMIN]
"""
    _, _, safe = fix(tmp_path, "safe.yaml", text)
    assert b"privileged: true" in safe and b"hostNetwork: true" in safe
    _, _, unsafe = fix(tmp_path, "unsafe.yaml", text, "--unsafe", "--profile", "restricted")
    spec = kyaml.load_all(unsafe)[0].data["spec"]
    c = spec["containers"][0]
    assert "hostNetwork" not in spec and "hostPort" not in c["ports"][0]
    assert "privileged" not in c["securityContext"] and c["securityContext"]["runAsUser"] == 0  # no UID invented
    assert c["securityContext"]["capabilities"] == {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert "runAsNonRoot" not in spec.get("securityContext", {})  # not with runAsUser: 0
    assert spec["volumes"][0]["hostPath"] == {"path": "/var/run"}  # never
    _, _, chosen = fix(tmp_path, "uid.yaml", text, "--unsafe", "--profile", "restricted", "--run-as-user", "10001")
    spec = kyaml.load_all(chosen)[0].data["spec"]
    assert spec["containers"][0]["securityContext"]["runAsUser"] == 10001
    assert spec["securityContext"]["runAsNonRoot"] is True


def test_exemptions_are_never_fixed(tmp_path: pathlib.Path) -> None:
    text = DEPLOYMENT.replace(
        "      # before the containers\n",
        "      # before the containers\n",
    ).replace(
        "  name: web\n  annotations:\n",
        "  name: web\n  annotations:\n    podsec.io/exempt: allowPrivilegeEscalation\n"
        "    podsec.io/exempt-reason: tested\n",
    )
    _, _, after = fix(tmp_path, "exempt.yaml", text)
    assert b"allowPrivilegeEscalation" not in after.replace(b"podsec.io/exempt: allowPrivilegeEscalation", b"")


def test_helm_output_and_templates_are_never_written(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rendered = "---\n# Source: shop/templates/deployment.yaml\n" + DEPLOYMENT.split("\n", 1)[1]
    code, before, after = fix(tmp_path, "rendered.yaml", rendered)
    assert after == before and code == 1
    err = capsys.readouterr().err
    assert "suggestions for the files these were rendered from" in err and "shop/templates/deployment.yaml" in err
    template = DEPLOYMENT.replace("image: example.com/web:1.0", 'image: "{{ .Values.image }}"')
    code, before, after = fix(tmp_path, "template.yaml", template)
    assert after == before and code == 1


def test_json_patch_output(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(DEPLOYMENT)
    assert main(["fix", "-o", "json-patch", str(path)]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["object"]["name"] == "web" and rows[0]["path"] == ""
    ops = rows[0]["patch"]
    assert {"op": "add", "path": "/spec/template/spec/containers/0/securityContext",
            "value": {"allowPrivilegeEscalation": False}} in ops  # fmt: skip
    assert path.read_text() == DEPLOYMENT


def test_write_is_atomic_and_keeps_the_mode(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(DEPLOYMENT)
    path.chmod(0o640)
    untouched = tmp_path / "clean.yaml"
    untouched.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    before = untouched.stat().st_mtime_ns
    main(["fix", "--write", str(tmp_path)])
    assert path.stat().st_mode & 0o777 == 0o640
    assert untouched.stat().st_mtime_ns == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".podsec-fix-")]


@pytest.mark.skipif(shutil.which("patch") is None or shutil.which("git") is None, reason="needs patch and git")
@pytest.mark.parametrize("tool", ["patch", "git"])
def test_the_diff_applies_with_patch_p0_and_git_apply(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tool: str
) -> None:
    monkeypatch.chdir(tmp_path)
    files = {
        "a/crlf.yaml": FOUR.replace("\n", "\r\n"),
        "a/no-newline.yaml": DEPLOYMENT.rstrip("\n"),
        "plain.yaml": DEPLOYMENT,
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(text.encode())
    assert main(["fix", "--unsafe", "."]) == 1
    diff = capsys.readouterr().out
    expected = {}
    for name in files:
        main(["fix", "--unsafe", "--write", "-o", "diff", name])
        expected[name] = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(files[name].encode())
    capsys.readouterr()
    if tool == "patch":
        subprocess.run(["patch", "-p0", "-s"], input=diff.encode(), check=True)
    else:
        subprocess.run(["git", "init", "-q", "."], check=True)
        subprocess.run(["git", "apply", "-"], input=diff.encode(), check=True)
    for name in files:
        assert (tmp_path / name).read_bytes() == expected[name], name


HELM = pathlib.Path(__file__).parent.parent / "data" / "helm"


def test_helm_suggestions_name_the_template_and_the_values_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(HELM)
    before = (HELM / "rendered.yaml").read_bytes()
    assert main(["fix", "--write", "--unsafe", "rendered.yaml"]) == 1
    assert (HELM / "rendered.yaml").read_bytes() == before
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if "privileged" in x and x.startswith("  ")]
    assert lines and "values key" in lines[0] and "shop/values.yaml" in lines[0]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_output_gets_suggestions_for_its_sources(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "deployment.yaml").write_text(DEPLOYMENT)
    (tmp_path / "base" / "kustomization.yaml").write_text("resources:\n- deployment.yaml\n")
    assert main(["fix", "--write", "."]) == 1
    assert (tmp_path / "base" / "deployment.yaml").read_text() == DEPLOYMENT
    err = capsys.readouterr().err
    assert "suggestions for the files these were rendered from" in err
    assert "  base/deployment.yaml:15  Deployment web container 'web': allowPrivilegeEscalation" in err


# Found by tests/fuzz/test_properties.py (test_fix_never_crashes_keeps_every_line_and_is_idempotent):
# an added capability with an empty name (``add: ['']``), removed under --unsafe like any other
# the profile does not allow, in flow and block lists; and a multi-line flow mapping whose last
# entry (hostPort) is removed, its comma going with it.
EMPTY_CAPABILITY = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: x
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {add: ['']}
  - name: other
    image: x
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: [ALL]
        add:
        - ""   # empty
        - NET_BIND_SERVICE
"""

MULTI_LINE_FLOW = """\
{apiVersion: v1, kind: Pod, metadata: {name: p},
  spec: {securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}},
    containers: [
      {name: app, image: x,
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}},
        ports: [{
            containerPort: 8080,
            hostPort: 8080}]}]}}
"""


def test_an_empty_capability_name_and_a_multi_line_flow_mapping_under_unsafe(tmp_path: pathlib.Path) -> None:
    code, before, after = fix(tmp_path, "empty.yaml", EMPTY_CAPABILITY, "--unsafe", "--profile", "restricted")
    assert code == 0
    assert after.decode() == EMPTY_CAPABILITY.replace("{add: ['']}", "{drop: [ALL]}").replace(
        '        - ""   # empty\n', ""
    )
    assert unexplained(before, after) == []
    code, before, after = fix(tmp_path, "flow.yaml", MULTI_LINE_FLOW, "--unsafe", "--profile", "restricted")
    assert code == 0
    assert after.decode() == MULTI_LINE_FLOW.replace("8080,\n            hostPort: 8080}", "8080}")
    assert removed(before, after) == ["            containerPort: 8080,\n", "            hostPort: 8080}]}]}}\n"]
    assert unexplained(before, after) == []
    for name in ("empty.yaml", "flow.yaml"):  # a second run changes nothing
        once = (tmp_path / name).read_bytes()
        assert main(["fix", "--write", "--unsafe", "--profile", "restricted", str(tmp_path / name)]) == 0
        assert (tmp_path / name).read_bytes() == once
