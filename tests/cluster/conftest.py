"""One real Spark standalone cluster (master + 2 workers x 1 core on 127.0.0.1)
for every test in this folder, started once and stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def cluster() -> Iterator[object]:
    """A master and two 1-core workers, started once and stopped at the end."""
    from crowdlens.spark.standalone import StandaloneCluster

    with StandaloneCluster(workers=2, cores=1, memory="2g") as c:
        yield c
