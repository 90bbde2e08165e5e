#!/usr/bin/env python3
"""Benchmark: `podsec fix` against `podsec scan` of the same files (target, issue #17: fix <= 2x scan).

    python benchmarks/fix_bench.py [PATH] [--repeat 3] [--profile hardened]

PATH defaults to ../shared/corpus. Each round copies PATH to a temporary directory and runs,
as fresh processes (interpreter start-up included), interleaved:

* scan: ``podsec scan --format json --kustomize off COPY``
* fix:  ``podsec fix --unsafe --kustomize off --report R COPY`` (every fix is computed and
  written into the text in memory, diffs printed; nothing is written)
* write: ``podsec fix --unsafe --write --kustomize off COPY`` (the files written)

and keeps the best wall time and the best CPU time (process and workers: steadier than wall time
on a shared machine) of each over --repeat rounds, and their ratios. It also prints the counts of
the fix's report: files changed, findings fixed, needing a human, and suggested for source files
(rendered Helm output).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "corpus"


def _timed(args: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its workers)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=str(DEFAULT))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", default="hardened")
    args = parser.parse_args()
    source = pathlib.Path(args.path)
    if not source.exists():
        print(f"no such path: {source}", file=sys.stderr)
        return 2
    podsec = [sys.executable, "-m", "podsec"]
    common = ["--kustomize", "off", "--profile", args.profile]
    inf = (float("inf"), float("inf"))
    best = {"scan": inf, "fix": inf, "write": inf}
    with tempfile.TemporaryDirectory(prefix="podsec-fix-bench-") as tmp:
        report = pathlib.Path(tmp) / "report.json"
        for _ in range(args.repeat):
            copy = pathlib.Path(tmp) / "copy"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(source, copy) if source.is_dir() else shutil.copy(source, copy)
            runs = {
                "scan": [*podsec, "scan", "--format", "json", *common, str(copy)],
                "fix": [*podsec, "fix", "--unsafe", *common, "--report", str(report), str(copy)],
                "write": [*podsec, "fix", "--unsafe", "--write", *common, str(copy)],
            }
            for name, command in runs.items():
                wall, cpu = _timed(command)
                best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
        counts = json.loads(report.read_text())
    changed = sum(1 for f in counts["files"] if f["changed"])
    print(f"input: {source}")
    (scan_wall, scan_cpu) = best["scan"]
    print(f"scan:         wall {scan_wall:.2f} s, CPU {scan_cpu:.2f} s")
    for name, label in (("fix", "fix (diff):  "), ("write", "fix --write: ")):
        wall, cpu = best[name]
        print(f"{label} wall {wall:.2f} s ({wall / scan_wall:.2f}x scan), CPU {cpu:.2f} s ({cpu / scan_cpu:.2f}x scan)")
    print(
        f"fix --unsafe: {changed} files changed, {len(counts['fixed'])} findings fixed, "
        f"{len(counts['needsUnsafe'])} need --unsafe, {len(counts['needsHuman'])} need a human, "
        f"{len(counts['suggested'])} suggested for source files"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
