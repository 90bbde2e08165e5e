"""The offline evaluator against the API server's own code: k8s.io/apiserver's validating policy
plugin (tools/vap-oracle), which compiles and evaluates a policy exactly as kube-apiserver does.

Each case is one policy on one request; podsec's decisions (action, evaluation, message,
reason) and audit annotations must equal the plugin's. This proves the CEL — Kubernetes'
libraries, lazy variables, messages, failure policies — not the matching and binding around
it (tests/vap/test_evaluator.py), nor a live server's defaulting (part 2 of issue 19).
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from podsec import docs, kyaml
from podsec.model import pod as podmodel
from podsec.model.standards import PolicyVersion
from podsec.vap import admission, generate, inputs, policy
from tests.checks import test_hardened_checks as hardened_cases
from tests.kube.oracle import Oracle, running
from tests.vap import test_generated_agree as agree

KUBE = (1, 37)  # tools/vap-oracle is k8s.io/apiserver v0.37


@pytest.fixture(scope="module")
def oracle(vap_oracle: pathlib.Path) -> Iterator[Oracle]:
    with running(vap_oracle) as o:
        yield o


def _offline(compiled: policy.Policy, req: admission.Request, namespace: dict[str, Any] | None) -> dict[str, Any]:
    decisions, published, errors = admission.validate(compiled, "b", req, None, namespace)
    return {
        "decisions": [
            {"action": d.action.lower(), "evaluation": d.evaluation, "message": d.message, "reason": d.reason}
            for d in decisions
        ],
        "annotations": sorted(published),
        "annotation_errors": [e.message for e in errors],
        "compile_errors": [],  # podsec refuses such a policy when it loads it
    }


def _apiserver(answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "decisions": answer["decisions"],
        "annotations": sorted((a["key"], a["value"]) for a in answer["annotations"] if a["action"] == "publish"),
        "annotation_errors": [a["error"] for a in answer["annotations"] if a["action"] == "error"],
        "compile_errors": answer["compileErrors"],
    }


_COMPILED: dict[str, policy.Policy] = {}


def _compare(
    oracle: Oracle, raw: dict[str, Any], req: admission.Request, namespace: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    key = json.dumps(raw, sort_keys=True)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = policy.compile_policy(raw, policy.Origin(None, None), KUBE)
    answer = oracle.ask(
        {
            "policy": raw,
            "object": req.object,
            "oldObject": req.old_object,
            "namespace": namespace,
            "operation": req.operation,
            "resource": req.resource,
            "userInfo": {"name": "podsec", "groups": ["system:masters"]},
        }
    )
    return _offline(compiled, req, namespace), _apiserver(answer)


def _namespace(labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t", "labels": labels}}


def _generated_cases(corpus: pathlib.Path | None) -> Iterator[tuple[dict[str, Any], str]]:
    for _, change, _ in hardened_cases.CASES:
        yield hardened_cases.tweak(change), "hardened"
    for _, _, snippet in agree._examples():
        pod = inputs._plain(kyaml.load_all(docs.example_pod(snippet).encode())[0].data)
        for profile in agree.PROFILES:
            yield pod, profile
    if corpus is None:
        return
    kinds = agree.KindTable()
    for _, _, item in agree._corpus_objects(corpus):
        if isinstance(item, dict) and item.get("kind") in agree.PSA_RESOURCES:
            obj = inputs._plain(item)
            sources = kinds.pod_sources(obj)
            # fields of the wrong type: the API server refuses the object before admission
            served = obj.get("apiVersion") in ("v1", "apps/v1", "batch/v1")
            if served and sources and not podmodel.validate_pod(obj, sources[0]):
                for profile in agree.PROFILES:
                    yield obj, profile


def test_generated_policies_as_the_api_server_evaluates_them(oracle: Oracle, corpus: pathlib.Path) -> None:
    """The generated policies on podsec's hardened test pods, every documented example and every corpus
    pod and workload, under each profile: the same decisions and texts as k8s.io/apiserver's."""
    policies = {}
    for profile in agree.PROFILES:
        for raw in generate.build(profile, PolicyVersion(None), KUBE):
            if raw["kind"] == "ValidatingAdmissionPolicy":
                policies[raw["metadata"]["name"]] = raw
    seen = 0
    for obj, profile in _generated_cases(corpus):
        mode = "enforce" if obj["kind"] == "Pod" else "warn"
        own = generate.OWN if profile == "hardened" else generate.PSA
        ns = _namespace({f"{own}{mode}": profile, "kubernetes.io/metadata.name": "t"})
        ours, theirs = _compare(oracle, policies[f"podsec-{profile}-{mode}"], agree._request(obj, "t"), ns)
        assert ours == theirs, (profile, obj.get("kind"), (obj.get("metadata") or {}).get("name"))
        seen += 1
    assert seen == 4588 or corpus is None


def test_psa_fixtures_as_the_api_server_evaluates_them(oracle: Oracle, psa_fixtures: pathlib.Path) -> None:
    """Every upstream PSA fixture under the generated enforce policy, with its version label."""
    for level in ("baseline", "restricted"):
        raw = next(
            o for o in generate.build(level, PolicyVersion(None), KUBE) if o["metadata"]["name"].endswith("-enforce")
        )
        for path in sorted(psa_fixtures.glob(f"{level}/v1.*/*/*.yaml")):
            pod = inputs._plain(kyaml.load_all(path.read_bytes())[0].data)
            labels = {f"{generate.PSA}enforce": level, f"{generate.PSA}enforce-version": path.parent.parent.name}
            ours, theirs = _compare(oracle, raw, agree._request(pod, "t"), _namespace(labels))
            assert ours == theirs, path


POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "t", "labels": {"app": "web"}, "annotations": {"a": "1"}},
    "spec": {
        "containers": [
            {"name": "a", "image": "nginx:1.27", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "registry.example/b@sha256:" + "0" * 64},
        ],
        "hostNetwork": True,
    },
}

EXPRESSIONS = [
    # Kubernetes' lists library beside the strings extension
    "[1, 2, 2, 3].indexOf(2) == 1 && ['a', 'b', 'b'].lastIndexOf('b') == 2 && [1.0].indexOf(1.1) == -1",
    "object.spec.containers.map(c, c.name).indexOf('b') == 1 && 'abcabc'.lastIndexOf('c', 4) == 2",
    "'héllo'.indexOf('l') == 2 && 'hello'.indexOf('', 10) == 5 && 'hello'.lastIndexOf('') == 5",
    "'a'.indexOf('a', -1) == 0",
    "object.metadata.labels.indexOf('x') == 0",
    "[1, 2].sum() == 3 && [3, 1].min() == 1 && [1, 2].isSorted() && ['b', 'a'].max() == 'b'",
    # format (1.31)
    "format.dns1123Label().validate('my-name').hasValue() == false",
    "format.dns1123Label().validate('Not OK').value()[0].startsWith('a lowercase RFC 1123 label')",
    "format.named('dns1123Subdomain').value().validate('a.b').hasValue() == false && !format.named('x').hasValue()",
    "format.qualifiedName().validate('a/b/c').value().size() == 1 && format.labelValue().validate('a'+'b').hasValue() == false",
    "format.uri().validate('foo').value() == ['parse \"foo\": invalid URI for request']",
    "format.uri().validate('http://[::1').value()[0] == 'parse \"http://[::1\": missing \\']\\' in host'",
    "format.uuid().validate('123e4567e89b12d3a456426614174000').hasValue() == false",
    "format.byte().validate('aGVsbG8').value() == ['invalid base64'] && !format.date().validate('2024-02-29').hasValue()",
    "format.datetime().validate('2021-01-01t23:59:59.5+01:00').hasValue() == false",
    "format.dns1123Label().validate('a.b').value() == ['must not contain dots']",
    # URLs, quantities, IPs, semver, regex, strings, sets, optionals, two-variable comprehensions
    "url('https://u@example.com:8443/a%20b?x=1&x=2').getHost() == 'example.com:8443'",
    "url('https://example.com/a b').getEscapedPath() == '/a%20b' && url('https://[::1]:80/').getHostname() == '::1'",
    "url('https://example.com/?x=1&x=2&y').getQuery() == {'x': ['1', '2'], 'y': ['']}",
    "isURL('example.com') == false && isURL('/p') && !isURL('http://a b/')",
    "url('ftp://x.com:port/').getHost() == ''",
    "quantity('1Gi').isGreaterThan(quantity('100Mi')) && quantity('1.5').asApproximateFloat() == 1.5",
    "quantity('500m').add(quantity('1500m')).compareTo(quantity('2')) == 0 && quantity('1k') == quantity('1000')",
    "quantity('1Ki').asInteger() == 1024 && sign(quantity('2').sub(3)) == -1 && quantity('1.5').isInteger() == false",
    "cidr('10.0.0.0/8').containsIP('10.1.2.3') && ip('::1').isLoopback() && ip('10.0.0.1').family() == 4",
    "semver('1.2.3').isLessThan(semver('1.10.0')) && semver('v1.2', true).minor() == 2",
    "object.metadata.name.find('[a-z]+') == 'web' && 'a1b22'.findAll('[0-9]+') == ['1', '22']",
    "'A,B'.lowerAscii().split(',').join('-') == 'a-b' && '  x '.trim() == 'x'",
    "sets.contains([1, 2, 3], [1, 3]) && sets.intersects([1], [1, 2])",
    "object.spec.?hostPID.orValue(false) == false && object.metadata.?labels[?'app'].orValue('') == 'web'",
    "object.spec.containers.all(i, c, c.name != '' && i >= 0)",
    "[3, 1, 2].sort() == [1, 2, 3] && [[1], [2]].flatten() == [1, 2] && [1, 1].distinct() == [1]",
    "[1, 2, 3].slice(1, 2) == [2] && lists.range(3) == [0, 1, 2] && [1, 2].reverse() == [2, 1]",
    "'hello'.charAt(1) == 'e' && 'hello'.replace('l', 'L', 1) == 'heLlo' && 'a,b,c'.split(',', 2) == ['a', 'b,c']",
    "'%s-%d'.format(['a', 1]) == 'a-1' && '%.2f'.format([1.5]) == '1.50' && strings.quote('a') == '\"a\"'",
    "optional.of(2).optMap(x, x * 2).value() == 4 && {?'a': optional.of(1)}.a == 1 && [?optional.none(), 1] == [1]",
    "[1, 2].transformList(i, v, v * i) == [0, 2] && [1, 2].exists_one(x, x == 1)",
    "ip('fe80::1').isLinkLocalUnicast() && ip.isCanonical('2001:db8::1') && !ip.isCanonical('2001:DB8::1')",
    "cidr('192.168.1.0/16').masked() == cidr('192.168.0.0/16') && cidr('10.0.0.0/8').ip() == ip('10.0.0.0')",
    "semver('1.2.3-alpha.1').isLessThan(semver('1.2.3')) && semver('1.0.0').compareTo(semver('1.0.0+b')) == 0",
    "url('mailto:a@b.c').getScheme() == 'mailto' && url('https://example.com/path?').getQuery() == {}",
    "duration('1h').getHours() == 1 && timestamp('2024-01-01T00:00:00Z').getFullYear() == 2024 && 1 < 1.5",
    # runtime errors, worded as cel-go words them
    "object.nope == 1",
    "object.spec.containers[5].name == 'x'",
    "1 / (size(object.spec.containers) - 2) == 1",
    "int(object.metadata.name) == 1",
    "size(object.spec.hostNetwork) == 1",
    "object.spec.hostNetwork.matches('x')",
    "object.spec.containers + object.metadata.name == []",
    "1 in object.metadata.name",
    "object.spec.hostNetwork.lowerAscii() == ''",
]


def _policy(**spec: Any) -> dict[str, Any]:
    """A policy on pods, failing closed, with ``spec`` added."""
    rules = [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["*"], "resources": ["pods"]}]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "p"},
        "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": rules}, **spec},
    }


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_expressions_as_the_api_server_evaluates_them(oracle: Oracle, expression: str) -> None:
    raw = _policy(validations=[{"expression": expression, "message": "false"}])
    req = agree._request(POD, "t")
    ours, theirs = _compare(oracle, raw, req, _namespace({}))
    assert ours == theirs


VARIABLE_POLICY = _policy(
    matchConditions=[{"name": "named", "expression": "variables.name != ''"}],
    variables=[
        {"name": "name", "expression": "object.metadata.name"},
        {"name": "bad", "expression": "object.nope"},
        {"name": "net", "expression": "object.spec.?hostNetwork"},
        {"name": "count", "expression": "size(object.spec.containers)"},
        {"name": "twice", "expression": "variables.count * 2"},
    ],
    validations=[
        {"expression": "variables.twice == 4 && has(variables.bad)"},
        {"expression": "variables.bad == 1"},
        {"expression": "!variables.net.orValue(false)", "messageExpression": "'net ' + variables.name"},
        {"expression": "variables.count > 5", "messageExpression": "string(variables.bad)", "message": "fallback"},
        {"expression": "false", "messageExpression": "'multi\\nline'", "reason": "Forbidden"},
    ],
    auditAnnotations=[
        {"key": "who", "valueExpression": "variables.name + '/' + string(variables.count)"},
        {"key": "none", "valueExpression": "null"},
        {"key": "broken", "valueExpression": "string(variables.bad)"},
    ],
)


def test_what_podsec_cannot_run_is_refused_not_judged() -> None:
    """transformMap compiles in cel-cpp but cannot run: an input error (the API server would run it)."""
    raw = _policy(validations=[{"expression": "{'a': 1}.transformMap(k, v, v + 1) == {'a': 2}"}])
    with pytest.raises(policy.PolicyError, match="podsec cannot evaluate transformMap offline"):
        policy.compile_policy(raw, policy.Origin(None, None), KUBE)


@pytest.mark.parametrize("failure", ["Fail", "Ignore"])
def test_variables_messages_and_annotations_as_the_api_server_evaluates_them(oracle: Oracle, failure: str) -> None:
    raw = json.loads(json.dumps(VARIABLE_POLICY))
    raw["spec"]["failurePolicy"] = failure
    ours, theirs = _compare(oracle, raw, agree._request(POD, "t"), _namespace({}))
    assert ours == theirs
