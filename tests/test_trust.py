"""Issue 11: a scan that can be trusted. One test (or table) per class of input that used to
crash the run, cost too much, hide a pod, or turn a mistake into an internal error."""

from __future__ import annotations

import json
import pathlib
import xml.dom.minidom
from typing import Any

import pytest
import yaml

from podsec import kyaml, pipeline, textscan
from podsec.cli import main
from podsec.evaluate import Context
from podsec.findings import FileResult
from podsec.model.workloads import KindTable
from podsec.sources import files
from tests.helpers import context

CTX = context("baseline")
EXAMPLE_POLICIES = pathlib.Path(__file__).resolve().parent.parent / "examples" / "policies"
POD = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n"
    "    securityContext:\n      privileged: true\n"
)
FORMATS = ("text", "json", "sarif", "junit", "html", "policyreport")


def scan_text(text: str | bytes, name: str = "t.yaml", ctx: Context = CTX) -> FileResult:
    data = text.encode() if isinstance(text, str) else text
    return pipeline.scan_bytes(data, name, ctx)


def checks(result: FileResult) -> list[str]:
    return [f.check.id for o in result.objects for f in o.findings]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: pathlib.Path, name: str, data: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def parse_report(fmt: str, text: str) -> Any:
    """Parse a report, failing the test if it is malformed."""
    if fmt in ("json", "sarif"):
        return json.loads(text)
    if fmt == "junit":
        return xml.dom.minidom.parseString(text.encode())
    if fmt == "policyreport":
        return list(yaml.safe_load_all(text))
    return text


# ---------------------------------------------------------------------------------------
# 1. Deep nesting, with and without libyaml's own depth limit


def deep_cases() -> dict[str, bytes]:
    out = {}
    for n in (998, 999, 1000, 1001):
        out[f"flow-{n}"] = b"[" * n + b"]" * n + b"\n"
        out[f"seq-{n}"] = b"- " * n + b"x\n"
        out[f"map-{n}"] = b"".join(b" " * i + b"k:\n" for i in range(n)) + b" " * n + b"v\n"
        out[f"pod-flow-{n}"] = POD.encode() + b"  x: " + b"[" * n + b"]" * n + b"\n"
    out["open-500"] = b"[" * 500
    out["dash-1000"] = b"- " * 1000 + b"\n"
    return out


class _LibyamlWithLimit(kyaml.FastLoader):
    """libyaml as 0.2.6 and later behave, whatever is installed: a document with 1,000 block
    levels or more than 1,000 flow levels stops with a scanner error."""

    def __init__(self, text: Any) -> None:
        super().__init__(text)
        block = flow = deepest_block = deepest_flow = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):  # the pure-Python parser has no limit
            if isinstance(event, yaml.CollectionStartEvent):
                if event.flow_style:
                    flow += 1
                else:
                    block += 1
                deepest_block, deepest_flow = max(deepest_block, block), max(deepest_flow, flow)
            elif isinstance(event, yaml.CollectionEndEvent):
                if flow:
                    flow -= 1
                else:
                    block -= 1
        self.too_deep = deepest_block >= 1000 or deepest_flow > 1000

    def get_node(self) -> Any:
        if self.too_deep:
            raise yaml.scanner.ScannerError(
                "while increasing block level",
                None,
                "exceeded maximum nesting depth",
                yaml.Mark("", 0, 0, 0, None, None),
            )
        return super().get_node()


def flat(value: Any) -> list[Any]:
    """``value`` as a flat list of tokens (deep values would make == recurse too deeply)."""
    out: list[Any] = []
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            out.append(("{", len(item)))
            for key, val in reversed(list(item.items())):
                todo += [val, ("key", key)]
        elif isinstance(item, list):
            out.append(("[", len(item)))
            todo += reversed(item)
        else:
            out.append(item)
    return out


def outcome(text: bytes) -> tuple[str, Any]:
    try:
        yaml.parse  # noqa: B018
        return "ok", [flat(d.data) for d in kyaml.load_all(text)]
    except kyaml.YamlError as exc:
        return "error", (exc.message, exc.line)


@pytest.mark.parametrize(("name", "text"), sorted(deep_cases().items()))
def test_deep_nesting_reads_the_same_with_and_without_libyamls_limit(
    name: str, text: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = outcome(text)
    monkeypatch.setattr(kyaml, "FastLoader", _LibyamlWithLimit)
    limited = outcome(text)
    if plain[0] == "error" and "nested more than" not in plain[1][0]:
        assert limited[0] == "error"  # a syntax error either way (libyaml's words may differ)
    else:
        assert limited == plain
    depth_ok = name.startswith(("flow-", "seq-", "map-")) and int(name.rsplit("-", 1)[1]) <= 1000
    if depth_ok:
        assert plain[0] == "ok"
    if name.endswith("1001") and not name.startswith("pod-"):
        assert plain == ("error", ("the document is nested more than 1000 levels deep", plain[1][1]))


def test_refused_depth_names_the_line_and_never_raises_recursion_errors() -> None:
    text = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  x: " + b"[" * 20000 + b"]" * 20000
    result = scan_text(text)
    [err] = result.errors
    assert (err.line, err.message) == (6, "invalid YAML: the document is nested more than 1000 levels deep")
    for text in (b"[" * 500, b"- " * 1000 + b"\n", b"{" * 999 + b"a" + b"}" * 999):
        result = scan_text(text)
        assert len(result.errors) == 1 and "RecursionError" not in result.errors[0].message


def test_the_depth_scan_is_an_upper_bound_of_libyamls_depth() -> None:
    texts = [
        b"a:\n  b:\n  - c: [d, {e: [f]}]\n    g: |\n      [[[[\n  h: 'x [ y'\n",
        b"- - - a\n  - b\n- ? [x]\n  : {y: z}\n",
        b'k: "multi\n  line [[[ quoted"\nl: [1,\n  [2,\n   [3]]]\n',
        b"a: &x [1, [2]]\nb: *x\nc: !tag {d: [e]}\n# [[[ comment\n",
    ]
    for text in texts:
        depth = events_depth(text)
        assert textscan.nesting_depth(text, depth - 1) is not None
        assert textscan.nesting_depth(text, depth + 1) is None


def events_depth(text: bytes) -> int:
    depth = deepest = 0
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            deepest = max(deepest, depth)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return deepest


# ---------------------------------------------------------------------------------------
# 2. Crashes found by fuzzing: each is an error for its file, never for the run


@pytest.mark.parametrize(
    "tagged",
    [
        "!!float x",
        "!!bool x",
        "!!int x",
        "!!null x",
        "!!timestamp x",
        "!!binary x!",
        "!!int 1.5",
        "!!int 0x" + "f" * 3600,
        "!!float " + "1" * 5000,
        "!!bool ''",
        "!<tag:yaml.org,2002:float> x",
    ],
)
def test_a_tag_whose_text_cannot_hold_its_type_is_an_input_error(tagged: str) -> None:
    for doc in (
        POD + f"  a: {tagged}\n",
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: {tagged}\n",
    ):
        result = scan_text(doc)
        assert result.objects == []
        [err] = result.errors
        assert (err.line is not None and "cannot decode" in err.message) or "base64" in err.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!!float 1", 1.0),
        ('!!int "2"', 2),
        ("!!bool yes", True),
        ('!!null ""', None),
        ("!!timestamp 2001-12-14", "2001-12-14"),
    ],
)
def test_tags_that_fit_are_read(text: str, expected: object) -> None:
    [doc] = kyaml.load_all(f"v: {text}\n".encode())
    assert doc.data["v"] == expected and type(doc.data["v"]) is type(expected)


def test_huge_integers_are_read_as_go_yaml_reads_them(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hex_digits, decimal = "0x" + "f" * 3600, "9" * 5000
    [doc] = kyaml.load_all(f"a: {hex_digits}\nb: {decimal}\n? {decimal}\n: c\n".encode())
    assert doc.data == {"a": hex_digits, "b": decimal, decimal: "c"}  # beyond 64 bits (and float64): strings
    [doc] = kyaml.load_all(b"a: 18446744073709551615\nb: 18446744073709551616\n")
    assert doc.data == {"a": 2**64 - 1, "b": 1.8446744073709552e19}
    text = POD.replace("privileged: true", f"runAsUser: {hex_digits}").replace("name: p", f"name: {decimal}")
    text += f"  ? {decimal}\n  : {decimal}\n"
    path = write(tmp_path, "big.yaml", text)
    for args in (("scan",), ("scan", "--policy", str(EXAMPLE_POLICIES)), ("explain",), ("scan", "--format", "html")):
        code, out, err = run(capsys, *args, path)
        assert code == 2 and "internal error" not in err + out, (args, err)


def test_surrogate_escapes_in_json_and_lone_surrogates(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "\ud83d\ude00-\ud83d"},
        "spec": {"containers": [{"name": "c\udc00", "securityContext": {"privileged": True}}]},
    }
    path = write(tmp_path, "s.json", json.dumps(obj))  # ASCII JSON with \ud83d\ude00 and lone surrogates
    for fmt in FORMATS:
        code, out, err = run(capsys, "scan", "--format", fmt, path)
        assert code == 1, (fmt, err)
        parse_report(fmt, out)
        out.encode("utf-8")  # no surrogates reach the output
    code, out, _ = run(capsys, "scan", "--format", "json", path)
    finding = json.loads(out)["findings"][0]
    assert finding["object"]["name"] == "\U0001f600-\ufffd" and finding["container"] == "c\ufffd"
    yaml_path = write(tmp_path, "s.yaml", POD.replace("name: c", 'name: "c\\ud800"'))
    code, out, _ = run(capsys, "scan", "--format", "json", yaml_path)
    assert code == 2 and "invalid Unicode character escape" in json.loads(out)["errors"][0]["message"]


def test_a_990_deep_value_is_not_a_crash_with_policies(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "d.yaml", POD + "  x: " + "[" * 990 + "]" * 990 + "\n")
    code, out, err = run(capsys, "scan", "--format", "json", "--policy", str(EXAMPLE_POLICIES), path)
    doc = json.loads(out)
    assert code == 2 and "internal error" not in err
    assert doc["findings"] and "cannot be given to policies" in doc["errors"][0]["message"]
    for args in (("explain", "--format", "json"), ("scan", "--format", "html")):
        code, out, err = run(capsys, *args, path)
        assert "internal error" not in err and code in (0, 1)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_bug_while_evaluating_one_file_is_an_error_for_that_file(
    jobs: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = pipeline.evaluate

    def flaky(item: Any, ctx: Context, *args: Any) -> Any:
        if item.obj["metadata"]["name"] == "boom":
            raise ZeroDivisionError("simulated bug")
        return real(item, ctx, *args)

    monkeypatch.setattr(pipeline, "evaluate", flaky)
    bad = write(tmp_path, "a.yaml", POD.replace("name: p", "name: boom") + "---\n" + POD)
    good = write(tmp_path, "b.yaml", POD)
    code, out, err = run(capsys, "scan", "--profile", "baseline", "--format", "json", "--jobs", jobs, bad, good)
    doc = json.loads(out)
    assert code == 2 and "Traceback" not in err
    [error] = doc["errors"]
    assert error["file"] == bad and error["line"] == 1
    assert "ZeroDivisionError: simulated bug" in error["message"] and "podsec bug" in error["message"]
    assert [f["file"] for f in doc["findings"]] == [bad, good]  # the other object and file still count
    code, out, err = run(capsys, "scan", "--format", "json", "--jobs", jobs, "--debug", bad)
    assert "Traceback" in err and "ZeroDivisionError" in err


def test_a_bug_while_reading_a_file_is_an_error_for_that_file(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*a: Any, **k: Any) -> Any:
        raise MemoryError("simulated")

    monkeypatch.setattr(kyaml, "load_all", broken)
    path = write(tmp_path, "a.yaml", POD)
    code, out, err = run(capsys, "scan", "--format", "json", path)
    assert code == 2 and "internal error" not in err
    assert "MemoryError" in json.loads(out)["errors"][0]["message"]
    code, out, err = run(capsys, "explain", path)
    assert code == 2 and "MemoryError" in out and "podsec bug" in out


# ---------------------------------------------------------------------------------------
# 3. Bounded cost


def alias_list(n: int) -> str:
    container = "&c {name: c, securityContext: {privileged: true}}"
    head = f"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {{name: p}}\n  spec:\n    containers: &cs [{container}{', *c' * (n - 1)}]\n"
    items = "".join(
        f"- apiVersion: v1\n  kind: Pod\n  metadata: {{name: p{i}}}\n  spec:\n    containers: *cs\n"
        for i in range(n - 1)
    )
    return head + items


@pytest.mark.parametrize("n", [229, 980])
def test_aliases_may_not_multiply_containers(n: int) -> None:
    result = scan_text(alias_list(n))
    assert result.objects == []
    [err] = result.errors
    assert err.line == 1 and "excessive aliasing" in err.message


def test_go_yamls_alias_ratio() -> None:
    # 99% of what is decoded may come from aliases in a small document, not more
    base = "a: &a [" + ", ".join(["x"] * 200) + "]\n"
    kyaml.load_all((base + "b: [" + ", ".join(["*a"] * 3) + "]\n").encode())  # 603 of 810 decodes: fine
    kyaml.load_all((base + "b: [" + ", ".join(["*a"] * 100) + "]\n").encode())  # 20,100 of 20,404: 98.5%
    with pytest.raises(kyaml.YamlError, match=r"excessive aliasing: .* come from aliases"):
        kyaml.load_all(("a: &a [" + ", ".join(["x"] * 300) + "]\nb: [" + ", ".join(["*a"] * 200) + "]\n").encode())
    few = alias_list(5)  # a few shared containers are fine
    assert len(scan_text(few).objects) == 5


def test_a_billion_laughs_is_refused_in_any_document() -> None:
    lol = "".join(f"  {chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    config_map = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
        + lol
    )
    result = scan_text(config_map)
    [err] = result.errors
    assert "excessive aliasing" in err.message and err.line == 1


def test_policyreport_yaml_is_what_pyyaml_would_read(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = POD.replace("name: p\n", 'name: p\n  namespace: "yes"\n  annotations: {a: "x: y #z", b: "on"}\n')
    path = write(tmp_path, "p.yaml", text + "---\n" + POD.replace("name: c", 'name: "\\x01\\u2028 [x]"'))
    _code, out, _ = run(capsys, "scan", "--format", "policyreport", path)
    docs = list(yaml.safe_load_all(out))
    # the namespaces' default-deny findings are about Namespace objects: a ClusterPolicyReport
    kinds = [(d["kind"], d["metadata"].get("namespace")) for d in docs]
    assert kinds == [("ClusterPolicyReport", None), ("PolicyReport", "default"), ("PolicyReport", "yes")]
    assert {r["resources"][0]["name"] for r in docs[0]["results"]} == {"yes"}  # a pod naming none: no namespace
    messages = [r["message"] for d in docs for r in d["results"] if r["result"] == "fail"]
    assert any('container "\x01\u2028 [x]"' in m for m in messages)
    assert "\x01" not in out and "\u2028" not in out


# ---------------------------------------------------------------------------------------
# 4. Nothing silently skipped


HIDDEN_PODS = {
    "escaped kind": POD.replace("kind: Pod", 'kind: "Po\\x64"'),
    "escaped kind (json)": json.dumps(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": yaml.safe_load(POD)["spec"]}
    ).replace('"Pod"', '"Po\\u0064"'),
    "escaped key": '{"apiVersion": "v1", "\\u006bind": "Pod", "metadata": {"name": "p", "ownerReferences": [{"kind": "ConfigMap"}]}, '
    '"spec": {"containers": [{"name": "c", "securityContext": {"privileged": true}}]}}',
    "quoted key and multi-line annotation": '"kind": Pod\napiVersion: v1\nmetadata:\n  name: p\n  annotations:\n    a: "x\nkind: ConfigMap"\n'
    + POD.split("metadata:\n  name: p\n")[1],
    "multi-line annotation before kind": 'apiVersion: v1\nmetadata:\n  name: p\n  annotations:\n    a: "x\nkind: ConfigMap"\nkind: Pod\n'
    + POD.split("metadata:\n  name: p\n")[1],
    "single-quoted continuation": "apiVersion: v1\nmetadata:\n  name: p\n  annotations:\n    a: 'x\nkind: ConfigMap'\nkind: Pod\n"
    + POD.split("metadata:\n  name: p\n")[1],
    "flow continuation": "apiVersion: v1\nmetadata: {name: p, a: [x,\nkind: ConfigMap]}\nkind: Pod\n"
    + POD.split("metadata:\n  name: p\n")[1],
    "tagged kind": POD.replace("kind: Pod", "kind: !!str Pod"),
    "anchored kind": POD.replace("kind: Pod", "kind: &k Pod"),
    "kind continued on the next line": POD.replace("kind: Pod", "kind: Po\n  d").replace(
        "kind: Po\n  d", "kind:\n  Pod"
    ),
    "merge key": "base: &b {kind: Pod}\napiVersion: v1\n<<: *b\nmetadata:\n  name: p\n"
    + POD.split("metadata:\n  name: p\n")[1],
    "block scalar document start": "--- \n" + POD,
    "kind with a comment": POD.replace("kind: Pod", "kind: Pod # ConfigMap"),
    "crlf": POD.replace("\n", "\r\n"),
}


@pytest.mark.parametrize("name", sorted(HIDDEN_PODS))
def test_the_kind_pre_filter_never_hides_a_pod(name: str) -> None:
    result = scan_text(HIDDEN_PODS[name], "h.json" if "json" in name or "key" in name else "h.yaml")
    assert result.errors == [] and "privileged" in checks(result), result


def test_a_pre_filter_that_skips_decides_as_a_full_parse() -> None:
    kinds = KindTable()
    for text in (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: |\n    kind: Pod\n",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports: [{port: 80}]\n",
    ):
        assert not files._needs_parse(text.encode(), kinds)
    for text in HIDDEN_PODS.values():
        assert files._needs_parse(text.encode(), kinds)


def test_cr_nel_and_line_separators_split_documents_as_yaml_does() -> None:
    broken_then_pod = "a: [\n---\n" + POD
    for brk in ("\r", "\u0085", "\u2028", "\u2029"):
        result = scan_text(broken_then_pod.replace("\n", brk))
        assert checks(result) == ["privileged"], brk
        assert len(result.errors) == 1 and result.errors[0].line == 2
        assert result.objects[0].line == 3 and result.objects[0].findings[0].line == 11


@pytest.mark.parametrize("name", ["a\u2028b", "x\u0085y", "c\u0090d", "e\u007ff", "g\u2029h\u2028"])
def test_the_same_object_gives_the_same_findings_in_yaml_and_json(name: str) -> None:
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [{"name": name}]}}
    obj["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    as_yaml = scan_text(yaml.safe_dump(obj), "o.yaml")  # YAML escapes them: raw, YAML reads them as line breaks
    as_json = scan_text(json.dumps(obj, ensure_ascii=False), "o.json")
    as_ascii_json = scan_text(json.dumps(obj), "o.json")
    for result in (as_yaml, as_json, as_ascii_json):
        assert result.errors == []
        [o] = result.objects
        assert o.object.name == name and [(f.check.id, f.container, f.message) for f in o.findings] == [
            (f.check.id, f.container, f.message) for f in as_yaml.objects[0].findings
        ]


def test_a_non_string_api_version_is_one_error_in_yaml_and_json() -> None:
    as_yaml = scan_text("apiVersion: 1\nkind: CronJob\nmetadata:\n  name: j\n", "c.yaml")
    as_json = scan_text('{"apiVersion": 1, "kind": "CronJob", "metadata": {"name": "j"}}', "c.json")
    assert (
        [e.message for e in as_yaml.errors]
        == [e.message for e in as_json.errors]
        == ["apiVersion: expected a string, got number 1"]
    )


@pytest.mark.parametrize(
    ("api", "kind", "right"),
    [
        ("v1", "Deployment", "apps/v1"),
        ("app/v1", "Deployment", "apps/v1"),
        ("apps/v1", "Pod", "v1"),
        ("batch/v1", "StatefulSet", "apps/v1"),
        ("apps/v1", "CronJob", "batch/v1"),
    ],
)
def test_a_built_in_kind_under_an_api_version_kubernetes_does_not_serve(api: str, kind: str, right: str) -> None:
    text = f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers: [{{name: c}}]\n"
    result = scan_text(text)
    [err] = result.errors
    assert err.line == 1 and f'does not serve {kind} as "{api}"' in err.message and err.message.endswith(f"use {right}")


@pytest.mark.parametrize(
    ("kind", "spec"),
    [
        ("DaemonSet", "spec:\n  template:\n    spec:\n      hostPID: true\n      containers:\n"),
        ("StatefulSet", "spec:\n  template:\n    spec:\n      hostPID: true\n      containers:\n"),
        ("CloneSet", "spec:\n  template:\n    spec:\n      hostPID: true\n      containers:\n"),
        (
            "AdvancedCronJob",
            "spec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          hostPID: true\n          containers:\n",
        ),
        ("Sandbox", "spec:\n  hostPID: true\n  containers:\n"),
    ],
)
def test_unknown_kinds_with_a_pod_in_a_standard_shape_are_evaluated(kind: str, spec: str) -> None:
    indent = " " * (spec.splitlines()[-1].index("containers"))
    text = f"apiVersion: apps.kruise.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: k\n{spec}{indent}- name: c\n{indent}  securityContext: {{privileged: true}}\n"
    result = scan_text(text)
    assert result.errors == [] and sorted(checks(result)) == ["hostNamespaces", "privileged"]
    off = context("baseline", kinds=KindTable(detect_shapes=False))
    assert scan_text(text, ctx=off).objects == []


def test_known_kinds_rules_win_over_the_shape() -> None:
    rollout = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: r\nspec:\n  containers: [{name: decoy, securityContext: {privileged: true}}]\n  template:\n    spec:\n      containers: [{name: c}]\n"
    assert scan_text(rollout).objects[0].findings == ()


def test_documents_are_counted_and_documents_without_a_pod_are_shown(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
    path = write(tmp_path, "m.yaml", POD + "---\n" + cm + "---\n" + cm.replace("name: c", "name: d") + "---\n")
    code, out, _ = run(capsys, "scan", "--format", "json", path)
    summary = json.loads(out)["summary"]
    assert code == 1 and (summary["documents"], summary["objects"]) == (3, 1)
    _code, out, _ = run(capsys, "scan", "--profile", "baseline", path)
    assert out.splitlines()[-1].startswith(
        "1 finding (1 critical) in 1 workload across 1 file; 2 documents held no pod ["
    )


def test_empty_and_comment_only_files_exit_0(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [write(tmp_path, "e.yaml", ""), write(tmp_path, "c.yaml", "# placeholder\n---\n# kustomize component\n")]
    code, out, _ = run(capsys, "scan", "--format", "json", *paths)
    assert code == 0 and json.loads(out)["errors"] == [] and json.loads(out)["summary"]["documents"] == 0


def test_unnamed_containers_are_shown_by_position(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = POD.replace("  - name: c\n", "  - name: named\n    securityContext: {privileged: true}\n  - image: x\n")
    path = write(tmp_path, "u.yaml", text)
    code, out, _ = run(capsys, "scan", "--profile", "baseline", path)
    assert code == 1 and "container #2 (unnamed)" in out and 'container ""' not in out and "container ''" not in out
    _code, out, _ = run(capsys, "scan", "--profile", "baseline", "--format", "json", path)
    assert {f["container"] for f in json.loads(out)["findings"]} == {"named", "#2 (unnamed)"}


CONTROL = "\x01\x1b[31m\x9b\u202e\x7f"


@pytest.mark.parametrize("fmt", FORMATS)
def test_control_characters_never_reach_the_output_raw(
    fmt: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = POD.replace("name: c", f"name: {json.dumps(CONTROL)}").replace(
        "name: p", f"name: {json.dumps('p' + CONTROL)}"
    )
    path = write(tmp_path, "c.yaml", text)
    bad = write(tmp_path, "b.yaml", f"a: {json.dumps(CONTROL)}: [\n")
    code, out, _ = run(capsys, "scan", "--format", fmt, path, bad)
    assert code == 2
    parse_report(fmt, out)
    for ch in CONTROL:
        if ch not in "[31m":
            assert ch not in out, (fmt, repr(ch))
    if fmt == "html":
        assert "\\x01" in out


def test_explain_escapes_control_characters(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "c.yaml", POD.replace("name: c", f"name: {json.dumps(CONTROL)}"))
    for fmt in ("text", "json"):
        code, out, _ = run(capsys, "explain", "--format", fmt, path)
        assert code == 0 and "\x1b" not in out and "\x9b" not in out
        parse_report("json" if fmt == "json" else "text", out)


# ---------------------------------------------------------------------------------------
# 5. Mistakes are one-line errors with exit code 2


def one_line_error(code: int, err: str) -> str:
    assert code == 2 and "internal error" not in err and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_an_output_file_that_cannot_be_written_is_refused_before_the_scan(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from podsec import scan

    monkeypatch.setattr(scan, "run", lambda *a, **k: pytest.fail("the scan started"))
    path = write(tmp_path, "p.yaml", POD)
    code, _out, err = run(capsys, "scan", "-o", "json=/nonexistent/dir/x.json", path)
    assert "json=/nonexistent/dir/x.json" in one_line_error(code, err)
    out_file = str(tmp_path / "r.json")
    code, _, err = run(
        capsys, "scan", "-o", f"json={out_file}", "-o", f"sarif={tmp_path}/../{tmp_path.name}/r.json", path
    )
    assert "same file" in one_line_error(code, err)


def test_reuse_ca_without_a_ca(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "webhook", "cert", "--reuse-ca", "--dir", str(tmp_path))
    assert "no CA to reuse" in one_line_error(code, err)
    (tmp_path / "ca.crt").write_text("junk")
    (tmp_path / "ca.key").write_text("junk")
    code, _, err = run(capsys, "webhook", "cert", "--reuse-ca", "--dir", str(tmp_path))
    assert "not a PEM certificate" in one_line_error(code, err)


@pytest.mark.parametrize("value", ["yesterday", "-5", "1.5", "99999999999999999999", "\uff11\uff12"])
def test_an_invalid_source_date_epoch(
    value: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    code, _, err = run(capsys, "scan", "--format", "html", write(tmp_path, "p.yaml", POD))
    assert "SOURCE_DATE_EPOCH" in one_line_error(code, err)


def test_a_mistyped_check_id_in_an_exemption_annotation(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = '  annotations:\n    podsec.io/exempt: "privilegd"\n    podsec.io/exempt-reason: "CNI agent"\n'
    path = write(tmp_path, "x.yaml", POD.replace("  name: p\n", "  name: p\n" + notes))
    code, out, _ = run(capsys, "scan", "--profile", "baseline", "--format", "json", path)
    doc = json.loads(out)
    assert code == 2 and [f["check"] for f in doc["findings"]] == ["privileged"]  # the exemption is ignored
    [err] = doc["errors"]
    assert err["line"] == 6 and 'no such check "privilegd"' in err["message"]


def test_a_mistyped_key_in_a_policy_test_case(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.rego").write_text('package p\n\ndeny contains msg if { msg := "x" }\n')
    (tmp_path / "m.yaml").write_text(POD)
    (tmp_path / "podsec-test.yaml").write_text(
        "policies: [p.rego]\ncases:\n- name: c\n  manifest: m.yaml\n  expct: []\n"
    )
    code, _, err = run(capsys, "test", str(tmp_path))
    assert 'unknown key "expct"' in one_line_error(code, err)


def test_a_closed_pipe_ends_quietly(tmp_path: pathlib.Path) -> None:
    import subprocess
    import sys

    paths = [write(tmp_path, f"p{i}.yaml", POD) for i in range(200)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "podsec", "scan", "--no-progress", *paths],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read().decode()
    proc.stderr.close()
    code = proc.wait(timeout=60)
    assert err == "" and code not in (0, 2)


def test_each_config_key_reports_its_own_error() -> None:
    from podsec.config import ConfigError, parse

    with pytest.raises(ConfigError, match=r"^latestIs: "):
        parse({"latestIs": "v2"})
    with pytest.raises(ConfigError, match=r"^pssVersion: "):
        parse({"pssVersion": "v2", "latestIs": "v1.30"})
    with pytest.raises(ConfigError, match=r"^detectPodShapes: "):
        parse({"detectPodShapes": "no"})
    assert parse({"detectPodShapes": False}).detect_pod_shapes is False
