"""Kubernetes' CEL libraries in the offline evaluator: format, lists' indexOf next to strings', URLs.

Expected values are Kubernetes' own (format_test.go, lists.go's documented examples,
cel-go's strings extension, Go's net/url), so a difference is podsec's bug.
"""

from __future__ import annotations

from typing import Any

import pytest

from podsec.vap import celenv

DATA = {"object": {"l": ["a", "b", "b"], "n": [1, 2.0, 2], "m": [{"a": 1}, {"a": 2}]}, "oldObject": None}


def _eval(expression: str, version: tuple[int, int] = (1, 37)) -> Any:
    env = celenv.Environment(version, params=False)
    scope = celenv.Scope(env, {**DATA, "request": {}, "namespaceObject": None})
    return celenv.run(env.compile(expression, "any"), scope)


LABEL_ERROR = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_ERROR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_ERROR = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
NAME_ERROR = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_ERROR = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    ("fmt", "value", "errors"),
    [
        # format_test.go (k8s.io/apiserver v0.37)
        ("dns1123Label", "my-label-name", None),
        ("dns1123Subdomain", "apiextensions.k8s.io", None),
        ("qualifiedName", "apiextensions.k8s.io/v1beta1", None),
        ("dns1123LabelPrefix", "my-label-prefix-", None),
        ("dns1123SubdomainPrefix", "mysubdomain.prefix.-", None),
        ("dns1035LabelPrefix", "my-label-prefix-", None),
        ("uri", "http://example.com", None),
        ("uuid", "123e4567-e89b-12d3-a456-426614174000", None),
        ("byte", "aGVsbG8=", None),
        ("date", "2021-01-01", None),
        ("datetime", "2021-01-01T00:00:00Z", None),
        ("dns1123Label", "contains a space", [LABEL_ERROR]),
        ("dns1123Subdomain", "contains a space", [SUBDOMAIN_ERROR]),
        ("dns1035Label", "contains a space", [DNS1035_ERROR]),
        ("qualifiedName", "contains a space", [NAME_ERROR]),
        ("dns1123LabelPrefix", "contains a space-", [LABEL_ERROR]),
        ("dns1123SubdomainPrefix", "contains a space-", [SUBDOMAIN_ERROR]),
        ("dns1035LabelPrefix", "contains a space-", [DNS1035_ERROR]),
        ("byte", "aGVsbG8", ["invalid base64"]),
        ("date", "2020-01-32", ["invalid date"]),
        ("datetime", "2020-01-32T00:00:00Z", ["invalid datetime"]),
        ("labelValue", "my-cool-label-Value", None),
        ("labelValue", "my-cool-label-Value!!\n\n!!!", [VALUE_ERROR]),
        # apimachinery's rules beyond upstream's examples
        ("dns1123Label", "a.b", ["must not contain dots"]),
        ("dns1123Label", "a" * 64, ["must be no more than 63 characters"]),
        ("labelValue", "a" * 64, ["must be no more than 63 bytes"]),
        ("qualifiedName", "/x", ["prefix part must be non-empty"]),
        ("qualifiedName", "a/b/c", None),  # replaced below: the three-part message
        ("date", "2024-02-29", None),
        ("date", "2023-02-29", ["invalid date"]),
        ("date", "2021-1-01", ["invalid date"]),
        ("datetime", "2021-01-01t23:59:59.5+01:00", None),
        ("datetime", "2021-01-01T24:00:00Z", ["invalid datetime"]),
        ("datetime", "2021-01-01T00:00:00Z\n", ["invalid datetime"]),  # Go's $ is the end of the text
        ("uuid", "123E4567E89B12D3A456426614174000", None),
        ("uri", "foo", ['parse "foo": invalid URI for request']),
        ("uri", "http://[::1", ["parse \"http://[::1\": missing ']' in host"]),
        ("uri", "http://a b.com/", ['parse "http://a b.com/": invalid character " " in host name']),
        ("uri", "/a%zz", ['parse "/a%zz": invalid URL escape "%zz"']),
    ],
)
def test_format_library(fmt: str, value: str, errors: list[str] | None) -> None:
    quoted = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    got = _eval(f"format.{fmt}().validate('{quoted}').orValue(['<none>'])")
    if fmt == "qualifiedName" and value == "a/b/c":
        assert len(got) == 1 and got[0].startswith("a valid label key must consist of") and "'/'" in got[0]
        return
    assert got == (errors or ["<none>"])
    assert _eval(f"format.named('{fmt}').value().validate('{quoted}').hasValue()") is (errors is not None)


def test_format_names_and_versions() -> None:
    assert _eval("format.named('unknown').hasValue()") is False
    assert _eval("format.named('uri').value() == format.uri() && format.uri() != format.uuid()") is True
    assert _eval("format.dns1123Label().validate('ok').hasValue()", (1, 32)) is False  # CEL of 1.31
    with pytest.raises(celenv.CompileError, match="undeclared reference to 'format"):
        _eval("format.dns1123Label().validate('ok').hasValue()", (1, 31))
    with pytest.raises(celenv.CompileError, match=r"found no matching overload for 'validate'.*\n.*validate\(1\)"):
        _eval("format.uri().validate(1)")


@pytest.mark.parametrize(
    ("expression", "want"),
    [
        # Kubernetes' lists library (lists.go)
        ("[1, 2, 2, 3].indexOf(2)", 1),
        ("['a', 'b', 'b', 'c'].lastIndexOf('b')", 2),
        ("[1.0].indexOf(1.1)", -1),
        ("[].indexOf('string')", -1),
        ("object.l.indexOf('b')", 1),
        ("object.n.lastIndexOf(2)", 2),
        ("object.n.indexOf(2)", 1),  # CEL equality: 2.0 == 2
        ("object.m.indexOf({'a': 2})", 1),
        ("[[1], [2]].indexOf([2])", 1),
        ("[quantity('1'), quantity('2')].indexOf(quantity('2'))", 1),
        ("object.m.map(x, x.a).lastIndexOf(1)", 0),
        # the strings extension (cel-go ext/strings.go), on code points
        ("'abcabc'.indexOf('c')", 2),
        ("'abcabc'.indexOf('c', 3)", 5),
        ("'abcabc'.lastIndexOf('c')", 5),
        ("'abcabc'.lastIndexOf('c', 4)", 2),
        ("'héllo'.indexOf('l')", 2),
        ("'hello'.indexOf('', 10)", 5),
        ("'hello'.indexOf('x', 10)", -1),
        ("'hello'.lastIndexOf('')", 5),
    ],
)
def test_lists_and_strings_index_of(expression: str, want: int) -> None:
    assert _eval(expression) == want


def test_index_of_errors_and_types() -> None:
    with pytest.raises(celenv.EvalError, match="index out of range: -1"):
        _eval("'a'.indexOf('a', -1)")
    for refused in ("[1, 2].indexOf('a')", "'abc'.indexOf(1)", "['a'].lastIndexOf(1)"):
        with pytest.raises(celenv.CompileError, match=r"found no matching overload for '(last)?[iI]ndexOf'"):
            _eval(refused)
    with pytest.raises(celenv.EvalError, match=r"^no such overload: indexOf\(map, int\)$"):  # as cel-go words it
        _eval("object.m[0].indexOf(1) == 0")
    with pytest.raises(celenv.CompileError, match="undeclared reference to '_ndexOf'"):
        _eval("[1]._ndexOf(1)")  # podsec's internal name is not Kubernetes'


@pytest.mark.parametrize(
    ("expression", "want"),
    [
        ("url('https://user@example.com:8443/a%20b?x=1&x=2&y').getHost()", "example.com:8443"),
        ("url('https://example.com:8443/a%20b').getHostname()", "example.com"),
        ("url('https://[::1]:80/').getHostname()", "::1"),
        ("url('https://[::1]:80/').getPort()", "80"),
        ("url('https://example.com/a%20b').getEscapedPath()", "/a%20b"),
        ("url('https://example.com/a b').getEscapedPath()", "/a%20b"),
        ("url('https://example.com/?x=1&x=2&y').getQuery()", {"x": ["1", "2"], "y": [""]}),
        ("url('https://example.com/?a=1;b=2').getQuery()", {}),
        ("url('/absolute/path').getScheme()", ""),
        ("isURL('https://example.com/')", True),
        ("isURL('example.com')", False),
        ("isURL('http://a b.com/')", False),
        ("isURL('')", False),
    ],
)
def test_urls_parse_as_go_does(expression: str, want: Any) -> None:
    assert _eval(expression) == want


def test_url_errors_are_gos() -> None:
    with pytest.raises(celenv.EvalError) as err:
        _eval("url('ftp://x.com:port/').getHost()")
    assert str(err.value) == (
        'URL parse error during conversion from string: parse "ftp://x.com:port/": invalid port ":port" after host'
    )
