"""The parallel scan fails safe: a result that cannot be unpickled, or a worker that is killed,
is an error for its file, never a hang (multiprocessing.Pool's would be: python/cpython#79492,
#103061), and every other file's result still comes, in order.

Each case runs in a subprocess with a deadline, so that a hang fails the test instead of the suite.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
from typing import Any

import pytest

from podsec import scan
from podsec.evaluate import Context
from podsec.findings import FileResult, InputError
from podsec.sources.files import Target

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEADLINE = 120  # seconds; a healthy run takes about one

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: x\n"


class Unloadable:
    """Pickles, but cannot be unpickled (as mypyc's frozen dataclasses could not)."""

    def __init__(self) -> None:
        self.state = 1

    def __setstate__(self, state: Any) -> None:
        raise ValueError("this object cannot be unpickled")


def _names(target: Target) -> str:
    return os.path.basename(target.name)


def unloadable(target: Target, ctx: Context) -> Any:
    return Unloadable() if _names(target) == "bad" else ("ok", _names(target), os.getpid())


def killer(target: Target, ctx: Context) -> Any:
    if _names(target) == "bad":
        os.kill(os.getpid(), signal.SIGKILL)
    return ("ok", _names(target), os.getpid())


def raiser(target: Target, ctx: Context) -> Any:
    if _names(target) == "bad":
        raise ZeroDivisionError("simulated bug")
    if _names(target) == "unpicklable":
        return lambda: None
    return ("ok", _names(target), os.getpid())


def failed(target: Target, error: InputError) -> Any:
    return ("failed", _names(target), str(error))


def main(kind: str, names: list[str]) -> None:
    """In the subprocess: run_each over ``names`` with the ``kind`` of work, on two workers."""
    from tests.helpers import context

    work = {"unloadable": unloadable, "killer": killer, "raiser": raiser}[kind]
    targets = [_target(n) for n in names]
    results = list(scan.run_each(targets, context("baseline"), work, failed=failed, jobs=2))
    print(json.dumps({"parent": os.getpid(), "results": results}))


def _target(name: str) -> Target:
    if name == "-":
        return Target(None, name)
    path = f"/nonexistent/{name}"
    if name == "unsendable":  # cannot be pickled to be handed to a worker
        return Target(path, path, relocate=lambda obj, result: result)
    return Target(path, path)


def run_each_in_a_subprocess(kind: str, names: list[str]) -> tuple[int, list[list[Any]]]:
    code = f"from tests.test_scan_pool import main; main({kind!r}, {names!r})"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE, check=False
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    return out["parent"], out["results"]


def names_around(*odd: str, count: int = 100) -> list[str]:
    """``count`` files, more than a worker's chunk, the ``odd`` ones among them and standard input ("-")."""
    names = [f"f{i:03}" for i in range(count)]
    names[37:37] = list(odd)
    names.insert(60, "-")
    return names


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("unloadable", "internal error while passing this file's result back from its worker process: ValueError"),
        ("killer", "the worker process reading this file died (it was killed by SIGKILL; out of memory?)"),
    ],
)
def test_a_fault_in_a_worker_is_an_error_for_its_file_and_the_rest_goes_on(kind: str, message: str) -> None:
    names = names_around("bad")
    parent, results = run_each_in_a_subprocess(kind, names)
    assert [r[1] for r in results] == names  # every file, in order
    [bad] = [r for r in results if r[1] == "bad"]
    assert bad[0] == "failed" and bad[2].startswith("/nonexistent/bad: ") and message in bad[2]
    others = [r for r in results if r[1] != "bad"]
    assert all(r[0] == "ok" for r in others)
    assert [r[2] for r in others if r[1] == "-"] == [parent]  # standard input: read in this process
    assert parent not in [r[2] for r in others if r[1] != "-"]  # files: in workers


def test_two_killers_in_one_run() -> None:
    names = names_around("bad", count=40)
    names[5:5] = ["bad"]  # killed in the first chunk and again in a later one
    _, results = run_each_in_a_subprocess("killer", names)
    assert [r[1] for r in results] == names
    assert [r[0] for r in results if r[1] == "bad"] == ["failed", "failed"]
    assert all(r[0] == "ok" for r in results if r[1] != "bad")


def test_a_bug_or_an_unpicklable_result_in_a_worker_is_an_error_for_its_file() -> None:
    names = names_around("bad", "unpicklable", "unsendable", count=40)
    parent, results = run_each_in_a_subprocess("raiser", names)
    assert [r[1] for r in results] == names
    [unsendable] = [r for r in results if r[1] == "unsendable"]
    assert unsendable[0] == "ok" and unsendable[2] != parent  # read alone, in a process of its own
    errors = {r[1]: r[2] for r in results if r[0] == "failed"}
    assert errors.keys() == {"bad", "unpicklable"}
    assert "internal error while reading this file: ZeroDivisionError: simulated bug" in errors["bad"]
    assert "internal error while reading this file:" in errors["unpicklable"]
    assert "pickle" in errors["unpicklable"].lower()


def test_a_bug_in_serial_work_is_an_error_for_its_file() -> None:
    from tests.helpers import context

    targets = [Target(f"/nonexistent/{n}", f"/nonexistent/{n}") for n in ("a", "bad", "c")]
    results = list(scan.run_each(targets, context("baseline"), raiser, failed=failed, jobs=1))
    assert [r[:2] for r in results] == [("ok", "a"), ("failed", "bad"), ("ok", "c")]
    assert "ZeroDivisionError: simulated bug" in results[1][2]


CLI = """
import sys
from podsec import cli, scan
from tests.test_scan_pool import killer_scan
scan.scan_target = killer_scan
sys.exit(cli.main(sys.argv[1:]))
"""


def killer_scan(target: Target, ctx: Context) -> FileResult:
    if _names(target) == "bad.yaml":
        os.kill(os.getpid(), signal.SIGKILL)
    from podsec.pipeline import scan_target

    return scan_target(target, ctx)


def test_the_command_line_reports_a_killed_worker_as_an_error_with_exit_code_2(tmp_path: pathlib.Path) -> None:
    names = [f"p{i:02}.yaml" for i in range(40)]
    names[17:17] = ["bad.yaml"]
    for name in names:
        (tmp_path / name).write_text(POD.format(name=name.removesuffix(".yaml").replace(".", "-")))
    argv = ["scan", "--format", "json", "--profile", "restricted", "--jobs", "2", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-c", CLI, *argv], cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE, check=False
    )
    assert done.returncode == 2, done.stderr
    doc = json.loads(done.stdout)
    [error] = doc["errors"]
    assert error["file"] == str(tmp_path / "bad.yaml") and "killed by SIGKILL" in error["message"]
    files = [f["file"] for f in doc["findings"]]
    good = [str(tmp_path / n) for n in names if n != "bad.yaml"]
    assert sorted(set(files), key=files.index) == good  # every other file's findings, in order
    assert doc["summary"]["files"] == len(names)


def killer_fix(target: Target, ctx: Context, **options: Any) -> Any:
    if _names(target) == "bad.yaml":
        os.kill(os.getpid(), signal.SIGKILL)
    from podsec.fixer.files import fix_target

    return fix_target(target, ctx, options["options"], unsafe=options["unsafe"])


FIX = """
import sys
from podsec import cli, scan
from podsec.fixer import command
from tests.test_scan_pool import killer_fix
scan.PARALLEL_MIN_BYTES = 1  # `podsec fix` has no --jobs: these few bytes make it use two worker processes
scan.usable_cores = lambda: 2
command._fix_one = killer_fix
sys.exit(cli.main(sys.argv[1:]))
"""


def test_podsec_fix_reports_a_killed_worker_as_an_error_and_fixes_the_rest(tmp_path: pathlib.Path) -> None:
    names = [f"p{i:02}.yaml" for i in range(20)]
    names[9:9] = ["bad.yaml"]
    for name in names:
        (tmp_path / name).write_text(POD.format(name=name.removesuffix(".yaml").replace(".", "-")))
    done = subprocess.run(
        [sys.executable, "-c", FIX, "fix", "--write", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    bad = tmp_path / "bad.yaml"
    assert f"podsec: error: {bad}: the worker process reading this file died (it was killed by SIGKILL" in done.stderr
    assert bad.read_text() == POD.format(name="bad")  # untouched
    fixed = [n for n in names if (tmp_path / n).read_text() != POD.format(name=n.removesuffix(".yaml"))]
    assert fixed == [n for n in names if n != "bad.yaml"]


def test_without_failed_a_target_that_fails_is_a_file_result_with_the_error() -> None:
    from tests.helpers import context

    targets = [Target(f"/nonexistent/{n}", f"/nonexistent/{n}") for n in ("a", "bad", "c")]
    results = list(scan.run_each(targets, context("baseline"), raiser, jobs=1))
    assert [type(r) for r in results] == [tuple, FileResult, tuple]
    [error] = results[1].errors
    assert error.file == "/nonexistent/bad" and "ZeroDivisionError: simulated bug" in error.message
