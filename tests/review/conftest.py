"""Fixtures of the review tests: results folders, in-process review servers, one browser."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from results_factory import make_results

from crowdlens.review.server import ReviewConfig, ReviewServer, make_server


@pytest.fixture
def results_dir(shared_data, tmp_path) -> Path:
    return make_results(shared_data, tmp_path / "out")


@pytest.fixture
def big_results(shared_data, tmp_path) -> Path:
    """72 photos, 54 of them in the review queue (enough for a bulk decision of 50)."""
    return make_results(shared_data, tmp_path / "big", n=72)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from browser import chromium_browser

    with chromium_browser() as b:
        yield b


@pytest.fixture
def start_server() -> Iterator[Callable[..., ReviewServer]]:
    """Start review servers on free ports in background threads; stop them all at the end."""
    running: list[tuple[ReviewServer, threading.Thread]] = []

    def start(folder: Path, **cfg) -> ReviewServer:
        server = make_server(folder, ReviewConfig(port=0, **cfg))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return server

    def stop(server: ReviewServer) -> None:
        server.shutdown()
        server.server_close()

    start.stop = stop  # type: ignore[attr-defined]
    yield start
    for server, thread in running:
        if thread.is_alive():
            stop(server)
        thread.join(timeout=5)
