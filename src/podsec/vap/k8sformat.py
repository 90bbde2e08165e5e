"""The named formats of Kubernetes' CEL format library (k8s.io/apiserver/pkg/cel/library/format.go).

Each format validates a string and returns Kubernetes' error texts: the name formats from
k8s.io/apimachinery (``validation.IsDNS1123Label`` ..., ``content.IsLabelKey``,
``content.IsLabelValue``, as of v0.37), ``uri`` from Go's ``url.ParseRequestURI``, and
``uuid``, ``byte``, ``date`` and ``datetime`` from kube-openapi's strfmt. Go's regular
expressions anchor ``$`` at the very end of the text, hence ``fullmatch`` throughout;
Go's ``len`` counts bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from podsec.vap import gourl

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + "(\\." + _LABEL + ")*"
_DNS1035 = "[a-z]([-a-z0-9]*[a-z0-9])?"
_KEY = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_VALUE = "(" + _KEY + ")?"
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character"
)
_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_UUID = re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))")


def _size(s: str) -> int:
    return len(s.encode())


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    """validation.RegexError."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _matches(fmt: str, s: str) -> bool:
    return re.fullmatch(fmt, s) is not None


def is_dns1123_label(s: str) -> list[str]:
    errs = []
    if _size(s) > 63:
        errs.append("must be no more than 63 characters")
    if not _matches(_LABEL, s):
        if _matches(_SUBDOMAIN, s):
            errs.append("must not contain dots")
        else:
            errs.append(_regex_error(_LABEL_MSG, _LABEL, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(s: str, unit: str = "characters") -> list[str]:
    errs = []
    if _size(s) > 253:
        errs.append(f"must be no more than 253 {unit}")
    if not _matches(_SUBDOMAIN, s):
        errs.append(_regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN, "example.com"))
    return errs


def is_dns1035_label(s: str) -> list[str]:
    errs = []
    if _size(s) > 63:
        errs.append("must be no more than 63 characters")
    if not _matches(_DNS1035, s):
        errs.append(_regex_error(_DNS1035_MSG, _DNS1035, "my-name", "abc-123"))
    return errs


def is_qualified_name(s: str) -> list[str]:
    """content.IsLabelKey."""
    errs: list[str] = []
    parts = s.split("/")
    if len(parts) > 2:
        return [
            "a valid label key "
            + _regex_error(_KEY_MSG, _KEY, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix, "bytes")]
    if not name:
        errs.append("name part must be non-empty")
    elif _size(name) > 63:
        errs.append("name part must be no more than 63 bytes")
    if not _matches(_KEY, name):
        errs.append("name part " + _regex_error(_KEY_MSG, _KEY, "MyName", "my.name", "123-abc"))
    return errs


def is_label_value(s: str) -> list[str]:
    errs = []
    if _size(s) > 63:
        errs.append("must be no more than 63 bytes")
    if not _matches(_VALUE, s):
        errs.append(_regex_error(_VALUE_MSG, _VALUE, "MyValue", "my_value", "12345"))
    return errs


def _mask_trailing_dash(s: str) -> str:
    """apimachinery's maskTrailingDash (it drops two characters, as upstream does)."""
    if len(s.encode()) > 1 and s.endswith("-"):
        return s.encode()[:-2].decode("utf-8", errors="replace") + "a"
    return s


def _prefixed(check: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    return lambda s: check(_mask_trailing_dash(s))


def _uri(s: str) -> list[str]:
    try:
        gourl.parse_request_uri(s)
    except gourl.URLError as exc:
        return [str(exc)]
    return []


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def is_date(s: str) -> bool:
    """Go's time.Parse("2006-01-02", s) succeeds."""
    m = _DATE.fullmatch(s)
    if m is None:
        return False
    year, month, day = (int(g) for g in m.groups())
    return 1 <= month <= 12 and 1 <= day <= _days_in(month, year)


def is_datetime(s: str) -> bool:
    """strfmt.IsDateTime."""
    if len(s.encode()) < 4:
        return False
    parts = s.lower().split("t")
    if len(parts) < 2 or not is_date(parts[0]):
        return False
    m = _TIME.fullmatch(parts[1])
    return m is not None and m.group(1) <= "23" and m.group(2) <= "59" and m.group(3) <= "59"


def _simple(ok: Callable[[str], bool], message: str) -> Callable[[str], list[str]]:
    return lambda s: [] if ok(s) else [message]


FORMATS: dict[str, tuple[str, Callable[[str], list[str]]]] = {
    "dns1123Label": ("DNS1123Label", is_dns1123_label),
    "dns1123Subdomain": ("DNS1123Subdomain", is_dns1123_subdomain),
    "dns1035Label": ("DNS1035Label", is_dns1035_label),
    "qualifiedName": ("QualifiedName", is_qualified_name),
    "dns1123LabelPrefix": ("DNS1123LabelPrefix", _prefixed(is_dns1123_label)),
    "dns1123SubdomainPrefix": ("DNS1123SubdomainPrefix", _prefixed(is_dns1123_subdomain)),
    "dns1035LabelPrefix": ("DNS1035LabelPrefix", _prefixed(is_dns1035_label)),
    "labelValue": ("LabelValue", is_label_value),
    "uri": ("URI", _uri),
    "uuid": ("uuid", _simple(lambda s: _UUID.fullmatch(s) is not None, "does not match the UUID format")),
    "byte": ("byte", _simple(lambda s: _BASE64.fullmatch(s) is not None, "invalid base64")),
    "date": ("date", _simple(is_date, "invalid date")),
    "datetime": ("datetime", _simple(is_datetime, "invalid datetime")),
}
"""name in CEL -> (the format's Name, which ``==`` compares, and its validation)."""

VALIDATORS = {shown: check for shown, check in FORMATS.values()}
