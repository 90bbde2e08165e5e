"""`podsec vap test`: Kubernetes semantics of ValidatingAdmissionPolicy, edge cases written by hand."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import textwrap
from collections import Counter

import pytest

from podsec.cli import main
from podsec.vap import admission, celenv, inputs
from podsec.vap.cli import outcomes

POLICY = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: p}}
spec:
  failurePolicy: {failure}
  {param_kind}
  matchConstraints:
    resourceRules:
    - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}}
  matchConditions: {conditions}
  variables: {variables}
  validations: {validations}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: b}}
spec:
  policyName: p
  validationActions: {actions}
  {param_ref}
"""

POD = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {tier: gold}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers:
  - {name: a, image: nginx:1.27}
"""


def _run(
    tmp_path: pathlib.Path,
    validations: str,
    *,
    failure: str = "Fail",
    conditions: str = "[]",
    variables: str = "[]",
    actions: str = "[Deny]",
    param_kind: str = "",
    param_ref: str = "",
    resources: str = POD,
    kube: tuple[int, int] = (1, 37),
) -> inputs.Inputs:
    (tmp_path / "p.yaml").write_text(
        POLICY.format(
            failure=failure,
            conditions=conditions,
            variables=variables,
            validations=validations,
            actions=actions,
            param_kind=param_kind,
            param_ref=param_ref,
        )
    )
    (tmp_path / "r.yaml").write_text(resources)
    return inputs.load([str(tmp_path / "p.yaml")], [str(tmp_path / "r.yaml")], kube)


def _pod_outcome(loaded: inputs.Inputs):  # type: ignore[no-untyped-def]
    assert not loaded.errors, loaded.errors
    return next(o for r, o in outcomes(loaded) if r.request.kind == "Pod")


def test_message_expression_then_message_then_expression(tmp_path: pathlib.Path) -> None:
    out = _pod_outcome(
        _run(tmp_path, "[{expression: 'false', messageExpression: \"'image ' + object.spec.containers[0].image\"}]")
    )
    assert out.message == "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: image nginx:1.27"
    out = _pod_outcome(
        _run(tmp_path, "[{expression: 'false', messageExpression: 'string(object.nope)', message: fixed}]")
    )
    assert out.denials[0].message == "fixed"  # an erroring messageExpression falls back to message
    out = _pod_outcome(_run(tmp_path, "[{expression: '1 > 2'}]"))
    assert out.denials[0].message == "failed expression: 1 > 2"


def test_match_conditions_false_skips_error_falls_to_failure_policy(tmp_path: pathlib.Path) -> None:
    skip = "[{name: a, expression: 'object.nope == 1'}, {name: b, expression: 'false'}]"
    assert _pod_outcome(_run(tmp_path, "[{expression: 'false'}]", conditions=skip)).allowed
    error = "[{name: a, expression: 'object.nope == 1'}]"
    out = _pod_outcome(_run(tmp_path, "[{expression: 'false'}]", conditions=error))
    assert out.denials[0].message == "expression 'object.nope == 1' resulted in error: no such key: nope"
    assert _pod_outcome(_run(tmp_path, "[{expression: 'false'}]", conditions=error, failure="Ignore")).allowed


def test_variables_are_lazy_and_name_their_error(tmp_path: pathlib.Path) -> None:
    variables = "[{name: bad, expression: 'object.nope'}, {name: count, expression: 'size(object.spec.containers)'}]"
    assert _pod_outcome(_run(tmp_path, "[{expression: 'variables.count == 1'}]", variables=variables)).allowed
    out = _pod_outcome(_run(tmp_path, "[{expression: 'variables.bad == 1'}]", variables=variables))
    assert out.denials[0].message == (
        "expression 'variables.bad == 1' resulted in error: "
        'composited variable "bad" fails to evaluate: no such key: nope'
    )
    out = _pod_outcome(_run(tmp_path, "[{expression: 'variables.bad == 1'}]", variables=variables, failure="Ignore"))
    assert out.allowed


def test_variables_are_computed_on_first_use_and_once(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As Kubernetes' composition: lazily, cached within one evaluation, never when not reached."""
    counts: Counter[str] = Counter()
    real = celenv._eval

    def counting(program: celenv.Program, scope: celenv.Scope) -> object:
        counts[program.expression] += 1
        return real(program, scope)

    monkeypatch.setattr(celenv, "_eval", counting)
    variables = (
        "[{name: unused, expression: 'object.nope'}, {name: skipped, expression: 'object.nope2 == 1'},"
        " {name: count, expression: 'size(object.spec.containers)'}, {name: twice, expression: 'variables.count * 2'}]"
    )
    validations = (
        "[{expression: 'variables.twice == 2 && variables.count == 1'},"
        " {expression: 'variables.count > 0 || variables.skipped'}]"
    )
    assert _pod_outcome(_run(tmp_path, validations, variables=variables)).allowed
    assert counts["object.nope"] == counts["object.nope2 == 1"] == 0
    assert counts["size(object.spec.containers)"] == 1 and counts["variables.count * 2"] == 1


def test_optional_variables_and_has(tmp_path: pathlib.Path) -> None:
    variables = "[{name: net, expression: 'object.spec.?hostNetwork'}, {name: c, expression: 'object.spec.containers'}]"
    check = "[{expression: '!variables.net.orValue(false) && !variables.net.hasValue() && has(variables.c)'}]"
    assert _pod_outcome(_run(tmp_path, check, variables=variables)).allowed
    wrong = _run(tmp_path, "[{expression: 'variables.net + 1 == 2'}]", variables=variables)
    assert "found no matching overload for '_+_' applied to '(optional_type(dyn), int)'" in wrong.errors[0].message
    assert "| variables.net + 1 == 2\n | ..............^" in wrong.errors[0].message  # the user's text and column


def test_namespace_object_and_warn_and_audit(tmp_path: pathlib.Path) -> None:
    check = "[{expression: \"namespaceObject.metadata.labels.tier != 'gold'\", message: gold}]"
    out = _pod_outcome(_run(tmp_path, check, actions="[Warn, Audit]"))
    assert out.allowed
    assert out.warnings == ["Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': gold"]
    failure = json.loads(out.annotations["validation.policy.admission.k8s.io/validation_failure"])
    assert failure == [
        {"message": "gold", "policy": "p", "binding": "b", "expressionIndex": 0, "validationActions": ["Warn", "Audit"]}
    ]


def test_params_and_parameter_not_found_action(tmp_path: pathlib.Path) -> None:
    kind = "paramKind: {apiVersion: v1, kind: ConfigMap}"
    limits = POD + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: limits, namespace: shop}\ndata: {max: '0'}\n"
    check = "[{expression: 'size(object.spec.containers) <= int(params.data.max)', message: too many}]"
    ref = "paramRef: {name: limits, parameterNotFoundAction: Deny}"
    assert _pod_outcome(_run(tmp_path, check, param_kind=kind, param_ref=ref, resources=limits)).denials[0].message == (
        "too many"
    )
    out = _pod_outcome(_run(tmp_path, check, param_kind=kind, param_ref=ref))
    assert out.denials[0].message == (
        "failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction"
    )
    allow = "paramRef: {name: limits, parameterNotFoundAction: Allow}"
    assert _pod_outcome(_run(tmp_path, check, param_kind=kind, param_ref=allow)).allowed


def test_update_with_old_object(tmp_path: pathlib.Path) -> None:
    review = textwrap.dedent(
        """
        apiVersion: admission.k8s.io/v1
        kind: AdmissionReview
        request:
          uid: "1"
          kind: {group: "", version: v1, kind: Pod}
          resource: {group: "", version: v1, resource: pods}
          name: web
          namespace: shop
          operation: UPDATE
          userInfo: {username: alice}
          object: {apiVersion: v1, kind: Pod, metadata: {name: web, namespace: shop}, spec: {containers: [{name: a, image: b}]}}
          oldObject: {apiVersion: v1, kind: Pod, metadata: {name: web, namespace: shop}, spec: {containers: [{name: a, image: a}]}}
        """
    )
    check = "[{expression: \"request.operation != 'UPDATE' || oldObject.spec.containers[0].image == object.spec.containers[0].image\", message: immutable, reason: Forbidden}]"
    loaded = _run(tmp_path, check, resources=review)
    ((_, out),) = outcomes(loaded)
    assert out.denials[0].message == "immutable" and out.denials[0].reason == "Forbidden"


@pytest.mark.parametrize(
    ("expression", "since"),
    [
        ("quantity('1Gi').isGreaterThan(quantity('100Mi'))", (1, 29)),
        ("ip('10.0.0.1').family() == 4", (1, 31)),
        ("semver('1.2.3').isLessThan(semver('1.10.0'))", (1, 34)),
        ("[1, 2].all(i, v, v > i)", (1, 33)),
        ("[3, 1].sort() == [1, 3]", (1, 35)),
        ("'a,b'.split(',').join('-') == 'a-b'", (1, 30)),
        ("sets.contains([1, 2], [1])", (1, 30)),
        ("1 < 1.5", (1, 29)),
    ],
)
def test_functions_by_kubernetes_version(tmp_path: pathlib.Path, expression: str, since: tuple[int, int]) -> None:
    """A server of version V accepts the CEL of V-1 in new policies; older servers refuse the policy."""
    check = f'[{{expression: "{expression}"}}]'
    assert not _run(tmp_path, check, kube=since).errors
    assert _pod_outcome(_run(tmp_path, check, kube=since)).allowed
    older = _run(tmp_path, check, kube=(since[0], since[1] - 1))
    assert older.errors and "ValidatingAdmissionPolicy p" in older.errors[0].message


def test_kubernetes_library_values() -> None:
    env = celenv.Environment((1, 37), params=False)
    cases = {
        "quantity('1') == quantity('1000m')": True,
        "quantity('1Ki').asInteger() == 1024": True,
        "cidr('10.0.0.0/8').containsIP('10.1.2.3')": True,
        "url('https://example.com:8443/a?x=1').getPort() == '8443'": True,
        "'abc123'.find('[0-9]+') == '123'": True,
        "[1, 2, 3].sum() == 6 && [3, 1].min() == 1 && [1, 2].isSorted()": True,
    }
    scope = celenv.Scope(env, {"object": None, "oldObject": None, "request": {}, "namespaceObject": None})
    for expression, want in cases.items():
        assert celenv.run(env.compile(expression, "bool"), scope) is want, expression
    with pytest.raises(celenv.CompileError, match="must evaluate to bool but got dyn"):
        env.compile("object.spec", "bool")


def test_cli_exit_codes_and_formats(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(tmp_path, "[{expression: \"object.metadata.name != 'web'\", message: no web}]")
    args = ["vap", "test", str(tmp_path / "p.yaml"), "--resources", str(tmp_path / "r.yaml")]
    assert main(args) == 1
    assert "denied request: no web" in capsys.readouterr().out
    assert main([*args, "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    (finding,) = doc["findings"]
    assert finding["line"] == 6 and finding["file"].endswith("r.yaml") and finding["severity"] == "error"
    assert main([*args, "--format", "sarif"]) == 1
    assert json.loads(capsys.readouterr().out)["runs"][0]["results"][0]["ruleId"] == "p"
    _run(tmp_path, "[{expression: \"object.metadata.name == 'web'\"}]")
    assert main(args) == 0
    _run(tmp_path, "[{expression: 'object.metadata.name'}]")
    assert main(args) == 2  # refused by the API server: not a bool
    assert "must evaluate to bool" in capsys.readouterr().out


def test_generated_policies_compile_for_every_supported_version() -> None:
    from podsec.model.standards import PolicyVersion
    from podsec.vap import generate, policy

    for minor in range(generate.OLDEST[1], celenv.NEWEST[1] + 1):
        for profile in ("baseline", "restricted", "hardened"):
            for obj in generate.build(profile, PolicyVersion(None), (1, minor), exempt_namespaces=["kube-system"]):
                if obj["kind"] == "ValidatingAdmissionPolicy":
                    policy.compile_policy(obj, policy.Origin(None, None), (1, minor))


CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.stable.example.com}
spec:
  group: stable.example.com
  names: {kind: CronTab, plural: crontabs}
  scope: Namespaced
  conversion: {strategy: STRATEGY}
  versions:
  - {name: v1, served: true, storage: true}
  - {name: v1beta1, served: true, storage: false}
"""

EQUIVALENT_POLICY = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: p}
spec:
  matchConstraints:
    matchPolicy: MATCH
    resourceRules:
    - {apiGroups: [stable.example.com], apiVersions: [v1], operations: [CREATE], resources: [crontabs]}
  validations:
  - expression: "false"
    messageExpression: "object.apiVersion + ' ' + request.kind.version + ' ' + request.requestKind.version"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: b}
spec: {policyName: p, validationActions: [Deny]}
"""


def _equivalent(tmp_path: pathlib.Path, match: str, strategy: str, resources: str) -> inputs.Inputs:
    (tmp_path / "p.yaml").write_text(
        EQUIVALENT_POLICY.replace("MATCH", match) + "---" + CRD.replace("STRATEGY", strategy)
    )
    (tmp_path / "r.yaml").write_text(resources)
    return inputs.load([str(tmp_path / "p.yaml")], [str(tmp_path / "r.yaml")], (1, 37))


def test_match_policy_equivalent(tmp_path: pathlib.Path) -> None:
    """A rule for v1 matches the same resource asked for through v1beta1, seen converted to v1."""
    tab = "apiVersion: stable.example.com/v1beta1\nkind: CronTab\nmetadata: {name: t}\nspec: {}\n"
    loaded = _equivalent(tmp_path, "Equivalent", "None", tab)
    ((_, out),) = outcomes(loaded)
    assert out.denials[0].message == "stable.example.com/v1 v1 v1beta1"
    loaded = _equivalent(tmp_path, "Exact", "None", tab)
    ((_, out),) = outcomes(loaded)
    assert out.allowed  # Exact: v1beta1 is not v1
    loaded = _equivalent(tmp_path, "Equivalent", "Webhook", tab)
    ((_, out),) = outcomes(loaded)
    assert out.allowed and "cannot convert it to that version offline" in out.unsupported[0]
    args = ["vap", "test", str(tmp_path / "p.yaml"), "--resources", str(tmp_path / "r.yaml")]
    assert main(args) == 2  # what podsec cannot evaluate is an input error, never a silent pass


def test_versions_the_server_does_not_serve(tmp_path: pathlib.Path) -> None:
    old = "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}\nspec: {}\n"
    loaded = _equivalent(tmp_path, "Equivalent", "None", old)
    assert not loaded.resources
    assert loaded.errors[0].message == (
        "Kubernetes 1.37 does not serve Deployment in extensions/v1beta1 (removed in 1.16): use apps/v1"
    )
    wrong = "apiVersion: v1\nkind: Deployment\nmetadata: {name: d}\nspec: {}\n"
    assert _equivalent(tmp_path, "Equivalent", "None", wrong).errors[0].message == (
        'Deployment d: Kubernetes does not serve Deployment as "v1" (the API server would refuse it); use apps/v1'
    )  # found first by the reader podsec scan shares (model.workloads), as the same input error


def test_authorizer_answers(tmp_path: pathlib.Path) -> None:
    """Offline there is no authorizer: a policy that asks it is refused, unless --authorizer answers."""
    check = (
        "[{expression: \"authorizer.group('apps').resource('deployments').namespace('shop').check('create').allowed()"
        " && authorizer.requestResource.check('update').allowed() && !authorizer.path('/healthz').check('get')"
        ".errored() && authorizer.serviceAccount('shop', 'builder').group('').resource('pods').check('get')"
        ".reason() == ''\", message: not allowed}]"
    )
    refused = _run(tmp_path, check)
    assert "give every check an answer with --authorizer allow" in refused.errors[0].message
    args = ["vap", "test", str(tmp_path / "p.yaml"), "--resources", str(tmp_path / "r.yaml")]
    assert main([*args, "--authorizer", "allow"]) == 0
    assert main([*args, "--authorizer", "deny"]) == 1
    loaded = inputs.load([str(tmp_path / "p.yaml")], [str(tmp_path / "r.yaml")], (1, 37), "deny")
    assert _pod_outcome(loaded).denials[0].message == "not allowed"
    _run(tmp_path, "[{expression: \"authorizer.path(' ').check('get').allowed()\"}]")
    loaded = inputs.load([str(tmp_path / "p.yaml")], [str(tmp_path / "r.yaml")], (1, 37), "allow")
    assert _pod_outcome(loaded).denials[0].message.endswith("resulted in error: path must not be empty")
    message = "[{expression: 'false', messageExpression: \"authorizer.path('/x').check('get').reason()\"}]"
    _run(tmp_path, message)
    loaded = inputs.load([str(tmp_path / "p.yaml")], [str(tmp_path / "r.yaml")], (1, 37), "allow")
    assert "undeclared reference to 'authorizer'" in loaded.errors[0].message  # as in Kubernetes: not in messages


def test_an_absent_object_matches_no_object_selector() -> None:
    """On CREATE there is no old object, and an absent object matches no object selector, not even
    DoesNotExist (matching.matchObject): found against the real API server (test_vap_test_live)."""
    labelled = {"metadata": {"name": "p", "labels": {"skip": "yes"}}}
    req = admission.Request("CREATE", "", "v1", "Pod", "pods", "", "p", "ns", labelled, None)
    match = {"objectSelector": {"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]}}
    cluster = admission.Cluster({}, [])
    assert admission.resources_match(match, req, cluster) is None
    unlabelled = dataclasses.replace(req, object={"metadata": {"name": "p"}})
    assert admission.resources_match(match, unlabelled, cluster) == ("", "v1", "pods")
