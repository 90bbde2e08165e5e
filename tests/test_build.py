"""The compiled core (setup.py: mypyc) and the pure-Python package behave the same.

The tests run against whichever build is installed: the editable install of `scripts/test` is
pure Python; CI runs the suite a second time against a compiled build
(PODSEC_EXPECT_COMPILED=1, see scripts/test), where these tests also prove that the core is
really compiled and that ``PODSEC_PURE=1`` really runs the sources.
"""

from __future__ import annotations

import ast
import importlib
import os
import pathlib
import subprocess
import sys

import podsec

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXPECT_COMPILED = os.environ.get("PODSEC_EXPECT_COMPILED") == "1"


def _setup_constant(name: str) -> object:
    """A literal constant of setup.py (which cannot be imported: importing it builds)."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"setup.py has no {name}")


WEBHOOK = _setup_constant("WEBHOOK")


def _compiled_modules() -> list[str]:
    """The modules setup.py compiles (its COMPILED), as module names."""
    package = pathlib.Path(podsec.__file__).parent
    folders = ("model", "checks", "analysis/rules")
    names = [
        f"podsec.{folder.replace('/', '.')}.{p.stem}" for folder in folders for p in (package / folder).glob("*.py")
    ]
    names += ["podsec.engine", "podsec.evaluate", "podsec.findings", "podsec.exemptions", "podsec.catalog"]
    assert isinstance(WEBHOOK, tuple)
    names += [f"podsec.admission.{name}" for name in WEBHOOK]
    return sorted(n for n in names if not n.endswith("__init__"))


def test_the_build_is_the_one_asked_for() -> None:
    """Compiled, every module setup.py lists is (PODSEC_EXPECT_COMPILED=1, the second CI run);
    otherwise none is (the editable install scripts/test makes stays pure Python)."""
    assert podsec.compiled() is EXPECT_COMPILED
    for name in _compiled_modules():
        module = importlib.import_module(name)
        compiled = not (module.__file__ or "").endswith(".py")
        assert compiled is EXPECT_COMPILED, f"{name}: {module.__file__}"


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
