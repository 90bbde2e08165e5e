"""Go's ``net/url`` parser (``url.Parse``, ``url.ParseRequestURI``), as Kubernetes' CEL uses it.

Kubernetes' URL library (``url()``, ``isURL()``, ``getHost()`` ...) and the ``uri`` format
of its format library call Go's parser, so their verdicts and error texts are Go's; this
module follows ``src/net/url/url.go`` (Go 1.26) step by step, on UTF-8 bytes as Go does.
IPv6 literals are checked with Python's ``ipaddress`` (Go: ``netip.ParseAddr``), whose
verdicts agree; only the wording of such an error differs from Go's.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

_HOST_EXTRA = frozenset(b"!$&'()*+,;=:[]<>\"")
_RESERVED = frozenset(b"$&+,/:;=?@")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_USERINFO = frozenset(b"-._:~!$&'()*+,;=%@")

PATH, PATH_SEGMENT, HOST, ZONE, USER_PASSWORD, QUERY_COMPONENT, FRAGMENT = range(7)


class URLError(ValueError):
    """A parse error, worded as Go's ``*url.Error`` (``parse "x": reason``)."""


def _quote(text: str) -> str:
    from podsec.checks import go_quote

    return go_quote(text)


def should_escape(c: int, mode: int) -> bool:
    """Go's shouldEscape (gen_encoding_table.go) for one byte."""
    if 0x61 <= c <= 0x7A or 0x41 <= c <= 0x5A or 0x30 <= c <= 0x39:
        return False
    if mode in (HOST, ZONE) and c in _HOST_EXTRA:
        return False
    if c in b"-_.~":
        return False
    if c in _RESERVED:
        if mode == PATH:
            return c == 0x3F
        if mode == PATH_SEGMENT:
            return c in b"/;,?"
        if mode == USER_PASSWORD:
            return c in b"@/?:"
        if mode == QUERY_COMPONENT:
            return True
        if mode == FRAGMENT:
            return False
    return not (mode == FRAGMENT and c in b"!()*")


def _text(b: bytes) -> str:
    return b.decode("utf-8", errors="replace")


def _check_escape(raw: bytes, i: int, mode: int) -> None:
    """unescape's case '%': the escape at ``i`` is well-formed and allowed in ``mode`` (Go's EscapeError)."""
    escape = raw[i : i + 3]
    if i + 2 >= len(raw) or raw[i + 1] not in _HEX or raw[i + 2] not in _HEX:
        raise ValueError(f"invalid URL escape {_quote(_text(escape))}")
    if escape == b"%25":  # RFC 6874 allows %25 for the percent sign of IPv6 scoped-address literals
        return
    # RFC 3986: in the host component %-encoding can only be used for non-ASCII bytes
    if mode == HOST and int(raw[i + 1 : i + 2], 16) < 8:
        raise ValueError(f"invalid URL escape {_quote(_text(escape))}")
    # a zone may escape only bytes valid in a host name unescaped (and spaces, which Windows puts there)
    value = int(raw[i + 1 : i + 3], 16)
    if mode == ZONE and value != 0x20 and should_escape(value, HOST):
        raise ValueError(f"invalid URL escape {_quote(_text(escape))}")


def unescape(s: str, mode: int) -> str:
    """Go's unescape: %XX decoding with the rules of ``mode``; ValueError with Go's text."""
    raw = s.encode()
    i, n, has_plus = 0, 0, False
    while i < len(raw):
        c = raw[i]
        if c == 0x25:  # %
            n += 1
            _check_escape(raw, i, mode)
            i += 3
            continue
        if c == 0x2B:  # +
            has_plus = mode == QUERY_COMPONENT
        elif mode in (HOST, ZONE) and c < 0x80 and should_escape(c, mode):
            raise ValueError(f"invalid character {_quote(chr(c))} in host name")  # Go's InvalidHostError
        i += 1
    if n == 0 and not has_plus:
        return s
    return _decoded(raw, mode)


def _decoded(raw: bytes, mode: int) -> str:
    """unescape's second loop: ``raw``, checked, with %XX decoded (and + as space in a query component)."""
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x25:
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
            continue
        out.append(0x20 if c == 0x2B and mode == QUERY_COMPONENT else c)
        i += 1
    return _text(bytes(out))


def escape(s: str, mode: int) -> str:
    out = []
    for c in s.encode():
        if not should_escape(c, mode):
            out.append(chr(c))
        elif c == 0x20 and mode == QUERY_COMPONENT:
            out.append("+")
        else:
            out.append(f"%{c:02X}")
    return "".join(out)


def _valid_encoded(s: str, mode: int) -> bool:
    for c in s.encode():
        if c in b"!$&'()*+,;=:@[]%":
            continue
        if should_escape(c, mode):
            return False
    return True


def valid_optional_port(port: str) -> bool:
    if port == "":
        return True
    return port[0] == ":" and all("0" <= ch <= "9" for ch in port[1:])


@dataclass(slots=True)
class URL:
    scheme: str = ""
    opaque: str = ""
    user: str | None = None
    host: str = ""
    path: str = ""
    raw_path: str = ""
    raw_query: str = ""
    force_query: bool = False
    fragment: str = ""

    def escaped_path(self) -> str:
        if self.raw_path and _valid_encoded(self.raw_path, PATH):
            try:
                if unescape(self.raw_path, PATH) == self.path:
                    return self.raw_path
            except ValueError:
                pass
        if self.path == "*":
            return "*"
        return escape(self.path, PATH)

    def hostname(self) -> str:
        return split_host_port(self.host)[0]

    def port(self) -> str:
        return split_host_port(self.host)[1]

    def query(self) -> dict[str, list[str]]:
        """Go's ParseQuery, errors ignored (what ``u.Query()`` returns)."""
        values: dict[str, list[str]] = {}
        for key in self.raw_query.split("&") if self.raw_query else ():
            if ";" in key or key == "":
                continue
            name, _, value = key.partition("=")
            try:
                name, value = unescape(name, QUERY_COMPONENT), unescape(value, QUERY_COMPONENT)
            except ValueError:
                continue
            values.setdefault(name, []).append(value)
        return values


def split_host_port(host_port: str) -> tuple[str, str]:
    host, port = host_port, ""
    colon = host.rfind(":")
    if colon != -1 and valid_optional_port(host[colon:]):
        host, port = host[:colon], host[colon + 1 :]
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def _get_scheme(raw: str) -> tuple[str, str]:
    for i, c in enumerate(raw):
        if "a" <= c <= "z" or "A" <= c <= "Z":
            continue
        if "0" <= c <= "9" or c in "+-.":
            if i == 0:
                return "", raw
            continue
        if c == ":":
            if i == 0:
                raise ValueError("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        return "", raw
    return "", raw


def _parse_host(scheme: str, host: str) -> str:
    open_bracket = host.rfind("[")
    if open_bracket > 0:
        raise ValueError("invalid IP-literal")
    if open_bracket == 0:
        close = host.rfind("]")
        if close < 0:
            raise ValueError("missing ']' in host")
        colon_port = host[close + 1 :]
        if not valid_optional_port(colon_port):
            raise ValueError(f"invalid port {_quote(colon_port)} after host")
        colon_port = unescape(colon_port, HOST)
        hostname = host[1:close]
        zone = hostname.find("%25")
        if zone >= 0:
            literal = unescape(hostname[:zone], HOST) + unescape(hostname[zone:], ZONE)
        else:
            literal = unescape(hostname, HOST)
        address, _, zone_id = literal.partition("%")
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"invalid host: ParseAddr({_quote(literal)}): unable to parse IP") from None
        if isinstance(parsed, ipaddress.IPv4Address) or (zone_id == "" and "%" in literal):
            raise ValueError("invalid IP-literal")
        return "[" + literal + "]" + colon_port
    first = host.find(":")
    if first != -1:
        last = host.rfind(":")
        if last != first and scheme not in ("http", "https"):
            first = last
        colon_port = host[first:]
        if not valid_optional_port(colon_port):
            raise ValueError(f"invalid port {_quote(colon_port)} after host")
    return unescape(host, HOST)


def _valid_userinfo(s: str) -> bool:
    return all(ch.isascii() and (ch.isalnum() or ord(ch) in _USERINFO) for ch in s)


def _parse_authority(scheme: str, authority: str) -> tuple[str | None, str]:
    i = authority.rfind("@")
    host = _parse_host(scheme, authority if i < 0 else authority[i + 1 :])
    if i < 0:
        return None, host
    userinfo = authority[:i]
    if not _valid_userinfo(userinfo):
        raise ValueError("net/url: invalid userinfo")
    name, colon, password = userinfo.partition(":")
    name = unescape(name, USER_PASSWORD)
    if colon:
        password = unescape(password, USER_PASSWORD)
    return name + colon + password, host


def _contains_ctl_byte(raw: str) -> bool:
    """Go's stringContainsCTLByte."""
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw)


def _split_query(url: URL, rest: str) -> str:
    """``rest`` without its query, which goes to ``url`` (a lone trailing "?" forces an empty one)."""
    if rest.endswith("?") and rest.count("?") == 1:
        url.force_query = True
        return rest[:-1]
    rest, _, url.raw_query = rest.partition("?")
    return rest


def _check_relative_path(rest: str, via_request: bool) -> None:
    """A path with neither scheme nor leading "/": refused by ParseRequestURI, and (RFC 3986 §3.3, to avoid
    confusion with malformed schemes such as cache_object:foo/bar) when its first segment has a colon."""
    if via_request:
        raise ValueError("invalid URI for request")
    if ":" in rest.partition("/")[0]:
        raise ValueError("first path segment in URL cannot contain colon")


def _set_path(url: URL, rest: str) -> None:
    """URL.setPath: the decoded path, and the raw one when escaping the path does not give it back."""
    url.path = unescape(rest, PATH)
    url.raw_path = "" if escape(url.path, PATH) == rest else rest


def _parse(raw: str, via_request: bool) -> URL:
    """Go's parse."""
    if _contains_ctl_byte(raw):
        raise ValueError("net/url: invalid control character in URL")
    if raw == "" and via_request:
        raise ValueError("empty url")
    url = URL()
    if raw == "*":
        url.path = "*"
        return url
    scheme, rest = _get_scheme(raw)  # a leading "http:", "mailto:" ...
    url.scheme = scheme.lower()
    rest = _split_query(url, rest)
    if not rest.startswith("/"):
        if url.scheme:
            url.opaque = rest  # rootless paths (RFC 3986) are opaque
            return url
        _check_relative_path(rest, via_request)
    if (url.scheme or (not via_request and not rest.startswith("///"))) and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        url.user, url.host = _parse_authority(url.scheme, authority)
    _set_path(url, rest)
    return url


def parse_request_uri(raw: str) -> URL:
    """``url.ParseRequestURI``: an absolute URI or an absolute path; `URLError` otherwise."""
    try:
        return _parse(raw, True)
    except ValueError as exc:
        raise URLError(f"parse {_quote(raw)}: {exc}") from None


def parse(raw: str) -> URL:
    """``url.Parse``: like `parse_request_uri`, relative references allowed, ``#fragment`` split off."""
    head, hash_, fragment = raw.partition("#")
    try:
        url = _parse(head, False)
    except ValueError as exc:
        raise URLError(f"parse {_quote(head)}: {exc}") from None
    if hash_:
        try:
            url.fragment = unescape(fragment, FRAGMENT)
        except ValueError as exc:
            raise URLError(f"parse {_quote(raw)}: {exc}") from None
    return url
