#!/usr/bin/env python3
"""Coverage-guided fuzzing of podsec's readers and reports (atheris, libFuzzer for Python).

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python fuzz/fuzz_scan.py fuzz/corpus -max_total_time=600 [-jobs=2 -workers=2]

Each input is one file's bytes. It is scanned as a file (``pipeline.scan_bytes``: the kind
pre-filter, YAML/JSON reading, pod extraction, every check, exemptions) and explained, and
every report format is written for the result; then the reports are parsed back. Any
exception, an "internal error" result, a malformed report, or a control character reaching
the text report is a crash, and libFuzzer saves the input as ``crash-*``.

``fuzz/corpus`` starts from ``tests/data`` and the bundled examples (``--seed`` copies them,
plus the shared corpus when ``../shared/corpus`` is there); libFuzzer adds what covers new
code. ``-max_len`` defaults to 100 KB, the size the bounds in the README promise for.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import shutil
import sys
import xml.dom.minidom

import atheris

with atheris.instrument_imports(include=["podsec"]):
    from podsec import engine, explain, pipeline
    from podsec.evaluate import Context
    from podsec.findings import FileResult, Summary
    from podsec.model.standards import Level, PolicyVersion
    from podsec.model.workloads import KindTable
    from podsec.reporters import REPORTERS, RunInfo
    from podsec.sources import files

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
POLICY = engine.select(Level.RESTRICTED, PolicyVersion(None))
CTX = Context(POLICY, KindTable(), explain=True, describe=explain.describe)
RUN = RunInfo("restricted:latest", "v1.37", checks=tuple(s.check for s in POLICY.checks))
CONTROLS = {chr(c) for c in range(0x20)} - {"\n"} | {"\x7f", "\x9b", "\u202e"}


def check_reports(result: FileResult) -> None:
    summary = Summary()
    summary.add(result)
    for fmt, make in REPORTERS.items():
        out = io.StringIO()
        reporter = make(out, RUN)
        reporter.file(result)
        reporter.finish(summary)
        text = out.getvalue()
        text.encode("utf-8")  # no surrogates
        if fmt in ("json", "sarif"):
            json.loads(text)
        elif fmt == "junit":
            xml.dom.minidom.parseString(text.encode())
        elif fmt == "policyreport":
            list(yaml.safe_load_all(text))
        elif fmt == "text":
            raw = CONTROLS.intersection(text)
            if raw:
                raise AssertionError(f"control characters in the text report: {sorted(raw)!r}")


def test_one_input(data: bytes) -> None:
    result = pipeline.scan_bytes(data, "fuzz.yaml", CTX)
    for err in result.errors:
        if "internal error" in err.message:
            raise AssertionError(err.message)
    check_reports(result)
    for item in files.read_objects(data, "fuzz.yaml", CTX.kinds):
        if isinstance(item, files.Located):
            explained = explain.explain_object(item.obj, CTX.kinds, file="fuzz.yaml")
            if explained is not None and not isinstance(explained, list):
                explain.write_json(io.StringIO(), [explained])
                explain.write_text(io.StringIO(), [explained])


def seed(corpus: pathlib.Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    sources = [ROOT / "tests" / "data", ROOT / "examples"]
    shared = ROOT.parent / "shared" / "corpus"
    if shared.is_dir():
        sources.append(shared)
    n = 0
    for base in sources:
        for path in sorted(base.rglob("*")):
            if path.suffix in (".yaml", ".yml", ".json") and path.stat().st_size <= 100_000:
                shutil.copy(path, corpus / f"seed-{n:05d}{path.suffix}")
                n += 1
    print(f"seeded {corpus} with {n} files")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--seed":
        seed(pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else ROOT / "fuzz" / "corpus"))
        return
    args = list(sys.argv)
    if not any(a.startswith("-max_len") for a in args):
        args.append("-max_len=100000")
    if not any(a.startswith("-timeout") for a in args):
        args.append("-timeout=10")  # a hang is a finding too
    if not any(a.startswith("-rss_limit_mb") for a in args):
        args.append("-rss_limit_mb=1024")
    os.environ.setdefault("RUST_BACKTRACE", "0")
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
