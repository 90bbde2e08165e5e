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
from podsec.remedies import pointer


def _lines(text: str) -> list[str]:
    """Lines split at LF only, each with its end (CR stays in the line: CRLF files diff as such)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def patch_name(name: str) -> str:
    """The file's name in a diff header: ``./``-prefixed when relative, so that ``patch -p0`` and
    ``git apply`` (which strips one leading component) both find the file."""
    if os.path.isabs(name) or name.startswith(("./", "../")) or name == "-":
        return name
    return "./" + name


def unified_diff(fix: FileFix) -> str:
    """The change of one file as a unified diff (with ``\\ No newline at end of file`` markers)."""
    assert fix.after is not None
    name = patch_name(fix.name)
    before = _lines(fix.before.decode("utf-8"))
    after = _lines(fix.after.decode("utf-8"))
    out = []
    for line in difflib.unified_diff(before, after, name, name):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


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
    return f"{where}  {who}: {f.check}"


def _detail(o: Outcome) -> str:
    f = o.finding
    parts = [o.how] if o.how else []
    if f.values is not None:
        at = f" (line {f.values.line})" if f.values.line else ""
        parts.append(f"values key {f.values.key} in {f.values.file}{at}")
    elif f.template and f.file and f.template not in f.file:
        parts.append(f"template {f.template}")
    parts.append(f"field {f.field}")
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
    doc["files"] = [{"file": f.name, "changed": f.changed, "rendered": f.rendered} for f in fixes if f.outcomes]
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
