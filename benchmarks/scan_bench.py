#!/usr/bin/env python3
"""Benchmark: podsec's full scan against a bare PyYAML CSafeLoader load of the same files.

    python benchmarks/scan_bench.py [PATH] [--repeat 3] [--copies 10] [--profile restricted]

PATH defaults to ../shared/corpus. Both sides run as fresh processes (interpreter
start-up included) and the best of --repeat wall times is kept. The bare side reads
every .yaml/.yml/.json file and runs yaml.load_all(data, Loader=yaml.CSafeLoader)
over it without keeping the documents. The podsec side is
`python -m podsec scan --format json --profile restricted PATH` (all checks).

Memory: the peak resident memory of podsec's whole process tree (main process and
workers, sampled from /proc every 10 ms) when scanning PATH once, and when scanning it
--copies times in one run (PATH given --copies times on the command line).
Targets (issue #2): time ratio <= 0.5; peak RSS for the copies <= 1.2x one copy.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "corpus"

BARE = r"""
import os, sys, yaml
docs = size = 0
for root, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    for f in sorted(files):
        if f.startswith(".") or not f.lower().endswith((".yaml", ".yml", ".json")):
            continue
        with open(os.path.join(root, f), "rb") as fh:
            data = fh.read()
        size += len(data)
        try:
            for _ in yaml.load_all(data, Loader=yaml.CSafeLoader):
                docs += 1
        except Exception:
            pass
print(docs, size)
"""


def _tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            with open(f"/proc/{p}/task/{p}/children") as fh:
                stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


def timed(cmd: list[str], *, sample: bool = False) -> tuple[float, int, bytes]:
    """Wall time, peak tree RSS (KiB, when sampled) and stdout of one run."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
        peak = 0
        while proc.poll() is None:
            if sample:
                peak = max(peak, _tree_rss_kib(proc.pid))
            time.sleep(0.01)
        wall = time.perf_counter() - start
        if proc.returncode not in (0, 1, 2):
            raise SystemExit(f"{cmd[:4]} failed with exit code {proc.returncode}")
        out.seek(0)
        return wall, peak, out.read()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", nargs="?", default=str(DEFAULT))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--profile", default="restricted")
    args = ap.parse_args()
    if not os.path.isdir(args.path):
        print(f"no such directory: {args.path}", file=sys.stderr)
        return 2
    py = sys.executable
    scan = [py, "-m", "podsec", "scan", "--format", "json", "--profile", args.profile]
    bare_times, scan_times = [], []
    docs = size = 0
    for _ in range(args.repeat):  # interleaved, so both sides see the same machine load
        wall, _, out = timed([py, "-c", BARE, args.path])
        bare_times.append(wall)
        docs, size = map(int, out.split())
        wall, _, _ = timed([*scan, args.path])
        scan_times.append(wall)
    bare, full = min(bare_times), min(scan_times)
    _, rss_one, _ = timed([*scan, args.path], sample=True)
    wall_many, rss_many, _ = timed([*scan, *([args.path] * args.copies)], sample=True)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    def runs(times: list[float]) -> str:
        return ", ".join(f"{t:.2f}" for t in times)

    def rate(seconds: float) -> str:
        return f"{seconds:6.2f} s  {docs / seconds:8,.0f} docs/s  {size / 1e6 / seconds:5.1f} MB/s"

    print(f"input: {args.path}: {docs:,} YAML documents, {size / 1e6:.1f} MB; {cores} usable cores")
    print(f"bare CSafeLoader load_all : {rate(bare)}  (runs: {runs(bare_times)})")
    print(f"podsec scan ({args.profile:10}): {rate(full)}  (runs: {runs(scan_times)})")
    print(f"ratio podsec / bare load  : {full / bare:6.2f}   (target <= 0.50)")
    print(f"peak RSS, 1 copy          : {rss_one / 1024:6.1f} MiB (process tree)")
    ratio = rss_many / rss_one
    print(f"peak RSS, {args.copies} copies        : {rss_many / 1024:6.1f} MiB in {wall_many:.1f} s; ratio {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
