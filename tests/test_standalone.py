"""The standalone cluster helper: its readiness check, and a start that fails."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from crowdlens.spark.standalone import StandaloneCluster


@contextmanager
def master_page(body: bytes) -> Iterator[int]:
    """An HTTP server on 127.0.0.1 answering every GET with ``body``; yields its port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_master_still_starting_has_no_alive_workers_yet():
    cluster = StandaloneCluster(workers=1)
    for body in (b"", b"<html>starting", b'{"workers": [{"state": "ALI'):
        with master_page(body) as port:
            cluster.ui_port = port
            assert cluster.alive_workers() == 0, body
    state = b'{"workers": [{"state": "ALIVE"}, {"state": "DEAD"}, {"state": "ALIVE"}]}'
    with master_page(state) as port:
        cluster.ui_port = port
        assert cluster.alive_workers() == 2


class Boom(Exception):
    pass


@pytest.mark.cluster
def test_a_start_that_fails_stops_the_master_and_workers_it_spawned(monkeypatch):
    """A real master and worker are spawned; then the readiness check fails."""
    cluster = StandaloneCluster(workers=1)
    spawned = []
    spawn = cluster._spawn

    def recording_spawn(*args, **kwargs):
        spawned.append(spawn(*args, **kwargs))
        return spawned[-1]

    def broken() -> int:
        raise Boom("the readiness check failed")

    monkeypatch.setattr(cluster, "_spawn", recording_spawn)
    monkeypatch.setattr(cluster, "alive_workers", broken)
    try:
        with pytest.raises(Boom):
            cluster.start()
        assert len(spawned) == 2
        assert all(proc.poll() is not None for proc in spawned), "no JVM may be left running"
    finally:
        cluster.stop()
