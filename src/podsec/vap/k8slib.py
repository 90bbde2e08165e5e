"""Kubernetes' CEL libraries (k8s.io/apiserver/pkg/cel/library) for cel-expr-python.

cel-expr-python (Google's cel-cpp) has CEL itself and the cel-go extensions
Kubernetes uses (strings, optional, sets, lists, two-variable comprehensions);
Kubernetes' own libraries are added here as Python functions. Their opaque types
(``kubernetes.Quantity``, ``net.IP`` ...) are protobuf messages of the same names,
holding a canonical text, so that ``==`` and ``type()`` behave as in Kubernetes.

Each library says the Kubernetes version that introduced it (base.go); `declarations`
returns only those of a given version, so a policy that uses a newer function does not
compile, exactly as the API server refuses it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from cel_expr_python import cel
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from podsec.vap import celtext, gourl, k8sformat

Version = tuple[int, int]

# -- opaque types as messages ---------------------------------------------------------

_OPAQUE = {
    "kubernetes": ("Quantity", "URL", "Semver", "NamedFormat"),
    "net": ("IP", "CIDR"),
    "kubernetes.authorization": ("Authorizer", "PathCheck", "GroupCheck", "ResourceCheck", "Decision"),
}


def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for package, names in _OPAQUE.items():
        fdp = descriptor_pb2.FileDescriptorProto(name=f"podsec/{package}.proto", package=package, syntax="proto3")
        for name in names:
            msg = fdp.message_type.add(name=name)
            msg.field.add(
                name="value",
                number=1,
                type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
            )
        pool.Add(fdp)
    return pool


POOL = _pool()


def _message(name: str) -> Any:
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(name))


QuantityMsg, URLMsg, SemverMsg = (
    _message("kubernetes.Quantity"),
    _message("kubernetes.URL"),
    _message("kubernetes.Semver"),
)
IPMsg, CIDRMsg = _message("net.IP"), _message("net.CIDR")
FormatMsg = _message("kubernetes.NamedFormat")
AuthorizerMsg, PathCheckMsg, GroupCheckMsg, ResourceCheckMsg, DecisionMsg = (
    _message(f"kubernetes.authorization.{name}") for name in _OPAQUE["kubernetes.authorization"]
)
QUANTITY, URL, SEMVER = cel.Type("kubernetes.Quantity"), cel.Type("kubernetes.URL"), cel.Type("kubernetes.Semver")
IP, CIDR = cel.Type("net.IP"), cel.Type("net.CIDR")
FORMAT = cel.Type("kubernetes.NamedFormat")
AUTHORIZER, PATH_CHECK, GROUP_CHECK, RESOURCE_CHECK, DECISION = (
    cel.Type(f"kubernetes.authorization.{name}") for name in _OPAQUE["kubernetes.authorization"]
)

S, INT, B, D = cel.Type.STRING, cel.Type.INT, cel.Type.BOOL, cel.Type.DOUBLE
DYN, LIST = cel.Type.DYN, cel.Type.List(cel.Type.DYN)


class CelError(Exception):
    """An evaluation error raised by a library function (becomes a CEL error value)."""


# -- lists (library.Lists v0) -----------------------------------------------------------


def _comparable(xs: Sequence[Any]) -> None:
    kinds = {type(x) for x in xs}
    numbers = {int, float, bool}
    if len(kinds) > 1 and not kinds <= {int, float}:
        raise CelError("no such overload")
    if kinds and next(iter(kinds)) not in (*numbers, str, bytes, bytearray):
        raise CelError("no such overload")


def _is_sorted(xs: list[Any]) -> bool:
    _comparable(xs)
    return all(xs[i] <= xs[i + 1] for i in range(len(xs) - 1))


def _sum(xs: list[Any]) -> Any:
    if not xs:
        return 0
    if not all(type(x) in (int, float) for x in xs):
        raise CelError("no such overload")
    if len({type(x) for x in xs}) > 1:
        raise CelError("no such overload")
    return sum(xs)


def _min(xs: list[Any]) -> Any:
    if not xs:
        raise CelError("min called on empty list")
    _comparable(xs)
    return min(xs)


def _max(xs: list[Any]) -> Any:
    if not xs:
        raise CelError("max called on empty list")
    _comparable(xs)
    return max(xs)


def cel_equal(a: Any, b: Any) -> bool:
    """CEL's ``==`` on plain values: numbers compare across int, uint and double, other kinds never."""
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, numbers) and isinstance(b, numbers):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return _lists_equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return _maps_equal(a, b)
    return type(a) is type(b) and bool(a == b)


def _lists_equal(a: list[Any], b: list[Any]) -> bool:
    """Lists of the same size whose elements are pairwise `cel_equal`."""
    return len(a) == len(b) and all(cel_equal(x, y) for x, y in zip(a, b, strict=True))


def _maps_equal(a: dict[Any, Any], b: dict[Any, Any]) -> bool:
    """Maps of the same size where every key of ``a`` has a `cel_equal` key in ``b`` with a `cel_equal` value."""
    return len(a) == len(b) and all(any(cel_equal(k, k2) and cel_equal(v, b[k2]) for k2 in b) for k, v in a.items())


# -- indexOf / lastIndexOf: the strings extension's (cel-go ext/strings.go) and Kubernetes' lists'
# share one function (see celtext): the receiver's type chooses.


def _index_of(target: Any, item: Any, offset: int | None = None) -> int:
    if isinstance(target, list):
        return next((i for i, x in enumerate(target) if cel_equal(x, item)), -1)
    off = 0 if offset is None else offset
    if off < 0:
        raise CelError(f"index out of range: {off}")
    if item == "":
        return min(off, len(target))
    if off >= len(target):
        return -1
    return int(target.find(item, off))


def _last_index_of(target: Any, item: Any, offset: int | None = None) -> int:
    if isinstance(target, list):
        return next((i for i in range(len(target) - 1, -1, -1) if cel_equal(target[i], item)), -1)
    if offset is None:
        if item == "":
            return len(target)
        if len(target.encode()) < len(item.encode()):
            return -1
        offset = len(target) - 1
    if offset < 0:
        raise CelError(f"index out of range: {offset}")
    if item == "":
        return min(offset, len(target))
    if offset >= len(target):
        return -1
    return int(target.rfind(item, 0, min(offset, len(target) - len(item)) + len(item)))


# -- regex ----------------------------------------------------------------------------
# cel-cpp and Go both use RE2 syntax; Python's re is close enough for find/findAll on
# the patterns policies use, and a pattern re cannot compile is an error either way.


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise CelError(f"error parsing regexp: {exc}") from None


def _find(s: str, pattern: str) -> str:
    m = _regex(pattern).search(s)
    return m.group(0) if m else ""


def _find_all(s: str, pattern: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    found = [m.group(0) for m in _regex(pattern).finditer(s)]
    return found if limit < 0 else found[:limit]


# -- URLs (Go's net/url, as library.URLs calls it) -----------------------------------------


def _parse_url(s: str) -> Any:
    """``url()``: checked with url.ParseRequestURI, kept as url.Parse reads it."""
    try:
        gourl.parse_request_uri(s)
        gourl.parse(s)
    except gourl.URLError as exc:
        raise CelError(f"URL parse error during conversion from string: {exc}") from None
    return URLMsg(value=s)


def _url(u: Any) -> gourl.URL:
    return gourl.parse(u.value)


def _is_url(s: str) -> bool:
    try:
        gourl.parse_request_uri(s)
    except gourl.URLError:
        return False
    return True


# -- quantities (resource.Quantity) -------------------------------------------------------

_SUFFIX = {
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$"
)


def _quantity_value(s: str) -> Decimal:
    m = _QUANTITY.match(s)
    if m is None:
        raise CelError("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    number, exponent, suffix = m.group(1), m.group(2), m.group(3) or ""
    try:
        value = Decimal(number) * (Decimal(f"1{exponent}") if exponent else _SUFFIX[suffix])
    except InvalidOperation:
        raise CelError("unable to parse quantity's suffix") from None
    # resource.Quantity rounds up to nano units
    return value.quantize(Decimal("1e-9"), rounding="ROUND_CEILING") if value % Decimal("1e-9") else value


def _q(value: Decimal) -> Any:
    return QuantityMsg(value=format(value.normalize(), "f"))


def _qv(q: Any) -> Decimal:
    return Decimal(q.value)


def _quantity(s: str) -> Any:
    return _q(_quantity_value(s))


def _is_quantity(s: str) -> bool:
    try:
        _quantity_value(s)
    except CelError:
        return False
    return True


def _sign(q: Any) -> int:
    v = _qv(q)
    return (v > 0) - (v < 0)


def _cmp(a: Decimal, b: Decimal) -> int:
    return (a > b) - (a < b)


def _as_integer(q: Any) -> int:
    v = _qv(q)
    if v != v.to_integral_value() or not -(2**63) <= v < 2**63:
        raise CelError("cannot convert value to integer")
    return int(v)


def _add(q: Any, other: Any) -> Any:
    return _q(_qv(q) + (Decimal(other) if isinstance(other, int) else _qv(other)))


def _sub(q: Any, other: Any) -> Any:
    return _q(_qv(q) - (Decimal(other) if isinstance(other, int) else _qv(other)))


# -- IP addresses and CIDRs -------------------------------------------------------------


def _ip_addr(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        addr = ipaddress.ip_address(raw)
    except ValueError:
        raise CelError(f'IP Address "{raw}" parse error during conversion from string: ParseAddr("{raw}")') from None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id:
            raise CelError(f'IP address "{raw}" with zone value is not allowed')
        if addr.ipv4_mapped is not None:
            raise CelError(f'IPv4-mapped IPv6 address "{raw}" is not allowed')
    elif raw.count(".") == 3 and any(len(p) > 1 and p.startswith("0") for p in raw.split(".")):
        raise CelError(f'IP Address "{raw}" parse error during conversion from string: ParseAddr("{raw}")')
    return addr


def _ip(raw: str) -> Any:
    return IPMsg(value=str(_ip_addr(raw)))


def _ipv(ip: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(ip.value)


def _is_ip(raw: str) -> bool:
    try:
        _ip_addr(raw)
    except CelError:
        return False
    return True


def _is_canonical(raw: str) -> bool:
    return str(_ip_addr(raw)) == raw


def _link_local_multicast(ip: Any) -> bool:
    a = _ipv(ip)
    if isinstance(a, ipaddress.IPv4Address):
        return a in ipaddress.ip_network("224.0.0.0/24")
    return a in ipaddress.ip_network("ff02::/16")


def _global_unicast(ip: Any) -> bool:
    a = _ipv(ip)
    broadcast = isinstance(a, ipaddress.IPv4Address) and a == ipaddress.IPv4Address("255.255.255.255")
    return not (a.is_unspecified or a.is_loopback or a.is_multicast or a.is_link_local or broadcast)


def _cidr_net(raw: str) -> tuple[Any, int]:
    addr, sep, length = raw.partition("/")
    if not sep or not length.isdigit() or (len(length) > 1 and length.startswith("0")):
        raise CelError(f'network address "{raw}" parse error during conversion from string: netip.ParsePrefix("{raw}")')
    ip = _ip_addr(addr)
    if int(length) > ip.max_prefixlen:
        raise CelError(f'network address "{raw}" parse error during conversion from string: netip.ParsePrefix("{raw}")')
    return ip, int(length)


def _cidr(raw: str) -> Any:
    ip, length = _cidr_net(raw)
    return CIDRMsg(value=f"{ip}/{length}")


def _is_cidr(raw: str) -> bool:
    try:
        _cidr_net(raw)
    except CelError:
        return False
    return True


def _network(c: Any) -> Any:
    return ipaddress.ip_network(c.value, strict=False)


def _contains_ip(c: Any, ip: Any) -> bool:
    addr = _ip_addr(ip) if isinstance(ip, str) else _ipv(ip)
    net = _network(c)
    return addr.version == net.version and addr in net


def _contains_cidr(c: Any, other: Any) -> bool:
    inner = _network(_cidr(other) if isinstance(other, str) else other)
    net = _network(c)
    return bool(inner.version == net.version and inner.subnet_of(net))


def _cidr_ip(c: Any) -> Any:
    return IPMsg(value=c.value.partition("/")[0])


def _masked(c: Any) -> Any:
    return CIDRMsg(value=str(_network(c)))


# -- semantic versions (blang/semver) ---------------------------------------------------

_SEMVER = re.compile(
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)


def _normalize_semver(s: str) -> str:
    """Drop a leading "v", add missing minor and patch numbers, drop leading zeros."""
    s = s.removeprefix("v")
    core = re.match(r"^[0-9.]*", s)
    digits = core.group(0) if core else ""
    parts = [p.lstrip("0") or "0" for p in digits.split(".")] if digits else []
    while len(parts) < 3:
        parts.append("0")
    return ".".join(parts) + s[len(digits) :]


def _semver(s: str, normalize: bool = False) -> Any:
    text = _normalize_semver(s) if normalize else s
    if _SEMVER.match(text) is None:
        raise CelError(f"Could not parse Semver string: {text}")
    return SemverMsg(value=text)


def _is_semver(s: str, normalize: bool = False) -> bool:
    try:
        _semver(s, normalize)
    except CelError:
        return False
    return True


def _semver_key(v: Any) -> tuple[Any, ...]:
    m = _SEMVER.match(v.value)
    assert m is not None
    pre = m.group(4)
    ids: tuple[Any, ...] = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")) if pre else ()
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), 0 if pre else 1, ids)


def _semver_cmp(a: Any, b: Any) -> int:
    ka, kb = _semver_key(a), _semver_key(b)
    return (ka > kb) - (ka < kb)


def _semver_part(index: int) -> Callable[[Any], int]:
    def part(v: Any) -> int:
        return int(v.value.split("-")[0].split("+")[0].split(".")[index])

    return part


def _compare(a: Any, b: Any) -> int:
    """compareTo of two quantities or two semantic versions."""
    if isinstance(a, SemverMsg) and isinstance(b, SemverMsg):
        return _semver_cmp(a, b)
    if isinstance(a, QuantityMsg) and isinstance(b, QuantityMsg):
        return _cmp(_qv(a), _qv(b))
    raise CelError("no such overload")


def _SAME_KINDS(*args: Any) -> Any:  # never called: a marker for overloads without a runtime function
    raise CelError("no such overload")


# -- declarations by version ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Overload:
    id: str
    result: Any
    params: tuple[Any, ...]
    impl: Callable[..., Any]
    member: bool = False


def _o(oid: str, result: Any, params: Sequence[Any], impl: Callable[..., Any], member: bool = False) -> Overload:
    return Overload(oid, result, tuple(params), impl, member)


def _m(oid: str, result: Any, params: Sequence[Any], impl: Callable[..., Any]) -> Overload:
    return _o(oid, result, params, impl, member=True)


def _index_overloads(name: str, impl: Callable[..., Any]) -> list[Overload]:
    """Strings' overloads and Kubernetes' ``<list<A>>.f(A)``, one overload per element type
    (cel-expr-python has no type parameters). The runtime dispatches on kinds: one overload of
    each kind carries the function, the others (other message types) share it."""
    out = [_m(f"string_{name}_string", INT, [S, S], impl), _m(f"string_{name}_string_int", INT, [S, S, INT], impl)]
    for i, element in enumerate(_ELEMENTS):
        shared = element.is_message() and element is not _ELEMENTS[_FIRST_MESSAGE]
        out.append(_m(f"list_{name}_{i}", INT, [cel.Type.List(element), element], _SAME_KINDS if shared else impl))
    return out


_ELEMENTS: tuple[Any, ...] = (INT, cel.Type.UINT, D, B, S, cel.Type.BYTES, cel.Type.NULL, cel.Type.DURATION)
_ELEMENTS += (cel.Type.TIMESTAMP, LIST, cel.Type.Map(DYN, DYN), QUANTITY, URL, SEMVER, IP, CIDR, FORMAT)
_FIRST_MESSAGE = next(i for i, t in enumerate(_ELEMENTS) if t.is_message())


_LISTS = {
    "isSorted": [_m("list_is_sorted", B, [LIST], _is_sorted)],
    "sum": [_m("list_sum", DYN, [LIST], _sum)],
    "min": [_m("list_min", DYN, [LIST], _min)],
    "max": [_m("list_max", DYN, [LIST], _max)],
    celtext.INDEX_OF["indexOf"]: _index_overloads("index_of", _index_of),
    celtext.INDEX_OF["lastIndexOf"]: _index_overloads("last_index_of", _last_index_of),
}
_REGEX = {
    "find": [_m("string_find_string", S, [S, S], _find)],
    "findAll": [
        _m("string_find_all_string", cel.Type.List(S), [S, S], _find_all),
        _m("string_find_all_string_int", cel.Type.List(S), [S, S, INT], _find_all),
    ],
}
_URLS = {
    "url": [_o("string_to_url", URL, [S], _parse_url)],
    "isURL": [_o("is_url_string", B, [S], _is_url)],
    "getScheme": [_m("url_get_scheme", S, [URL], lambda u: _url(u).scheme)],
    "getHost": [_m("url_get_host", S, [URL], lambda u: _url(u).host)],
    "getHostname": [_m("url_get_hostname", S, [URL], lambda u: _url(u).hostname())],
    "getPort": [_m("url_get_port", S, [URL], lambda u: _url(u).port())],
    "getEscapedPath": [_m("url_get_escaped_path", S, [URL], lambda u: _url(u).escaped_path())],
    "getQuery": [_m("url_get_query", cel.Type.Map(S, cel.Type.List(S)), [URL], lambda u: _url(u).query())],
}
_QUANTITIES = {
    "quantity": [_o("string_to_quantity", QUANTITY, [S], _quantity)],
    "isQuantity": [_o("is_quantity_string", B, [S], _is_quantity)],
    "sign": [_o("quantity_sign", INT, [QUANTITY], _sign)],  # a global function in Kubernetes: sign(q)
    "isGreaterThan": [_m("quantity_is_greater_than", B, [QUANTITY, QUANTITY], lambda a, b: _compare(a, b) > 0)],
    "isLessThan": [_m("quantity_is_less_than", B, [QUANTITY, QUANTITY], lambda a, b: _compare(a, b) < 0)],
    "compareTo": [_m("quantity_compare_to", INT, [QUANTITY, QUANTITY], lambda a, b: _compare(a, b))],
    "asApproximateFloat": [_m("quantity_get_float", D, [QUANTITY], lambda q: float(_qv(q)))],
    "asInteger": [_m("quantity_get_int", INT, [QUANTITY], _as_integer)],
    "isInteger": [_m("quantity_is_integer", B, [QUANTITY], lambda q: _qv(q) == _qv(q).to_integral_value())],
    "add": [
        _m("quantity_add", QUANTITY, [QUANTITY, QUANTITY], _add),
        _m("quantity_add_int", QUANTITY, [QUANTITY, INT], _add),
    ],
    "sub": [
        _m("quantity_sub", QUANTITY, [QUANTITY, QUANTITY], _sub),
        _m("quantity_sub_int", QUANTITY, [QUANTITY, INT], _sub),
    ],
}
_IPS = {
    "ip": [_o("string_to_ip", IP, [S], _ip), _m("cidr_ip", IP, [CIDR], _cidr_ip)],
    "family": [_m("ip_family", INT, [IP], lambda ip: _ipv(ip).version)],
    "ip.isCanonical": [_o("ip_is_canonical", B, [S], _is_canonical)],
    "isUnspecified": [_m("ip_is_unspecified", B, [IP], lambda ip: _ipv(ip).is_unspecified)],
    "isLoopback": [_m("ip_is_loopback", B, [IP], lambda ip: _ipv(ip).is_loopback)],
    "isLinkLocalMulticast": [_m("ip_is_link_local_multicast", B, [IP], _link_local_multicast)],
    "isLinkLocalUnicast": [_m("ip_is_link_local_unicast", B, [IP], lambda ip: _ipv(ip).is_link_local)],
    "isGlobalUnicast": [_m("ip_is_global_unicast", B, [IP], _global_unicast)],
    "isIP": [_o("is_ip", B, [S], _is_ip)],
    "cidr": [_o("string_to_cidr", CIDR, [S], _cidr)],
    "containsIP": [
        _m("cidr_contains_ip_string", B, [CIDR, S], _contains_ip),
        _m("cidr_contains_ip_ip", B, [CIDR, IP], _contains_ip),
    ],
    "containsCIDR": [
        _m("cidr_contains_cidr_string", B, [CIDR, S], _contains_cidr),
        _m("cidr_contains_cidr", B, [CIDR, CIDR], _contains_cidr),
    ],
    "prefixLength": [_m("cidr_prefix_length", INT, [CIDR], lambda c: int(c.value.partition("/")[2]))],
    "masked": [_m("cidr_masked", CIDR, [CIDR], _masked)],
    "isCIDR": [_o("is_cidr", B, [S], _is_cidr)],
}
_SEMVERS = {
    "semver": [_o("string_to_semver", SEMVER, [S], _semver), _o("string_bool_to_semver", SEMVER, [S, B], _semver)],
    "isSemver": [_o("is_semver_string", B, [S], _is_semver), _o("is_semver_string_bool", B, [S, B], _is_semver)],
    # the runtime dispatches on kinds, not message types: the quantity overloads' functions serve both
    "isGreaterThan": [_m("semver_is_greater_than", B, [SEMVER, SEMVER], _SAME_KINDS)],
    "isLessThan": [_m("semver_is_less_than", B, [SEMVER, SEMVER], _SAME_KINDS)],
    "compareTo": [_m("semver_compare_to", INT, [SEMVER, SEMVER], _SAME_KINDS)],
    "major": [_m("semver_major", INT, [SEMVER], _semver_part(0))],
    "minor": [_m("semver_minor", INT, [SEMVER], _semver_part(1))],
    "patch": [_m("semver_patch", INT, [SEMVER], _semver_part(2))],
}


def _format_named(name: str) -> list[Any]:
    found = k8sformat.FORMATS.get(name)
    return [FormatMsg(value=found[0])] if found else []


def _format_validate(f: Any, s: str) -> list[list[str]]:
    errors = k8sformat.VALIDATORS[f.value](s)
    return [errors] if errors else []


def _constant_format(shown: str) -> Callable[[], Any]:
    return lambda: FormatMsg(value=shown)


# format.named and validate return optionals in Kubernetes: here a list of zero or one
# value, which celtext turns into the optional with [?0].
_FORMATS = {
    "format.named": [_o("format_named", cel.Type.List(FORMAT), [S], _format_named)],
    "validate": [_m("format_validate", cel.Type.List(cel.Type.List(S)), [FORMAT, S], _format_validate)],
    **{
        f"format.{name}": [_o(f"format_{name}", FORMAT, [], _constant_format(shown))]
        for name, (shown, _) in k8sformat.FORMATS.items()
    },
}
FORMAT_SINCE: Version = (1, 31)

# -- authorizer (library.Authz, AuthzSelectors) with a fixed answer --------------------------
# Offline there is no authorizer to ask: `podsec vap test --authorizer allow|deny` gives every
# check that answer. The answer travels in the messages' value from ``authorizer`` to the Decision.

AUTHORIZER_ANSWERS = ("allow", "deny")


def _carry(target: Any, empty: str | None = None) -> Callable[..., Any]:
    def step(receiver: Any, arg: str = "", *rest: str) -> Any:
        if empty is not None and not arg.strip():
            raise CelError(f"{empty} must not be empty")
        return target(value=receiver.value)

    return step


def _service_account(authz: Any, namespace: str, name: str) -> Any:
    if k8sformat.is_dns1123_subdomain(name):
        raise CelError("Invalid service account name")
    if k8sformat.is_dns1123_label(namespace):
        raise CelError("Invalid service account namespace")
    return AuthorizerMsg(value=authz.value)


_AUTHZ = {
    "path": [_m("authorizer_path", PATH_CHECK, [AUTHORIZER, S], _carry(PathCheckMsg, "path"))],
    "group": [_m("authorizer_group", GROUP_CHECK, [AUTHORIZER, S], _carry(GroupCheckMsg))],
    "serviceAccount": [_m("authorizer_serviceaccount", AUTHORIZER, [AUTHORIZER, S, S], _service_account)],
    "resource": [_m("groupcheck_resource", RESOURCE_CHECK, [GROUP_CHECK, S], _carry(ResourceCheckMsg, "resource"))],
    "subresource": [_m("resourcecheck_subresource", RESOURCE_CHECK, [RESOURCE_CHECK, S], _carry(ResourceCheckMsg))],
    "namespace": [_m("resourcecheck_namespace", RESOURCE_CHECK, [RESOURCE_CHECK, S], _carry(ResourceCheckMsg))],
    "name": [_m("resourcecheck_name", RESOURCE_CHECK, [RESOURCE_CHECK, S], _carry(ResourceCheckMsg))],
    "check": [
        _m("pathcheck_check", DECISION, [PATH_CHECK, S], _carry(DecisionMsg)),
        _m("resourcecheck_check", DECISION, [RESOURCE_CHECK, S], _SAME_KINDS),
    ],
    "errored": [_m("decision_errored", B, [DECISION], lambda d: False)],
    "error": [_m("decision_error", S, [DECISION], lambda d: "")],
    "allowed": [_m("decision_allowed", B, [DECISION], lambda d: d.value == "allow")],
    "reason": [_m("decision_reason", S, [DECISION], lambda d: "")],
}
_AUTHZ_SELECTORS = {
    "fieldSelector": [_m("authorizer_fieldselector", RESOURCE_CHECK, [RESOURCE_CHECK, S], _carry(ResourceCheckMsg))],
    "labelSelector": [_m("authorizer_labelselector", RESOURCE_CHECK, [RESOURCE_CHECK, S], _carry(ResourceCheckMsg))],
}


def authorizer_values(answer: str) -> dict[str, Any]:
    """``authorizer`` and ``authorizer.requestResource`` for an evaluation, answering ``answer``."""
    return {"authorizer": AuthorizerMsg(value=answer), "authorizer.requestResource": ResourceCheckMsg(value=answer)}


LIBRARIES: tuple[tuple[str, Version, dict[str, list[Overload]]], ...] = (
    ("lists", (1, 0), _LISTS),
    ("regex", (1, 0), _REGEX),
    ("urls", (1, 0), _URLS),
    ("authz", (1, 27), _AUTHZ),
    ("quantity", (1, 28), _QUANTITIES),
    ("ip/cidr", (1, 30), _IPS),
    ("format", FORMAT_SINCE, _FORMATS),
    ("authz selectors", (1, 31), _AUTHZ_SELECTORS),
    ("semver", (1, 33), _SEMVERS),
)
"""(name, first Kubernetes version, functions) of Kubernetes' libraries, all implemented here."""


def _safe(impl: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        try:
            return impl(*args)
        except CelError:
            raise
        except (ValueError, TypeError, ArithmeticError, AttributeError, IndexError) as exc:
            raise CelError(str(exc)) from None

    return call


def declarations(version: Version) -> list[Any]:
    """cel-expr-python function declarations of every library available at ``version``."""
    merged: dict[str, list[Overload]] = {}
    for _, since, functions in LIBRARIES:
        if since <= version:
            for name, overloads in functions.items():
                merged.setdefault(name, []).extend(overloads)
    return [
        cel.FunctionDecl(
            name,
            [
                cel.Overload(o.id, o.result, list(o.params), is_member=o.member)
                if o.impl is _SAME_KINDS
                else cel.Overload(o.id, o.result, list(o.params), is_member=o.member, impl=_safe(o.impl))
                for o in overloads
            ],
        )
        for name, overloads in merged.items()
    ]
