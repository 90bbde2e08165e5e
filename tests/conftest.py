import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("PODSEC_SHARED", ROOT.parent / "shared"))


@pytest.fixture
def corpus() -> pathlib.Path:
    path = SHARED / "corpus"
    if not path.is_dir():
        pytest.skip("../shared/corpus is not available")
    return path


# A real API server (and PSA's library) for the tests that need one: see tests/kube/fixtures.py.
from tests.kube.fixtures import kube, kube_namespace, psa_oracle  # noqa: E402, F401
