"""The token-level rewriting that lets cel-cpp run Kubernetes' CEL: what changes, what never does."""

from __future__ import annotations

import pytest

from podsec.vap import celtext

VARIABLES = {"a": False, "opt": True}


def _rewrite(text: str, formats: bool = True) -> str:
    return celtext.rewrite(text, variables=VARIABLES, formats=formats).text


@pytest.mark.parametrize(
    ("source", "rewritten"),
    [
        ("variables.a > 1", "variables.a() > 1"),
        ("variables.opt.orValue(1)", "variables.opt()[?0].orValue(1)"),
        ("variables . a", "variables . a()"),
        ("has(variables.a) && has(variables.a.b)", "size([variables.a()]) == 1 && has(variables.a().b)"),
        ("object.variables.a", "object.variables.a"),  # a field named variables
        ("variables.unknown", "variables.unknown"),  # left for the checker to refuse
        ("[1].all(variables, variables > 0)", "[1].all(variables, variables > 0)"),
        ("x.indexOf(1) + x.lastIndexOf(2)", "x._ndexOf(1) + x._astIndexOf(2)"),
        ("indexOf(1)", "indexOf(1)"),  # not a member call
        ("x.indexOf", "x.indexOf"),  # a field, not a call
        ("format.named('uri').value()", "format.named('uri')[?0].value()"),
        ("format.uri().validate(f(x)).hasValue()", "format.uri().validate(f(x))[?0].hasValue()"),
        ("'variables.a and x.indexOf(1)' + r\"variables.a\"", "'variables.a and x.indexOf(1)' + r\"variables.a\""),
        ("'''variables.a\nx.indexOf(1)'''", "'''variables.a\nx.indexOf(1)'''"),
        ("'it\\'s variables.a' + variables.a", "'it\\'s variables.a' + variables.a()"),
        ("variables.a // variables.a in a comment\n", "variables.a() // variables.a in a comment\n"),
    ],
)
def test_rewrites(source: str, rewritten: str) -> None:
    assert _rewrite(source) == rewritten


def test_format_rewrite_only_where_the_library_exists() -> None:
    assert _rewrite("format.named('uri')", formats=False) == "format.named('uri')"


def test_errors_point_at_the_original_text() -> None:
    r = celtext.rewrite("variables.a + 'x' == variables.a", variables=VARIABLES, formats=True)
    error = "ERROR: <input>:1:15: found no matching overload for '_+_'\n | variables.a() + 'x' == variables.a()\n | ..............^"
    assert r.error(error) == (
        "ERROR: <input>:1:13: found no matching overload for '_+_'\n | variables.a + 'x' == variables.a\n | ............^"
    )
    renamed = celtext.rewrite("[1].indexOf('a')", variables={}, formats=True)
    message = "ERROR: <input>:1:12: found no matching overload for '_ndexOf' applied to '(list(int), string)'\n | x\n | ...........^"
    assert "'indexOf' applied to" in renamed.error(message)


def test_reserved_names_and_unterminated_strings() -> None:
    with pytest.raises(celtext.TextError, match="undeclared reference to '_astIndexOf'"):
        _rewrite("x._astIndexOf(1)")
    with pytest.raises(celtext.TextError, match="unterminated string"):
        _rewrite("'abc")
