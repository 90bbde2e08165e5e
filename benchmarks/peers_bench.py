"""podsec beside its peers: throughput, peak memory and verdict agreement on the same input.

The peers are built from the Go module proxy by ``scripts/peer-tools`` (kube-score, kubesec,
kubeaudit, gator; kube-linter and Polaris are not served by the proxy reachable here). The
input is ``../shared/corpus`` (or PATH): every file podsec reads without an input error
(a peer such as kube-score stops at the first document it cannot parse), concatenated into
one multi-document YAML stream, once and ten times, so that every tool reads exactly the same
bytes in one process (kubesec and kubeaudit take one file per run; a directory walk would
measure process start-ups). Each tool runs on each input in interleaved rounds, fresh
processes, best wall time of the rounds; peak RSS is the tool's whole process tree, sampled.

Agreement: for every object with a pod whose (kind, namespace, name) is unique in the input,
each tool's verdict on three questions — a privileged container? a hostPath volume? may a
container run as root (runAsNonRoot not guaranteed)? — compared with podsec's. A peer without
a check for a question shows "n/a". gator runs three small Gatekeeper policies written for
this benchmark (benchmarks/peers/gator/), as a Gatekeeper user would.

    .venv/bin/python benchmarks/peers_bench.py [PATH] [--rounds N]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from scan_bench import _tree_rss_kib

from podsec import engine
from podsec.model import pod as podmodel
from podsec.model.objects import ObjectRef
from podsec.model.standards import Level, PolicyVersion
from podsec.model.workloads import KindTable
from podsec.sources.files import InputError, Located, read_objects

ROOT = pathlib.Path(__file__).resolve().parents[1]
QUESTIONS = ("privileged", "hostPath", "runAsRoot")
Key = tuple[str | None, str | None, str | None]
Verdicts = dict[Key, dict[str, bool]]


def timed(cmd: list[str], limit: float) -> tuple[float | None, int, bytes]:
    """Wall time (None: stopped at ``limit`` seconds), peak RSS of the process tree (KiB), stdout."""
    import time

    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, start_new_session=True)
        peak, wall = 0, None
        while proc.poll() is None:
            peak = max(peak, _tree_rss_kib(proc.pid))
            if time.perf_counter() - start > limit:
                os.killpg(proc.pid, 9)
                proc.wait()
                break
            time.sleep(0.01)
        else:
            wall = time.perf_counter() - start
        out.seek(0)
        return wall, peak, out.read()


def corpus_files(corpus: pathlib.Path) -> tuple[list[tuple[str, bytes]], int]:
    """(name, bytes) of every corpus file podsec reads without an input error; how many it left out."""
    kept, dropped = [], 0
    kinds = KindTable()
    for dirpath, dirs, files in os.walk(corpus):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or not name.lower().endswith((".yaml", ".yml", ".json")):
                continue
            data = (pathlib.Path(dirpath) / name).read_bytes()
            items = list(read_objects(data, name, kinds, every=True))
            if not items or any(isinstance(i, InputError) for i in items):
                dropped += 1
                continue
            kept.append(
                (str(pathlib.Path(dirpath, name).relative_to(corpus)), data if data.endswith(b"\n") else data + b"\n")
            )
    return kept, dropped


def stream(files: list[tuple[str, bytes]]) -> bytes:
    return b"---\n".join(data for _, data in files)


def refused_files(accepts: Callable[[bytes], bool], files: list[tuple[str, bytes]]) -> list[str]:
    """The files a tool refuses when they are part of its input (bisection: a few runs per bad file)."""
    if accepts(stream(files)):
        return []
    if len(files) == 1:
        return [files[0][0]]
    mid = len(files) // 2
    return refused_files(accepts, files[:mid]) + refused_files(accepts, files[mid:])


def accepts(
    cmd: Callable[[pathlib.Path], list[str]], parse: Callable[[bytes], Verdicts], workdir: pathlib.Path
) -> Callable[[bytes], bool]:
    """Whether the tool gives a readable result for an input (some stop at the first bad document)."""

    def check(data: bytes) -> bool:
        path = workdir / "probe.yaml"
        path.write_bytes(data)
        out = subprocess.run(cmd(path), capture_output=True, check=False, timeout=600)
        try:
            parse(out.stdout)
        except (ValueError, TypeError, KeyError, AttributeError):
            return False
        return out.returncode in (0, 1, 2) and bool(out.stdout.strip())

    return check


def peers() -> dict[str, str]:
    out = subprocess.run([str(ROOT / "scripts" / "peer-tools"), "build"], check=True, capture_output=True, text=True)
    return dict(line.split(" ", 1) for line in out.stdout.splitlines() if line.strip())


WORKLOAD_SCHEMAS = ("pod-v1", "podtemplate-v1", "replicationcontroller-v1", "deployment-apps-v1", "replicaset-apps-v1",
                    "statefulset-apps-v1", "daemonset-apps-v1", "job-batch-v1", "cronjob-batch-v1")  # fmt: skip


def kubesec_schemas(workdir: pathlib.Path) -> pathlib.Path:
    """kubesec validates every document against JSON schemas it downloads from GitHub, and scores
    nothing it could not validate; here it gets the Kubernetes 1.37 schemas of the pod-bearing
    kinds from the kubernetes-validate package, made standalone (kubeconform cannot follow
    that package's shared definitions file)."""
    import kubernetes_validate

    source = pathlib.Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.37.0-local-strict"
    ref = '"/api/_definitions.json#/$defs/'
    defs = json.loads((source / "_definitions.json").read_text().replace(ref, '"#/$defs/'))["$defs"]
    target = workdir / "kubesec-schemas"
    target.mkdir()
    for name in WORKLOAD_SCHEMAS:
        schema = json.loads((source / f"{name}.json").read_text().replace(ref, '"#/$defs/'))
        schema["$defs"] = defs
        (target / f"{name}.json").write_text(json.dumps(schema))
    return target


def _podsec_paths(path: pathlib.Path) -> list[str]:
    if path.name == "ten.yaml":
        return [str(path.with_name("one.yaml"))] * 10
    return [str(path)]


def commands(tools: dict[str, str], workdir: pathlib.Path) -> dict[str, Callable[[pathlib.Path], list[str]]]:
    podsec = [sys.executable, "-m", "podsec", "scan", "--format", "json", "--no-progress", "--profile", "restricted"]
    gator_policies = str(ROOT / "benchmarks" / "peers" / "gator")
    schemas = str(kubesec_schemas(workdir)) + "/{{ .ResourceKind }}{{ .KindSuffix }}.json"
    return {
        # podsec reads no file over 64 MiB (bounded memory): it gets the ten copies as ten files of
        # one copy each (the same bytes); a peer gets the one 234 MB stream.
        "podsec (1 process)": lambda f: [*podsec, "--jobs", "1", *_podsec_paths(f)],
        "podsec (default jobs)": lambda f: [*podsec, *_podsec_paths(f)],
        "kube-score": lambda f: [tools["kube-score"], "score", "-o", "json", str(f)],
        "kubesec": lambda f: [tools["kubesec"], "scan", "--schema-location", schemas, str(f)],
        "kubeaudit": lambda f: [tools["kubeaudit"], "all", "-f", str(f), "-p", "json"],
        "gator": lambda f: [tools["gator"], "test", "-f", str(f), "-f", gator_policies, "-o", "json"],
    }


def _objects(stream: pathlib.Path) -> Iterable[dict[str, Any]]:
    for item in read_objects(stream.read_bytes(), stream.name, KindTable()):
        if isinstance(item, Located):
            yield dict(item.obj)


def podsec_verdicts(stream: pathlib.Path) -> tuple[Verdicts, set[Key]]:
    """podsec's answers per object, and the keys that are unique in the input."""
    kinds = KindTable()
    baseline = engine.select(Level.BASELINE, PolicyVersion(None))
    restricted = engine.select(Level.RESTRICTED, PolicyVersion(None))
    seen: collections.Counter[Key] = collections.Counter()
    out: Verdicts = {}
    for obj in _objects(stream):
        sources = kinds.pod_sources(obj)
        if not sources or any(podmodel.validate_pod(obj, s) for s in sources):
            continue
        ref = ObjectRef.of(obj)
        key = (ref.kind, ref.namespace or "", ref.name)
        seen[key] += 1
        answers = dict.fromkeys(QUESTIONS, False)
        for src in sources:
            view = podmodel.build_pod(obj, src)
            failing = {r.check.id for r in engine.evaluate(view, baseline)}
            answers["privileged"] |= "privileged" in failing
            answers["hostPath"] |= "hostPathVolumes" in failing
            answers["runAsRoot"] |= any(r.check.id == "runAsNonRoot" for r in engine.evaluate(view, restricted))
        out[key] = answers
    return out, {k for k, n in seen.items() if n == 1}


def _key(kind: Any, namespace: Any, name: Any) -> Key:
    return (kind, namespace or "", name)


def kube_score_verdicts(output: bytes) -> Verdicts:
    out: Verdicts = {}
    for obj in json.loads(output or b"[]"):
        meta, kind = obj.get("object_meta") or {}, (obj.get("type_meta") or {}).get("kind")
        answers = out.setdefault(_key(kind, meta.get("namespace"), meta.get("name")), {})
        for check in obj.get("checks") or ():
            cid, bad = check["check"]["id"], check.get("grade") == 1 and not check.get("skipped")
            if cid == "container-security-context-privileged":
                answers["privileged"] = answers.get("privileged", False) or bad
            if cid == "container-security-context-user-group-id":  # low UID/GID or no security context
                answers["runAsRoot"] = answers.get("runAsRoot", False) or bad
    return out


def kubesec_verdicts(output: bytes) -> Verdicts:
    out: Verdicts = {}
    for report in json.loads(output or b"[]"):
        kind, _, rest = str(report.get("object", "")).partition("/")
        name, _, namespace = rest.partition(".")
        ids = {a.get("id") for a in ((report.get("scoring") or {}).get("critical") or [])}
        ids |= {a.get("id") for a in ((report.get("scoring") or {}).get("advise") or [])}
        out[_key(kind, namespace if namespace != "default" else "", name)] = {
            "privileged": "Privileged" in ids,
            "runAsRoot": "RunAsNonRoot" in ids,
        }
    return out


def kubeaudit_verdicts(output: bytes) -> Verdicts:
    out: Verdicts = {}
    for line in output.splitlines():
        try:
            f = json.loads(line)
        except ValueError:
            continue
        key = _key(f.get("ResourceKind"), f.get("ResourceNamespace"), f.get("ResourceName"))
        answers = out.setdefault(key, {"privileged": False, "hostPath": False, "runAsRoot": False})
        audit, level = str(f.get("AuditResultName", "")), f.get("level")
        if level != "error":
            continue
        answers["privileged"] |= audit.startswith("Privileged")
        answers["hostPath"] |= audit.startswith("SensitivePathsMounted")
        answers["runAsRoot"] |= audit.startswith("RunAsNonRoot") or audit.startswith("RunAsUser")
    return out


def gator_verdicts(output: bytes) -> Verdicts:
    out: Verdicts = {}
    kind_for = {
        "PodsecBenchPrivileged": "privileged",
        "PodsecBenchHostpath": "hostPath",
        "PodsecBenchRunasnonroot": "runAsRoot",
    }
    for r in json.loads(output or b"[]"):
        obj = r.get("violatingObject") or {}
        meta = obj.get("metadata") or {}
        question = kind_for.get((r.get("constraint") or {}).get("kind", ""))
        if question:
            answers = out.setdefault(_key(obj.get("kind"), meta.get("namespace"), meta.get("name")), {})
            answers[question] = True
    return out


PARSERS: dict[str, Callable[[bytes], Verdicts]] = {
    "kube-score": kube_score_verdicts,
    "kubesec": kubesec_verdicts,
    "kubeaudit": kubeaudit_verdicts,
    "gator": gator_verdicts,
}
COVERS = {
    "kube-score": ("privileged", "runAsRoot"),
    "kubesec": ("privileged", "runAsRoot"),
    "kubeaudit": QUESTIONS,
    "gator": QUESTIONS,
}


def agreement(ours: Verdicts, unique: set[Key], theirs: Verdicts, covers: tuple[str, ...]) -> dict[str, str]:
    """Per question: "agree/compared" over the unique objects podsec evaluated."""
    result = {}
    for q in QUESTIONS:
        if q not in covers:
            result[q] = "n/a"
            continue
        agree = total = 0
        for key in unique:
            ours_q = ours[key][q]
            theirs_q = theirs.get(key, {}).get(q, False)  # an object a tool reports nothing for: no finding
            total += 1
            agree += ours_q == theirs_q
        result[q] = f"{agree}/{total} ({100 * agree / total:.1f} %)" if total else "n/a"
    return result


# kubesec validates every document against its kind's JSON schema and compiles that schema anew
# for each document (about half a second each here): it runs on a sample of the input.
SAMPLED = {"kubesec": 200}
# Peers known to stop a whole run at one document they cannot parse; the others are checked once.
BISECT = ("kube-score",)


def _write(path: pathlib.Path, files: list[tuple[str, bytes]], copies: int = 1) -> pathlib.Path:
    with path.open("wb") as fh:
        for _ in range(copies):
            fh.write(stream(files) + b"---\n")
    return path


def _docs(path: pathlib.Path) -> int:
    return sum(1 for _ in read_objects(path.read_bytes(), path.name, KindTable(), every=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default=str(ROOT.parent / "shared" / "corpus"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=float, default=300, help="stop a run after this many seconds (default 300)")
    args = parser.parse_args()
    tools = peers()
    with tempfile.TemporaryDirectory(prefix="podsec-peers-") as tmp:
        workdir = pathlib.Path(tmp)
        cmds = commands(tools, workdir)
        files, dropped = corpus_files(pathlib.Path(args.path))
        refused: dict[str, list[str]] = {}
        for name, parse in PARSERS.items():
            if name in SAMPLED:
                continue
            check = accepts(cmds[name], parse, workdir)
            if name in BISECT or not check(stream(files)):
                refused[name] = refused_files(check, files)
                files = [f for f in files if f[0] not in set(refused[name])]
        one, ten = _write(workdir / "one.yaml", files), _write(workdir / "ten.yaml", files, 10)
        docs = _docs(one)
        sample_files, sample_docs = [], 0
        for f in files:
            if sample_docs >= max(SAMPLED.values()):
                break
            sample_files.append(f)
            sample_docs = _docs(_write(workdir / "sample.yaml", sample_files))
        sample = workdir / "sample.yaml"
        print(f"input: {len(files)} files of {args.path}, {docs} documents, {one.stat().st_size / 1e6:.1f} MB "
              f"(ten copies: {ten.stat().st_size / 1e6:.1f} MB); left out: {dropped} files podsec reports "
              "an input error for, and files a peer refuses whole runs over: "
              + (", ".join(f"{n} {len(r)}" for n, r in refused.items()) or "none"))  # fmt: skip
        for name, names in refused.items():
            for f in names:
                print(f"  {name} refuses {f}", file=sys.stderr)
        inputs = {name: ((("sample", sample, sample_docs),) if name in SAMPLED else
                         (("one", one, docs), ("ten", ten, 10 * docs))) for name in cmds}  # fmt: skip
        walls: dict[tuple[str, str], list[float | None]] = collections.defaultdict(list)
        peaks: dict[tuple[str, str], int] = collections.defaultdict(int)
        outputs: dict[str, bytes] = {}
        for r in range(args.rounds):
            for name, cmd in cmds.items():
                for label, path, _ in inputs[name]:
                    if label == "ten" and r > 0:
                        continue  # ten copies: one round (minutes per tool), still interleaved
                    wall, peak, out = timed(cmd(path), args.limit)
                    walls[(name, label)].append(wall)
                    peaks[(name, label)] = max(peaks[(name, label)], peak)
                    if label != "ten":
                        outputs[name] = out
            print(f"round {r + 1} done", file=sys.stderr)
        print(f"\n| tool | corpus: docs/s (best of {args.rounds}) | peak RSS | ten copies: docs/s | peak RSS |")
        print("| --- | --- | --- | --- | --- |")
        for name in cmds:
            cells = []
            for label, _, n in inputs[name]:
                finished = [w for w in walls[(name, label)] if w is not None]
                what = f" on a {n}-document sample" if label == "sample" else ""
                if finished:
                    w = min(finished)
                    speed = f"{n / w:,.0f}{what} ({w:.2f} s)"
                else:
                    speed = f"under {n / args.limit:,.0f}{what} (stopped after {args.limit:.0f} s)"
                cells += [speed, f"{peaks[(name, label)] / 1024:.0f} MiB"]
            cells += ["not run", ""] if len(cells) == 2 else []
            print(f"| {name} | " + " | ".join(cells) + " |")
        ours, unique = podsec_verdicts(one)
        sample_ours, sample_unique = podsec_verdicts(sample)
        print(f"\nagreement with podsec on {len(unique)} pod-bearing objects with a unique kind/namespace/name "
              f"({len(sample_unique)} in kubesec's sample):")  # fmt: skip
        print("| tool | privileged | hostPath | may run as root |")
        print("| --- | --- | --- | --- |")
        for name, parse in PARSERS.items():
            mine, keys = (sample_ours, sample_unique) if name in SAMPLED else (ours, unique)
            a = agreement(mine, keys, parse(outputs[name]), COVERS[name])
            print(f"| {name} | {a['privileged']} | {a['hostPath']} | {a['runAsRoot']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
