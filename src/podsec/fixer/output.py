"""What `podsec fix` shows and writes: unified diffs, JSON Patches, the summary, atomic writes."""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Sequence
from typing import TextIO

from podsec.fixer.files import FileFix, Patch
from podsec.fixer.objects import Outcome, Status
from podsec.fixer.text import lines
from podsec.model.paths import format_path
from podsec.remedies import pointer


def patch_name(name: str) -> str:
    """The file's name in a diff header: ``./``-prefixed when relative, so that ``patch -p0`` and
    ``git apply`` (which strips one leading component) both find the file."""
    if os.path.isabs(name) or name.startswith(("./", "../")) or name == "-":
        return name
    return "./" + name


Code = tuple[str, int, int, int, int]


def _range(start: int, stop: int) -> str:
    """A hunk's line range as unified diffs write it (difflib's ``_format_range_unified``)."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start if not length else start + 1},{length}"


def _opcodes(fix: FileFix) -> list[Code]:
    """The whole file's opcodes, matched part by edited part only: the rest is unchanged by
    construction (a diff of two large files line by line would cost more than the fix)."""
    codes: list[Code] = []

    def add(tag: str, i1: int, i2: int, j1: int, j2: int) -> None:
        if i1 == i2 and j1 == j2:
            return
        if tag == "equal" and codes and codes[-1][0] == "equal":
            _, i0, _, j0, _ = codes.pop()
            i1, j1 = i0, j0
        codes.append((tag, i1, i2, j1, j2))

    at = la = lb = 0
    for start, end, new in fix.spans:
        same = len(lines(fix.before[at:start].decode("utf-8")))
        add("equal", la, la + same, lb, lb + same)
        la, lb = la + same, lb + same
        old_lines, new_lines = lines(fix.before[start:end].decode("utf-8")), lines(new.decode("utf-8"))
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes():
            add(tag, la + i1, la + i2, lb + j1, lb + j2)
        la, lb, at = la + len(old_lines), lb + len(new_lines), end
    same = len(lines(fix.before[at:].decode("utf-8")))
    add("equal", la, la + same, lb, lb + same)
    return codes


def _grouped(codes: list[Code], n: int) -> list[list[Code]]:
    """Hunks: changes with up to ``n`` lines of context (difflib's get_grouped_opcodes)."""
    if not any(c[0] != "equal" for c in codes):
        return []
    codes = list(codes)
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = tag, max(i1, i2 - n), i2, max(j1, j2 - n), j2
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)
    groups: list[list[Code]] = []
    group: list[Code] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * n:
            group.append((tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)))
            groups.append(group)
            group = []
            i1, j1 = max(i1, i2 - n), max(j1, j2 - n)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return groups


def unified_diff(fix: FileFix) -> str:
    """The change of one file as a unified diff (with ``\\ No newline at end of file`` markers)."""
    assert fix.after is not None
    name = patch_name(fix.name)
    a, b = lines(fix.before.decode("utf-8")), lines(fix.after.decode("utf-8"))
    out = [f"--- {name}\n+++ {name}\n"]
    for group in _grouped(_opcodes(fix), 3):
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += (" " + line for line in a[i1:i2])
                continue
            out += ("-" + line for line in a[i1:i2])
            out += ("+" + line for line in b[j1:j2])
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in out)


def json_patches(patches: Iterable[Patch]) -> str:
    """Every object's RFC 6902 patch, with the file, document and object it applies to."""
    rows = [
        {
            "file": p.file,
            "document": p.document,
            "path": pointer(p.path),
            "object": {
                "apiVersion": p.object.api_version,
                "kind": p.object.kind,
                "namespace": p.object.namespace,
                "name": p.object.name,
            },
            "patch": p.ops,
        }
        for p in patches
    ]
    return json.dumps(rows, indent=2) + "\n"


def write_atomically(path: str, data: bytes) -> None:
    """Replace the file's content through a temporary file in its directory and a rename, keeping
    its permission bits (a symbolic link keeps pointing at the file it pointed at)."""
    real = os.path.realpath(path)
    mode = stat.S_IMODE(os.stat(real).st_mode)
    fd, tmp = tempfile.mkstemp(prefix=".podsec-fix-", dir=os.path.dirname(real))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _where(o: Outcome) -> str:
    f = o.finding
    where = f.file or "-"
    if f.line is not None:
        where += f":{f.line}"
    who = f"{f.object}" + (f" container {f.container!r}" if f.container else "")
    return f"{where}  {who}: {f.check.id}"


def _detail(o: Outcome) -> str:
    f = o.finding
    parts = [o.how] if o.how else []
    if f.values is not None:
        at = f" (line {f.values.line})" if f.values.line else ""
        parts.append(f"values key {f.values.key} in {f.values.file}{at}")
    elif f.template and f.file and f.template not in f.file:
        parts.append(f"template {f.template}")
    if f.field:
        parts.append(f"field {format_path(f.field)}")
    if o.why:
        parts.append(o.why)
    return "; ".join(parts)


def _groups(fixes: Sequence[FileFix]) -> dict[str, list[Outcome]]:
    """The outcomes by what they are: fixed, suggested for source files, or needing more."""
    return {
        "fixed": [o for f in fixes if not f.rendered for o in f.outcomes if o.status is Status.FIXED],
        "suggested": [o for f in fixes if f.rendered for o in f.outcomes if o.status is Status.FIXED],
        "needsUnsafe": [o for f in fixes for o in f.outcomes if o.status is Status.UNSAFE],
        "needsHuman": [o for f in fixes for o in f.outcomes if o.status is Status.HUMAN],
    }


def report(fixes: Sequence[FileFix], stream: TextIO) -> None:
    """The outcomes as JSON (``--report``): each finding as ``podsec scan --format json`` shows it,
    with ``fix`` (what the fix does) and ``why`` (what to verify or decide)."""
    doc = {
        name: [{**o.finding.as_dict(), "fix": o.how, "why": o.why} for o in group]
        for name, group in _groups(fixes).items()
    }
    files: dict[str, dict[str, object]] = {}  # a file's namespace findings come after every file: listed once
    for f in fixes:
        if f.outcomes:
            seen = files.setdefault(f.name, {"file": f.name, "changed": False, "rendered": ""})
            seen["changed"] = seen["changed"] or f.changed
            seen["rendered"] = seen["rendered"] or f.rendered
    doc["files"] = list(files.values())
    json.dump(doc, stream, indent=1)
    stream.write("\n")


def summary(fixes: Sequence[FileFix], *, written: bool, stream: TextIO) -> None:
    """What was fixed, what needs --unsafe, what needs a human, and suggestions for rendered files."""
    groups = _groups(fixes)
    fixed, suggested, unsafe, human = (groups[k] for k in ("fixed", "suggested", "needsUnsafe", "needsHuman"))
    changed = sum(1 for f in fixes if f.changed)
    files = f"{changed} file{'s' if changed != 1 else ''} {'written' if written else 'to change (diff above)'}"
    stream.write(
        f"podsec fix: {len(fixed)} fixed, {len(unsafe)} need --unsafe, {len(human)} need a human"
        f"{f', {len(suggested)} suggested for source files' if suggested else ''}; {files}\n"
    )
    for title, group in (
        ("suggestions for the files these were rendered from", suggested),
        ("needs --unsafe (may change how the workload runs)", unsafe),
        ("needs a human", human),
    ):
        if group:
            stream.write(f"{title}:\n")
            for o in group:
                stream.write(f"  {_where(o)}: {_detail(o)}\n")
