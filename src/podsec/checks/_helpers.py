"""Message helpers, after PSA's ``pluralize``/``joinQuote`` and Go's ``%q``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from podsec.checks._base import ContainerView, Violation
from podsec.model.pod import display_name

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def plural(n: int, singular: str, many: str) -> str:
    return singular if n == 1 else many


def qlist(items: Iterable[str]) -> str:
    """Each item in double quotes, joined by ``", "``, with no escaping (PSA joinQuote);
    an unnamed container is shown as ``#N (unnamed)``."""
    return ", ".join(display_name(item) for item in items)


def sorted_unique(items: Iterable[str]) -> list[str]:
    return sorted(set(items))


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: double-quoted, with Go escapes for special characters."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def owners(violations: Iterable[Violation], tag: str | None = None) -> list[str]:
    """Names of the distinct owners in visiting order (same-named containers kept apart)."""
    seen: set[tuple[object, ...]] = set()
    names: list[str] = []
    for v in violations:
        if (tag is None or v.tag == tag) and v.owner not in seen:
            seen.add(v.owner)
            names.append(v.name)
    return names


def containers_phrase(names: Sequence[str]) -> str:
    return f"{plural(len(names), 'container', 'containers')} {qlist(names)}"


def who(violations: Sequence[Violation]) -> str:
    """``pod`` and/or ``container(s) "a", "b"`` for violations tagged ``pod``/``c:...``."""
    parts = []
    if any(v.tag.startswith("pod") for v in violations):
        parts.append("pod")
    names = owners(v for v in violations if v.tag.startswith("c:"))
    if names:
        parts.append(containers_phrase(names))
    return " and ".join(parts)


def on_container(c: ContainerView, path: tuple[str | int, ...], tag: str, value: str = "") -> Violation:
    return Violation(path=path, owner=c.path, name=c.label, tag=f"c:{tag}", value=value)


def on_pod(path: tuple[str | int, ...], tag: str = "", value: str = "") -> Violation:
    return Violation(path=path, owner=(), name="pod", tag=f"pod:{tag}" if tag else "pod", value=value)
