"""Lines the YAML editor inserts, indented as the file indents its own, and after the comments
that end the blocks before them.

yaml-edit writes the blocks it inserts with two-space steps (and a sequence style of its own
choosing); a careful human follows the file: four-space steps in a four-space file, ``- `` items
at the key's column in a file whose sequences are indentless. `follow` re-indents each run of
inserted block lines by the steps the rest of the chunk uses: a nested mapping's step, and the
offset of a sequence's ``-`` from its key. Only the leading spaces of inserted lines change; a
run of an unexpected shape (comments, tabs, mappings in list items) is left as it was. A comment
that ends a nested block stays with it: keys added to the blocks around it go after it.
"""

from __future__ import annotations

import difflib
import itertools
from collections import Counter


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _significant(line: str) -> bool:
    body = line.strip()
    return bool(body) and not body.startswith("#")


def _opens(body: str) -> bool:
    """A ``key:`` line whose value is the block below it."""
    body = body.split(" #", 1)[0].rstrip()
    return body.endswith(":") and not body.startswith(("{", "[", '"', "'"))


def _key_column(line: str) -> int:
    """Where the key of a ``key:`` (or ``- key:``) line starts."""
    at = _indent(line)
    body = line[at:]
    while body.startswith("- ") or body == "-":
        rest = body[1:]
        at += 1 + _indent(rest)
        body = rest.lstrip(" ")
    return at


SAMPLES = 32
"""Nested blocks looked at to tell a file's steps (the most common wins)."""


def steps(text: list[str]) -> tuple[int | None, int | None]:
    """The file's (mapping step, sequence offset): how far a nested mapping is indented below its
    key, and how far a block sequence's ``-`` is from its key (0: indentless); None where the text
    has no example."""
    mapping: Counter[int] = Counter()
    sequence: Counter[int] = Counter()
    rows = (line.rstrip("\r\n") for line in itertools.islice(text, SAMPLES * 40) if _significant(line))
    for line, below in itertools.pairwise(rows):
        if not _opens(line.lstrip(" ").removeprefix("- ")):
            continue
        delta = _indent(below) - _key_column(line)
        if below.lstrip(" ").startswith("- ") and delta >= 0:
            sequence[delta] += 1
        elif delta > 0:
            mapping[delta] += 1
        if mapping.total() >= SAMPLES and sequence.total() >= SAMPLES // 4:
            break  # enough to tell (nor is a large file read to its end)
    return (
        mapping.most_common(1)[0][0] if mapping else None,
        sequence.most_common(1)[0][0] if sequence else None,
    )


def _reindent(run: list[str], mapping: int | None, sequence: int | None) -> list[str] | None:
    """The run with the file's steps, or None when it has a shape this does not handle."""
    out: list[str] = []
    stack: list[tuple[int, int]] = []  # the ``key:`` lines above: (old column, new column)
    for line in run:
        old, body = _indent(line), line.lstrip(" ")
        if not body.strip():
            out.append(line)
            continue
        if body.startswith(("#", "\t")) or (body.startswith("- ") and ": " in body):
            return None
        item = body.startswith("- ")
        while stack and (stack[-1][0] > old or (stack[-1][0] == old and not item)):  # (an item at its
            # key's column is the key's value: an indentless sequence)
            stack.pop()
        if not stack:
            new = old
        else:
            parent_old, parent_new = stack[-1]
            step = sequence if item else mapping
            new = parent_new + (step if step is not None else old - parent_old)
        out.append(" " * new + body)
        if not item and _opens(body):
            stack.append((old, new))
    return out


def _after_comments(run: list[str], comments: list[str]) -> list[str]:
    """The run and the comment lines right after it, each part of the run that is less indented
    than a comment placed after that comment: a comment at the end of a nested block (``# last in
    the container``) stays with that block, before the keys added to the blocks around it."""
    groups: list[tuple[int, list[str]]] = []  # the run's keys at one column, each with its lines
    for line in run:
        at = _indent(line)
        if not groups or (line.strip() and at < groups[-1][0]):
            groups.append((at, []))
        groups[-1][1].append(line)
    out: list[str] = []
    left = list(comments)
    for column, lines in groups:
        while left and _indent(left[0]) > column:
            out.append(left.pop(0))
        out += lines
    return out + left


def follow(a: list[str], b: list[str]) -> list[str]:
    """The lines ``b`` (the lines ``a`` after the YAML editor's edits) with the inserted ones
    indented as ``a`` indents its own, and placed after the comments that end the blocks before them."""
    mapping, sequence = steps(a)
    out = list(b)
    head = 0  # the lines before the first edit and after the last are the same: not matched again
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    edited = difflib.SequenceMatcher(None, a[head : len(a) - tail], b[head : len(b) - tail], autojunk=False)
    for tag, _, _, k1, k2 in reversed(edited.get_opcodes()):
        if tag not in ("insert", "replace"):
            continue
        j1, j2 = head + k1, head + k2
        run = (_reindent(out[j1:j2], mapping, sequence) if mapping or sequence is not None else None) or out[j1:j2]
        if tag == "replace":  # (lines the editor rewrote: their keys keep their columns)
            out[j1:j2] = run
            continue
        end = j2
        while end < len(out) and out[end].lstrip(" ").startswith("#"):
            end += 1
        out[j1:end] = _after_comments(run, out[j2:end])
    return out
