"""Property-based fuzzing of everything that reads untrusted input (hypothesis).

Generated pods and workloads, rendered as YAML and JSON in many styles, and mutated text
around them: no input may raise, crash or hide a pod, and one object must give the same
findings however it is written. The budget is fixed (derandomized, so CI is repeatable);
``PODSEC_FUZZ_EXAMPLES=5000 bash scripts/test tests/fuzz`` runs longer. The coverage-guided
counterpart for developers is ``fuzz/fuzz_scan.py`` (atheris; see the README).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import xml.dom.minidom
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podsec import kyaml, pipeline, textscan
from podsec.config import ConfigError, parse
from podsec.findings import FileResult, Summary
from podsec.model.paths import format_path
from podsec.reporters import REPORTERS, RunInfo
from podsec.sources import files
from tests.helpers import context

EXAMPLES = int(os.environ.get("PODSEC_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("PODSEC_FUZZ_RANDOM") is None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
CTX = context("restricted")

# Text that is hard for YAML and JSON: controls, line breaks of every kind, surrogate-range
# neighbours, bidi controls, quotes, indicators, escapes.
nasty = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("ab:-#&*!|>'\"%@`{}[],?\\ \t\n\r=~.0123456789")),
        st.sampled_from(
            ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\u202e", "\ufeff", "\U0001f600"]
        ),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=12,
)
names = st.one_of(st.sampled_from(["app", "web", "", "kind: Pod", "yes", "0x1F", "~", "- a"]), nasty)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    names,
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3), max_leaves=8
)
security_context = st.fixed_dictionaries(
    {},
    optional={
        "privileged": st.one_of(st.booleans(), values),
        "runAsUser": st.one_of(st.integers(min_value=-1, max_value=2**40), values),
        "runAsNonRoot": st.booleans(),
        "allowPrivilegeEscalation": st.booleans(),
        "readOnlyRootFilesystem": st.booleans(),
        "capabilities": st.fixed_dictionaries(
            {},
            optional={
                "add": st.lists(st.sampled_from(["NET_ADMIN", "SYS_ADMIN", "CHOWN"]) | names, max_size=3),
                "drop": st.just(["ALL"]) | values,
            },
        ),
        "seccompProfile": st.fixed_dictionaries(
            {"type": st.sampled_from(["RuntimeDefault", "Unconfined", "Localhost"])}
        ),
        "procMount": st.sampled_from(["Default", "Unmasked"]),
    },
)
container = st.fixed_dictionaries(
    {},
    optional={
        "name": names,
        "image": names,
        "securityContext": security_context | values,
        "ports": st.lists(
            st.fixed_dictionaries(
                {"containerPort": st.integers(1, 65535)}, optional={"hostPort": st.integers(0, 65535)}
            ),
            max_size=2,
        ),
    },
)
pod_spec = st.fixed_dictionaries(
    {"containers": st.lists(container, min_size=1, max_size=3)},
    optional={
        "initContainers": st.lists(container, max_size=2),
        "hostNetwork": st.booleans(),
        "hostPID": st.booleans(),
        "securityContext": security_context,
        "volumes": st.lists(
            st.fixed_dictionaries({"name": names}, optional={"hostPath": st.just({"path": "/"})}), max_size=2
        ),
        "extra": values,
    },
)
metadata = st.fixed_dictionaries(
    {"name": names},
    optional={
        "namespace": names,
        "annotations": st.dictionaries(names, names, max_size=3),
        "labels": st.dictionaries(names, names, max_size=2),
    },
)
SHAPES = {
    ("v1", "Pod"): lambda spec, meta: spec,
    ("apps/v1", "Deployment"): lambda spec, meta: {"template": {"metadata": meta, "spec": spec}},
    ("batch/v1", "CronJob"): lambda spec, meta: {"jobTemplate": {"spec": {"template": {"spec": spec}}}},
    ("apps.kruise.io/v1alpha1", "CloneSet"): lambda spec, meta: {"template": {"spec": spec}},
    ("example.com/v1", "Sandbox"): lambda spec, meta: spec,
}


@st.composite
def workloads(draw: st.DrawFn) -> dict[str, Any]:
    (api, kind), wrap = draw(st.sampled_from(sorted(SHAPES.items())))
    meta = draw(metadata)
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": wrap(draw(pod_spec), meta)}


config_map = st.fixed_dictionaries(
    {
        "apiVersion": st.just("v1"),
        "kind": st.just("ConfigMap"),
        "metadata": metadata,
        "data": st.dictionaries(names, names, max_size=3),
    }
)


class _Dumper(yaml.SafeDumper):
    """PyYAML's dumper, quoting the strings that Kubernetes (go-yaml) would read as something
    else (``y``, ``N``, ``0o17`` ...): PyYAML's YAML 1.1 resolver writes those plain."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = None if kyaml.plain_is_string(data) else '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def yaml_text(docs: list[dict[str, Any]], style: dict[str, Any]) -> bytes:
    return yaml.dump_all(docs, Dumper=_Dumper, **style).encode("utf-8")


yaml_styles = st.fixed_dictionaries(
    {
        "default_flow_style": st.sampled_from([False, True, None]),
        "allow_unicode": st.booleans(),
        "explicit_start": st.booleans(),
        "width": st.sampled_from([80, 20, 10_000]),
        "indent": st.sampled_from([2, 4]),
        "sort_keys": st.booleans(),
    }
)


def comparable(result: FileResult) -> list[tuple[Any, ...]]:
    return [
        (o.object, f.check.id, f.severity, f.container, format_path(f.field), f.message)
        for o in result.objects
        for f in sorted(o.findings, key=lambda f: (f.check.id, format_path(f.field), f.message))
    ]


def no_internal_errors(result: FileResult) -> None:
    for err in result.errors:
        assert "internal error" not in err.message, err


@FUZZ
@given(st.lists(st.one_of(workloads(), config_map), min_size=1, max_size=3), yaml_styles, st.booleans())
def test_yaml_and_json_renderings_give_the_same_findings(
    docs: list[dict[str, Any]], style: dict[str, Any], ascii_json: bool
) -> None:
    as_yaml = pipeline.scan_bytes(yaml_text(docs, style), "w.yaml", CTX)
    no_internal_errors(as_yaml)
    for i, doc in enumerate(docs):
        as_json = pipeline.scan_bytes(
            json.dumps(doc, ensure_ascii=ascii_json, indent=i % 2 or None).encode(), "w.json", CTX
        )
        no_internal_errors(as_json)
        alone = pipeline.scan_bytes(yaml_text([doc], style), "one.yaml", CTX)
        assert comparable(as_json) == comparable(alone)
        assert [e.message for e in as_json.errors] == [e.message for e in alone.errors]
    assert as_yaml.documents == len(docs)


@FUZZ
@given(st.lists(st.one_of(workloads(), config_map), min_size=1, max_size=3), yaml_styles)
def test_the_pre_filter_never_decides_differently_from_a_full_parse(
    docs: list[dict[str, Any]], style: dict[str, Any]
) -> None:
    text = yaml_text(docs, style)
    for chunk, _ in files._chunks(text):
        if files._needs_parse(chunk, CTX.kinds):
            continue
        try:
            parsed = kyaml.load_all(chunk)
        except kyaml.YamlError:
            with pytest.raises(kyaml.YamlError):
                kyaml.check_stream(chunk)
            continue
        for doc in parsed:
            for obj, problem, _at in files._objects(doc.data, CTX.kinds):
                assert obj is not None and not problem
                assert not CTX.kinds.pod_sources(obj), chunk


mutations = st.lists(
    st.tuples(
        st.integers(min_value=0),
        st.sampled_from(
            [
                '"',
                "'",
                "[",
                "]",
                "{",
                "}",
                "\n",
                "\r",
                "\u2028",
                "\u0085",
                "\\",
                "\\u",
                "&a ",
                "*a",
                "!!float ",
                "- ",
                "? ",
                ": ",
                "#",
                "---\n",
                "kind: Pod\n",
                "\t",
                "<<: ",
                "%TAG ",
                "0x" + "f" * 40,
            ]
        ),
    ),
    max_size=6,
)


@FUZZ
@given(st.lists(st.one_of(workloads(), config_map), min_size=1, max_size=2), yaml_styles, mutations)
def test_mutated_text_is_never_a_crash_and_the_pre_filter_holds(
    docs: list[dict[str, Any]], style: dict[str, Any], edits: list[tuple[int, str]]
) -> None:
    text = yaml_text(docs, style).decode()
    for pos, piece in edits:
        pos %= len(text) + 1
        text = text[:pos] + piece + text[pos:]
    data = text.encode("utf-8", "surrogatepass")
    result = pipeline.scan_bytes(data, "m.yaml", CTX)
    no_internal_errors(result)
    for chunk, _ in files._chunks(data):
        if not files._needs_parse(chunk, CTX.kinds):
            try:
                parsed = kyaml.load_all(chunk)
            except kyaml.YamlError:
                continue
            for doc in parsed:
                for obj, _problem, _at in files._objects(doc.data, CTX.kinds):
                    assert obj is None or not CTX.kinds.pod_sources(obj), chunk


@FUZZ
@given(
    st.binary(max_size=300)
    | st.text(alphabet=st.sampled_from(list("[]{}-:? \n\"'&*!|>#a0\t\r,")), max_size=300).map(str.encode)
)
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    no_internal_errors(pipeline.scan_bytes(data, "b.yaml", CTX))


@FUZZ
@given(values, yaml_styles)
def test_the_depth_scan_never_counts_low(value: Any, style: dict[str, Any]) -> None:
    text = yaml.dump({"v": value}, Dumper=_Dumper, **style).encode()
    depth = 0
    deepest = 0
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            deepest = max(deepest, depth)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    assert textscan.nesting_depth(text, deepest - 1) is not None


@FUZZ
@given(st.lists(st.characters(), max_size=20).map("".join), st.booleans())
def test_json_strings_read_as_json_reads_them(text: str, ascii_only: bool) -> None:
    raw = json.dumps({"s": text}, ensure_ascii=ascii_only)
    expected = json.loads(raw)["s"]
    expected = expected.encode("utf-16", "surrogatepass").decode("utf-16", "replace")  # lone surrogates: U+FFFD
    try:
        [doc] = kyaml.load_all(textscan.normalize_json(raw.encode("utf-8", "surrogatepass")))
    except kyaml.YamlError:
        return  # raw C0 controls: invalid in JSON and in YAML alike
    assert doc.data["s"] == expected


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "profile",
                "pssVersion",
                "latestIs",
                "failOn",
                "exclude",
                "kinds",
                "checks",
                "exemptions",
                "annotationExemptions",
                "policies",
                "regoSyntax",
                "policyScope",
                "detectPodShapes",
                "x",
            ]
        ),
        values,
        max_size=4,
    )
)
def test_any_config_is_read_or_refused_with_a_config_error(data: dict[str, Any]) -> None:
    with contextlib.suppress(ConfigError):
        parse(data)


@settings(FUZZ, max_examples=max(10, EXAMPLES // 4))
@given(st.lists(workloads(), min_size=1, max_size=2))
def test_every_report_is_well_formed_whatever_the_names(docs: list[dict[str, Any]]) -> None:
    result = pipeline.scan_bytes(yaml_text(docs, {}), "r\x01\u2028.yaml", CTX)
    summary = Summary()
    summary.add(result)
    run = RunInfo("restricted:latest", "v1.37", checks=tuple(s.check for s in CTX.policy.checks))
    for fmt, make in REPORTERS.items():
        out = io.StringIO()
        reporter = make(out, run)
        reporter.file(result)
        reporter.finish(summary)
        text = out.getvalue()
        text.encode("utf-8")
        assert "\x01" not in text and "\x1b" not in text
        if fmt in ("json", "sarif"):
            json.loads(text)
        elif fmt == "junit":
            xml.dom.minidom.parseString(text.encode())
        elif fmt == "policyreport":
            list(yaml.safe_load_all(text))


@FUZZ
@given(st.lists(st.one_of(workloads(), config_map), min_size=1, max_size=3), yaml_styles, st.booleans())
def test_fix_never_crashes_keeps_every_line_and_is_idempotent(
    docs: list[dict[str, Any]], style: dict[str, Any], unsafe: bool
) -> None:
    from podsec.checks import FixOptions
    from podsec.fixer.files import fix_target
    from podsec.fixer.objects import Status
    from tests.fixer.test_fix_formats import unexplained

    data = yaml_text(docs, style)
    once = fix_target(files.Target(None, "w.yaml", data), CTX, FixOptions(), unsafe=unsafe)
    assert not [e for e in once.errors if "internal error" in e.message], once.errors
    if once.after is None:
        return
    assert kyaml.load_all(once.after)  # still YAML
    lost = unexplained(data, once.after)
    assert not lost, lost  # every original line survives in order, unless an edit is on it
    twice = fix_target(files.Target(None, "w.yaml", once.after), CTX, FixOptions(), unsafe=unsafe)
    assert twice.after is None or twice.after == once.after
    fixed_before = sum(o.status is Status.FIXED for o in once.outcomes)
    assert fixed_before == 0 or not any(o.status is Status.FIXED for o in twice.outcomes)
