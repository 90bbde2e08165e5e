from __future__ import annotations

import pytest

from tests.conftest import SHARED
from tests.kube import corpus


@pytest.fixture(scope="session")
def corpus_objects() -> tuple[list[corpus.CorpusPod], list[corpus.CorpusWorkload]]:
    """The unique pods and the built-in workload objects of ../shared/corpus (read once per run)."""
    path = SHARED / "corpus"
    if not path.is_dir():
        pytest.skip("../shared/corpus is not available")
    pods, workloads, _ = corpus.collect(path)
    assert len(pods) > 1000 and len(workloads) > 1000  # the corpus is there, and read
    return pods, workloads
