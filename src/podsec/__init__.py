"""podsec: Kubernetes pod and container security contexts, governed as code.

A regular install compiles the pure core with mypyc where a C compiler is available (setup.py);
the Python sources ship beside the compiled modules. ``PODSEC_PURE=1`` in the environment makes
podsec import those sources instead (the same behaviour, slower: for debugging and for comparing).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType

__version__ = "0.1.0"
__all__ = ["__version__", "compiled"]


class _PureSources(importlib.abc.MetaPathFinder):
    """Finds podsec's modules as Python sources, ahead of the compiled modules beside them."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("podsec.") or not path:
            return None
        leaf = fullname.rpartition(".")[2]
        for entry in path:
            source = os.path.join(entry, leaf + ".py")
            if os.path.isfile(source):
                return importlib.util.spec_from_file_location(fullname, source)
        return None  # a package (its __init__ is never compiled) or not podsec's: the usual finders


if os.environ.get("PODSEC_PURE", "").strip().lower() not in ("", "0", "false", "no"):
    sys.meta_path.insert(0, _PureSources())


def compiled() -> bool:
    """Whether the core runs compiled (mypyc) rather than from its Python sources."""
    from podsec import engine

    return not (engine.__file__ or "").endswith(".py")
