#!/usr/bin/env python3
"""Bounded cost: the worst inputs found so far, each under 100 KB, each scanned by a fresh
`python -m podsec scan` process; wall time and peak RSS against the target (issue 11:
every input under 100 KB in under 2 s and 300 MB, whatever its content). The target is
judged on the process's CPU time (user + system), which a busy shared machine does not
inflate as it does wall time; both are printed.

    python benchmarks/adversarial_bench.py [--repeat 3]

Best of --repeat runs per input (the machine is shared). Exit code 1 if a target is missed.
Also times every report format on 390 Deployments (one scan, several formats) against the
text report: no format may cost more than the scan itself.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

POD = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n"
    "    securityContext:\n      privileged: true\n"
)
SURROGATES = "\ud83d\ude00\ud800"  # a pair (one character) and a lone one
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  x: "


def alias_list(n: int) -> str:
    container = "&c {name: c, securityContext: {privileged: true}}"
    head = (
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec:\n"
        f"    containers: &cs [{container}{', *c' * (n - 1)}]\n"
    )
    item = "- apiVersion: v1\n  kind: Pod\n  metadata: {{name: p{}}}\n  spec:\n    containers: *cs\n"
    return head + "".join(item.format(i) for i in range(n - 1))


def laughs() -> str:
    levels = "".join(f"  {chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    return CM.replace("  x: ", "  a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n") + levels


def wide_pod(size: int) -> str:
    line = "  - {{name: c{}, securityContext: {{privileged: true, runAsUser: 0}}}}\n"
    out, n = [POD.split("  - name: c")[0]], 0
    while sum(map(len, out)) < size:
        out.append(line.format(n))
        n += 1
    return "".join(out)


def cases() -> dict[str, bytes]:
    import random

    rng = random.Random(11)
    return {
        "ConfigMap, 20,000 nested [ (40 KB)": (CM + "[" * 20000 + "]" * 20000).encode(),
        "ConfigMap, 5,000 unclosed [ (5 KB)": (CM + "[" * 5000).encode(),
        "100 KB of [": b"[" * 100_000,
        "1,000 x '- '": b"- " * 1000 + b"\n",
        "440 nested block mappings (97 KB)": b"".join(b" " * i + b"k:\n" for i in range(440)),
        "billion laughs in a ConfigMap": laughs().encode(),
        "List: one container aliased 229 x 229 (3.3 KB)": alias_list(229).encode(),
        "List: one container aliased 980 x 980 (13.8 KB)": alias_list(980).encode(),
        "aliases just under go-yaml's ratio": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  a: &a ["
            + ", ".join(["x"] * 1000)
            + "]\n  b: ["
            + ", ".join(["*a"] * 98)
            + "]\n"
        ).encode(),
        "a pod with 1,400 privileged containers (100 KB)": wide_pod(99_000).encode(),
        "pure-Python fallback, 100 KB flow": (CM + "[" + ", ".join(["001:db8::"] * 9000) + "]\n").encode(),
        "990-deep value in a pod": (POD + "  x: " + "[" * 990 + "]" * 990 + "\n").encode(),
        "JSON with surrogate escapes (100 KB)": json.dumps(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": SURROGATES * 5500}}
        ).encode(),
        "100 KB of random bytes": bytes(rng.randrange(256) for _ in range(100_000)),
        "100 KB of random YAML punctuation": "".join(
            rng.choice("[]{}-:? \n\"'&*!|>#a0\t,") for _ in range(100_000)
        ).encode(),
    }


def run_once(path: str, args: list[str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds) of one fresh scan process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "podsec", "scan", "--no-progress", *args, path],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    missed = False
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'input':52} {'bytes':>8} {'wall s':>7} {'CPU s':>6} {'peak MiB':>9}")
        for name, data in cases().items():
            assert len(data) <= 100_000, name
            path = os.path.join(tmp, "input.yaml")
            with open(path, "wb") as fh:
                fh.write(data)
            runs = [run_once(path, ["--format", "json"]) for _ in range(args.repeat)]
            wall, rss, cpu = min(r[0] for r in runs), min(r[1] for r in runs), min(r[2] for r in runs)
            ok = cpu < 2.0 and rss < 300  # CPU time: on a shared machine, wall time measures the neighbours
            missed |= not ok
            print(f"{name:52} {len(data):>8,} {wall:>7.2f} {cpu:>6.2f} {rss:>9.1f}{'' if ok else '  MISSED'}")
        deployments = "---\n".join(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{n}\n  namespace: shop\nspec:\n"
            "  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n"
            for n in range(390)
        )
        path = os.path.join(tmp, "deployments.yaml")
        with open(path, "w") as fh:
            fh.write(deployments)
        print(f"\n390 Deployments ({len(deployments):,} bytes), one report each, CPU seconds (best of {args.repeat}):")
        base = min(run_once(path, ["--format", "text"])[2] for _ in range(args.repeat))
        empty = os.path.join(tmp, "empty.yaml")
        open(empty, "w").close()
        startup = min(run_once(empty, [])[2] for _ in range(args.repeat))
        scan = base - startup
        print(f"  {'process start-up (empty file)':34} {startup:6.2f} s")
        print(f"  {'text (the scan itself)':34} {base:6.2f} s  scan {scan:.2f} s")
        for fmt in ("json", "sarif", "junit", "html", "policyreport"):
            wall = min(run_once(path, ["--format", fmt])[2] for _ in range(args.repeat))
            extra = wall - base
            ok = extra <= scan
            missed |= not ok
            verdict = "" if ok else "  MISSED"
            print(f"  {fmt:34} {wall:6.2f} s  report {extra:+.2f} s = {extra / scan:4.2f} x the scan{verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
