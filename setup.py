"""Builds podsec: the pure-Python package, with its core compiled by mypyc where that can be done.

Everything else about the package is in pyproject.toml; this file only decides whether the
pure core (``model``, ``checks``, the rule registries, ``engine``, ``evaluate``, ``findings``,
``exemptions``, ``catalog``: what every scan and every admission review runs), the webhook's decision around
it (``admission.envelope``, ``review``, ``handling``, ``labels``, ``cache``) and its serving path
(``admission.endpoints``, ``logs``, ``metrics``) is compiled to C extension modules by mypyc
(mypy's compiler, from the same type annotations ``mypy --strict`` checks). Compiled, a review
of a pod never seen before costs 54 % fewer instructions in process than with the pure package
(README, "Webhook performance").

Compiled when all of these hold, pure Python otherwise (the same package, the same behaviour):

* ``PODSEC_PURE`` is not set (``PODSEC_PURE=1 pip install .`` builds the pure package);
* the build is not an editable install (``pip install -e``), unless ``PODSEC_COMPILE=1``:
  compiled modules built in place would shadow the sources a developer edits;
* a C compiler and Python's headers are there (checked; without them the build says so and
  stays pure instead of failing).

``PODSEC_COMPILE=1`` turns a missing compiler into an error (CI uses it, so that a compiled
build can never silently be a pure one). At run time, ``PODSEC_PURE=1`` makes an installed
compiled package import its pure-Python sources instead (see ``podsec/__init__.py``).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from typing import Any

from setuptools import setup

ROOT = pathlib.Path(__file__).resolve().parent
PACKAGE = ROOT / "src" / "podsec"
# The pure core: what a scan and an admission review spend their time in, and the webhook's
# decision around it. Package __init__ modules stay Python. The order matters to mypy's type
# inference in the check registry's import cycle (checks/__init__ reads every check module's
# CHECK): model first, then the checks.
WEBHOOK = ("envelope", "review", "handling", "labels", "cache", "endpoints", "logs", "metrics")
COMPILED = [
    *sorted(p for p in (PACKAGE / "model").glob("*.py") if p.name != "__init__.py"),
    *sorted(p for p in (PACKAGE / "checks").glob("*.py") if p.name != "__init__.py"),
    *sorted(p for p in (PACKAGE / "analysis" / "rules").glob("*.py") if p.name != "__init__.py"),
    *(PACKAGE / name for name in ("engine.py", "evaluate.py", "findings.py", "exemptions.py", "catalog.py")),
    # The webhook's decision around the core (the request as read, the evaluation key, the
    # namespace policy, the outcome and its texts, the answer) and its serving path (the review
    # endpoints, the log line, the metrics). Not the rest of the server: compiled code checks the
    # declared types of what it gets, and uvicorn's and asyncio's objects do not always have
    # theirs (uvloop gives a list where typeshed says tuple).
    *(PACKAGE / "admission" / f"{name}.py" for name in WEBHOOK),
]


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _compiler_works() -> str | None:
    """None when a C extension can be built here, else why not."""
    include = sysconfig.get_paths()["include"]
    if not (pathlib.Path(include) / "Python.h").is_file():
        return f"no Python headers ({include}/Python.h)"
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()  # as setuptools picks it
    if shutil.which(cc[0]) is None:
        return f"no C compiler ({cc[0]})"
    with tempfile.TemporaryDirectory() as tmp:
        source = pathlib.Path(tmp) / "probe.c"
        source.write_text("#include <Python.h>\nint main(void) { return 0; }\n")
        probe = subprocess.run(
            [*cc, f"-I{include}", "-c", str(source), "-o", str(pathlib.Path(tmp) / "probe.o")],
            capture_output=True,
            text=True,
        )
    if probe.returncode != 0:
        return f"the C compiler failed: {probe.stderr.strip()[:200]}"
    return None


def _compile() -> bool:
    if _flag("PODSEC_PURE"):
        print("podsec: PODSEC_PURE is set: building the pure-Python package", file=sys.stderr)
        return False
    forced = _flag("PODSEC_COMPILE")
    if not forced and EDITABLE.intersection(sys.argv[1:]):
        print("podsec: an editable install is pure Python (PODSEC_COMPILE=1 compiles it)", file=sys.stderr)
        return False
    problem = _compiler_works()
    if problem is not None:
        if forced:
            sys.exit(f"podsec: PODSEC_COMPILE=1, but the core cannot be compiled: {problem}")
        print(f"podsec: {problem}: building the pure-Python package", file=sys.stderr)
        return False
    return True


# Only a build needs the extensions: pip also runs this file just to read the metadata (egg_info,
# dist_info), and mypyc's type check takes a while.
BUILDING = {"bdist_wheel", "build", "build_ext", "editable_wheel", "install", "develop"}
EDITABLE = {"editable_wheel", "develop"}  # pip install -e (PEP 660), setup.py develop


def _extensions() -> list[Any] | None:
    """The compiled modules, or None when mypyc's type check fails (then the build is pure, and
    says why; with PODSEC_COMPILE=1 it fails)."""
    from mypyc.build import mypycify

    os.chdir(ROOT)  # mypy reads its options ([tool.mypy], strict) from pyproject.toml here
    # The build environment has the type information the compiled modules use (pyproject.toml's
    # build requirements: orjson, PyYAML's stubs, starlette, uvicorn, prometheus-client), not that
    # of every optional dependency (regorus).
    options = ["--ignore-missing-imports", "--no-warn-unused-ignores"]
    paths = [str(p.relative_to(ROOT)) for p in COMPILED]
    try:
        return list(mypycify([*options, *paths], opt_level="3", debug_level="0"))
    except SystemExit as exc:  # mypyc exits on type errors (printed above)
        if _flag("PODSEC_COMPILE"):
            raise
        print(f"podsec: mypyc could not compile the core ({exc}): building the pure-Python package", file=sys.stderr)
        return None


extensions = _extensions() if BUILDING.intersection(sys.argv[1:]) and _compile() else None
if extensions is not None:
    setup(ext_modules=extensions)
else:
    setup()
