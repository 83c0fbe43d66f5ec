"""The standalone cluster helper's readiness check, against a real HTTP server."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

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
