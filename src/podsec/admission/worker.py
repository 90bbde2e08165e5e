"""A review worker process: ``python -m podsec.admission.worker [--config FILE]``.

Started by the server's pool (`podsec.admission.pool`), one review at a time, over its
standard input and output. Frames are ``<header length><body length>`` (4 bytes each, big
endian), a JSON header, then raw bytes:

    server -> worker   job    {"t": "job", "id", "endpoint", "today", ["known", "labels"]} + request body
                       labels {"t": "labels", "id", "known", "labels"}   (answers a "head")
    worker -> server   ready  {"t": "ready"}                             (once, when loaded)
                       head   {"t": "head", "id", "uid", "namespace", "enforcing"}
                       bad    {"t": "bad", "id", "status", "reason"}
                       done   {"t": "done", "id", "log", "labels", "rss"} + response body
                       error  {"t": "error", "id", "reason"}             (an internal error)

A job without labels is parsed first and announced with ``head`` (the server then knows its
uid, for an answer in time if the review runs late, and looks the namespace up); a job with
labels (parsed by the server already) is answered at once. The worker runs at a slightly lower CPU
priority than the server, so reviews answered on the server's event loop stay fast while
workers are busy.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import resource
import struct
import sys
from datetime import date
from typing import IO, Any

import orjson

_HEAD = struct.Struct(">II")


def write_frame(out: IO[bytes], header: dict[str, Any], body: bytes = b"") -> None:
    data = orjson.dumps(header)
    out.write(_HEAD.pack(len(data), len(body)) + data + body)
    out.flush()


def read_frame(inp: IO[bytes]) -> tuple[dict[str, Any], bytes] | None:
    head = inp.read(_HEAD.size)
    if len(head) < _HEAD.size:
        return None
    hlen, blen = _HEAD.unpack(head)
    header = orjson.loads(inp.read(hlen))
    body = inp.read(blen) if blen else b""
    return header, body


def rss() -> int:
    """This process's resident memory in bytes (Linux), or 0."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def serve(config_path: str | None, inp: IO[bytes], out: IO[bytes]) -> None:
    from podsec.admission import handling
    from podsec.admission.review import Reviewer
    from podsec.admission.settings import settings
    from podsec.config import load

    config = load(config_path)
    reviewer = Reviewer(settings(config.webhook, config).review)
    # The cyclic garbage collector would run hundreds of times during one review of a pod with
    # 100,000 containers (every container's objects are tracked), doubling its cost: collect
    # once after each review instead, with what was loaded at start-up frozen out of the way.
    gc.freeze()
    gc.disable()
    write_frame(out, {"t": "ready"})
    while True:
        frame = read_frame(inp)
        if frame is None:
            return
        job, raw = frame
        del frame  # the body is freed once parsed
        if job.get("t") != "job":
            continue
        jid = job["id"]
        try:
            request = (handling.read_large if len(raw) > handling.LARGE else handling.read)(raw)
            del raw
            known, labels = job.get("known"), job.get("labels")
            if known is None:
                may_deny = handling.enforcing(request, reviewer)
                write_frame(out, {"t": "head", "id": jid, "uid": request.uid,
                                  "namespace": request.namespace or "", "enforcing": may_deny})  # fmt: skip
                reply = read_frame(inp)
                if reply is None:
                    return
                known, labels = reply[0].get("known", False), reply[0].get("labels")
            result = handling.answer(
                request, job["endpoint"], reviewer, labels, bool(known), date.fromisoformat(job["today"])
            )
        except handling.Refusal as exc:
            write_frame(out, {"t": "bad", "id": jid, "status": exc.status, "reason": exc.reason})
            gc.collect()
            continue
        except Exception as exc:  # a bug or no memory, not the client's doing: the server answers by the failure mode
            write_frame(out, {"t": "error", "id": jid, "reason": repr(exc)[:512]})
            gc.collect()
            continue
        write_frame(
            out, {"t": "done", "id": jid, "log": result.log, "labels": result.labels, "rss": rss()}, result.body
        )
        del request, result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="podsec-worker")
    ap.add_argument("--config")
    ap.add_argument("--nice", type=int, default=5)
    ap.add_argument("--memory-bytes", type=int, default=0, help="cap on the heap (RLIMIT_DATA); 0: none")
    args = ap.parse_args(argv)
    if args.memory_bytes:
        # Bounded by construction: a review that would need more memory fails with MemoryError
        # (answered "error", so the server gives the failure mode's answer) instead of growing
        # the pod into its memory limit.
        resource.setrlimit(resource.RLIMIT_DATA, (args.memory_bytes, args.memory_bytes))
    if args.nice:
        with contextlib.suppress(OSError):
            os.nice(args.nice)
    serve(args.config, sys.stdin.buffer, sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
