"""The compiled core (setup.py: mypyc) and the pure-Python package behave the same.

The tests run against whichever build is installed: the editable install of `scripts/test` is
pure Python; CI runs the suite a second time against a compiled build
(PODSEC_EXPECT_COMPILED=1, see scripts/test), where these tests also prove that the core is
really compiled and that ``PODSEC_PURE=1`` really runs the sources.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import subprocess
import sys

import pytest

import podsec

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXPECT_COMPILED = os.environ.get("PODSEC_EXPECT_COMPILED") == "1"


def _compiled_modules() -> list[str]:
    """The modules setup.py compiles (its COMPILED), as module names."""
    package = pathlib.Path(podsec.__file__).parent
    folders = ("model", "checks", "analysis/rules")
    names = [
        f"podsec.{folder.replace('/', '.')}.{p.stem}" for folder in folders for p in (package / folder).glob("*.py")
    ]
    names += ["podsec.engine", "podsec.evaluate", "podsec.findings", "podsec.exemptions", "podsec.catalog"]
    names += [f"podsec.admission.{name}" for name in ("envelope", "review", "handling", "labels", "cache")]
    return sorted(n for n in names if not n.endswith("__init__"))


@pytest.mark.skipif(not EXPECT_COMPILED, reason="the pure-Python build is installed (PODSEC_EXPECT_COMPILED unset)")
def test_the_core_is_compiled() -> None:
    assert podsec.compiled()
    for name in _compiled_modules():
        module = importlib.import_module(name)
        assert not (module.__file__ or "").endswith(".py"), f"{name} is not compiled: {module.__file__}"


def _run(*args: str, pure: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PODSEC_PURE": "1" if pure else ""}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_podsec_pure_runs_the_sources() -> None:
    code = "import podsec, podsec.engine, podsec.model.pod as p; print(podsec.compiled(), p.__file__)"
    out = _run("-c", code, pure=True)
    assert out.returncode == 0, out.stderr
    compiled, path = out.stdout.split()
    assert compiled == "False" and path.endswith(".py")


def test_compiled_and_pure_give_the_same_answers() -> None:
    """A scan of every example, in every output format's source of truth (JSON), is byte for byte
    the same whichever build runs it (in pure-Python CI runs both are pure: still a valid run)."""
    args = ("-m", "podsec", "scan", "--format", "json", "--profile", "hardened", "examples/")
    pure, default = _run(*args, pure=True), _run(*args, pure=False)
    assert pure.returncode == default.returncode and pure.returncode in (0, 1), pure.stderr
    assert pure.stdout == default.stdout
    assert pure.stdout.startswith("{")
