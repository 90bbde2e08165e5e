"""Message helpers, after PSA's ``pluralize``/``joinQuote`` and Go's ``%q``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Final

from podsec.checks._base import ContainerView, Owner, Violation
from podsec.model.paths import Path
from podsec.model.pod import display_name

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def plural(n: int, singular: str, many: str) -> str:
    return singular if n == 1 else many


def qlist(items: Iterable[str]) -> str:
    """Each item in double quotes, joined by ``", "``, with no escaping (PSA joinQuote);
    an unnamed container is shown as ``#N (unnamed)``."""
    if type(items) is list and len(items) == 1:  # the usual one name, without a join
        return display_name(items[0])
    return ", ".join([display_name(item) for item in items])


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


def owners(violations: Sequence[Violation]) -> list[str]:
    """Names of the distinct owners in visiting order (same-named containers kept apart)."""
    if len(violations) == 1:  # the usual one owner, without a set
        return [violations[0].name]
    seen: set[tuple[object, ...]] = set()
    names: list[str] = []
    for v in violations:
        if v.owner not in seen:
            seen.add(v.owner)
            names.append(v.name)
    return names


def containers_phrase(names: Sequence[str]) -> str:
    return f"{plural(len(names), 'container', 'containers')} {qlist(names)}"


def who(violations: Sequence[Violation]) -> str:
    """``pod`` and/or ``container(s) "a", "b"`` for violations on the pod and on containers."""
    parts = []
    if any(v.on is Owner.POD for v in violations):
        parts.append("pod")
    names = owners([v for v in violations if v.on is Owner.CONTAINER])
    if names:
        parts.append(containers_phrase(names))
    return " and ".join(parts)


def of_kind(violations: Iterable[Violation], kind: Enum) -> list[Violation]:
    return [v for v in violations if v.kind is kind]


# tuple.__new__ is what Violation(...) calls, without the named tuple's Python-level __new__;
# Final: compiled, module constants are read without a dictionary lookup
_new: Final = tuple.__new__
_ON_CONTAINER: Final = Owner.CONTAINER
_ON_POD: Final = Owner.POD


def on_container(c: ContainerView, path: Path, kind: Enum | None = None, value: str = "") -> Violation:
    return _new(Violation, (path, c.path, c.label, _ON_CONTAINER, kind, value))


def on_pod(path: Path, kind: Enum | None = None, value: str = "") -> Violation:
    return _new(Violation, (path, (), "pod", _ON_POD, kind, value))


def on_annotation(path: Path, key: str, value: str) -> Violation:
    """A pod annotation (its own owner): ``value`` is how messages show it."""
    return Violation(path, path, key, Owner.ANNOTATION, None, value)
