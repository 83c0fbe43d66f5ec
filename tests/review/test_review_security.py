"""Security of the review server, over real HTTP (no browser needed)."""

from __future__ import annotations

import http.client
import json
import os

from crowdlens.review.photos import inside
from crowdlens.review.server import ReviewConfig


def request(server, method, path, *, cookie=True, body=None, headers=None):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    h = dict(headers or {})
    if cookie:
        h["Cookie"] = f"{server.cookie_name}={server.token}"
    if body is not None and "Content-Type" not in h:
        h["Content-Type"] = "application/json"
    # http.client sends the path exactly as given: no client-side normalisation of "..".
    conn.request(method, path, body=body, headers=h)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def test_binds_loopback_by_default():
    assert ReviewConfig().host == "127.0.0.1"


def test_token_is_required(results_dir, start_server):
    server = start_server(results_dir)
    assert len(server.token) >= 24
    for path in ("/", "/api/queue", "/photo/img000", "/static/app.js", "/files/report.html"):
        resp, body = request(server, "GET", path, cookie=False)
        assert resp.status == 401, path
        assert b"token" in body
    resp, _ = request(server, "GET", "/api/queue?token=wrong-token-0123456789", cookie=False)
    assert resp.status == 401
    resp, _ = request(
        server,
        "GET",
        "/api/queue",
        cookie=False,
        headers={"Cookie": f"{server.cookie_name}=not-the-token"},
    )
    assert resp.status == 401
    resp, _ = request(
        server,
        "POST",
        "/api/decide",
        cookie=False,
        body=json.dumps({"image_id": "img000", "action": "accept"}),
    )
    assert resp.status == 401
    assert server.store.count() == 0


def test_token_visit_sets_cookie_and_drops_token_from_url(results_dir, start_server):
    server = start_server(results_dir)
    resp, _ = request(server, "GET", f"/?token={server.token}&x=1", cookie=False)
    assert resp.status == 303
    assert resp.getheader("Location") == "/?x=1"
    cookie = resp.getheader("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    resp, body = request(server, "GET", "/")
    assert resp.status == 200 and b"crowdlens review" in body
    assert "script-src 'self'" in resp.getheader("Content-Security-Policy")
    assert resp.getheader("X-Content-Type-Options") == "nosniff"


def test_path_traversal_is_refused(results_dir, start_server, tmp_path):
    secret = tmp_path / "secret.html"
    secret.write_text("secret")
    os.symlink(secret, results_dir / "link.html")  # a symlink out of the folder
    server = start_server(results_dir)
    for path in (
        "/files/../secret.html",
        "/files/%2e%2e/secret.html",
        "/files/..%2fsecret.html",
        "/files/redacted/../../secret.html",
        f"/files/{secret}",
        "/files//etc/passwd",
        "/files/link.html",
        "/files/review.sqlite",  # inside, but not a file the UI needs
        "/files/results.parquet/part-00000.parquet",
        "/static/../review/server.py",
    ):
        resp, body = request(server, "GET", path)
        assert resp.status in (403, 404), path
        assert b"secret" not in body
    resp, _ = request(server, "GET", "/photo/..%2F..%2Fetc%2Fpasswd")
    assert resp.status == 404


def test_only_released_copies_without_photos_root(results_dir, start_server, shared_data):
    server = start_server(results_dir)
    plain = next(r for r in server.queue.rows if not r.redacted_path)
    for variant in ("thumb", "released", "original"):
        resp, body = request(server, "GET", f"/photo/{plain.image_id}?v={variant}")
        assert resp.status == 200 and resp.getheader("Content-Type") == "image/svg+xml", variant
        assert b"\xff\xd8\xff" not in body  # never the original JPEG
    assert b"--photos-root" in body
    released = next(r for r in server.queue.rows if r.redacted_path)
    resp, body = request(server, "GET", f"/photo/{released.image_id}?v=released")
    assert resp.status == 200 and body[:3] == b"\xff\xd8\xff"
    # A released copy stored outside the results folder is not served either.
    outside = next(shared_data.joinpath("val").rglob("*.jpg"))
    released.redacted_path = str(outside)
    resp, body = request(server, "GET", f"/photo/{released.image_id}?v=thumb")
    assert resp.getheader("Content-Type") == "image/svg+xml" and b"outside" in body
    resp, _ = request(server, "GET", f"/photo/{released.image_id}?v=raw")
    assert resp.status == 400


def test_originals_only_inside_photos_root(results_dir, start_server, shared_data):
    server = start_server(results_dir, photo_roots=(str(results_dir / "photos"),))
    row = server.queue.rows[0]
    resp, body = request(server, "GET", f"/photo/{row.image_id}?v=original")
    assert resp.getheader("Content-Type") == "image/jpeg" and body[:3] == b"\xff\xd8\xff"
    other = server.queue.rows[1]
    other.path = str(next(shared_data.joinpath("val").rglob("*.jpg")))
    resp, body = request(server, "GET", f"/photo/{other.image_id}?v=original")
    assert resp.getheader("Content-Type") == "image/svg+xml" and b"--photos-root" in body


def test_request_limits_and_validation(results_dir, start_server):
    server = start_server(results_dir)
    big = json.dumps({"image_id": "img000", "action": "accept", "pad": "x" * 100_000})
    resp, _ = request(server, "POST", "/api/decide", body=big)
    assert resp.status == 413
    resp, _ = request(
        server,
        "POST",
        "/api/decide",
        body="{}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 415
    resp, _ = request(server, "POST", "/api/decide", body="not json")
    assert resp.status == 400
    queued = server.queue.rows[0].image_id
    for bad in (
        {"image_id": "nope", "action": "accept"},
        {"image_id": queued, "action": "delete"},
        {"image_id": queued, "action": "relabel"},
        {"image_id": queued, "action": "relabel", "label": "x" * 500},
        {"image_id": queued, "action": "relabel", "label": "a\nb"},
        {"ids": [queued], "action": "relabel", "label": "Pear\u202egpj.exe"},
        {"ids": [queued], "action": "relabel", "label": "Granny-Smith"},  # not a known item
        {"ids": [queued], "action": "relabel", "label": "=HYPERLINK(1)", "new_item": True},
        {"ids": [], "action": "accept"},
        {"ids": [queued] * 501, "action": "accept"},
        {"ids": "img000", "action": "accept"},
        [queued],
    ):
        resp, _ = request(server, "POST", "/api/decide", body=json.dumps(bad))
        assert resp.status == 400, bad
    assert server.store.count() == 0
    resp, body = request(
        server, "POST", "/api/decide", body=json.dumps({"image_id": queued, "action": "accept"})
    )
    assert resp.status == 200 and json.loads(body)["items"][0]["mine"]["action"] == "accept"
    assert server.store.count() == 1
    assert len(body) < 2_000  # one small answer: the decided photo only, not the queue


def test_inside(tmp_path):
    (tmp_path / "a").mkdir()
    f = tmp_path / "a" / "x.jpg"
    f.write_bytes(b"x")
    assert inside(f, [tmp_path / "a"]) == f.resolve()
    assert inside(tmp_path / "a" / ".." / "a" / "x.jpg", [tmp_path / "a"]) == f.resolve()
    assert inside(f, [tmp_path / "b"]) is None
    assert inside(tmp_path / "a" / "missing.jpg", [tmp_path]) is None


def _raw(server, data: bytes) -> tuple[int, bytes]:
    """Send raw bytes (what a broken or hostile client sends) and read the whole reply."""
    import socket

    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0
    return status, reply


def test_malformed_requests_get_a_4xx_never_a_traceback(results_dir, start_server, caplog):
    server = start_server(results_dir)
    many = "&".join(f"f{i}=1" for i in range(25))
    cookie = f"{server.cookie_name}={server.token}"
    cases = {
        "non-ASCII token": "GET /?token=t\u00f6ken-0123456789abcdef HTTP/1.1\r\nHost: x\r\n"
        "Connection: close\r\n\r\n".encode(),
        "non-ASCII cookie": f"GET /api/queue HTTP/1.1\r\nHost: x\r\nCookie: {server.cookie_name}="
        "t\u00f6k\r\nConnection: close\r\n\r\n".encode("latin-1"),
        "25 query fields, no auth": f"GET /api/queue?{many} HTTP/1.1\r\nHost: x\r\n"
        "Connection: close\r\n\r\n".encode(),
        "25 query fields": f"GET /api/queue?{many} HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n"
        "Connection: close\r\n\r\n".encode(),
        "bad percent-encoding": f"GET /photo/%ff%fe HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n"
        "Connection: close\r\n\r\n".encode(),
        "bad page number": f"GET /api/queue?offset=-1 HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n"
        "Connection: close\r\n\r\n".encode(),
        "bad sort": f"GET /api/queue?sort=__class__ HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n"
        "Connection: close\r\n\r\n".encode(),
        "bad JSON": f"POST /api/decide HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Type: "
        'application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{{"ids": ['.encode(),
        "deep JSON": f"POST /api/decide HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Type: "
        "application/json\r\nContent-Length: 20000\r\nConnection: close\r\n\r\n".encode()
        + b"[" * 20000,
        "huge body": f"POST /api/decide HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Type: "
        "application/json\r\nContent-Length: 99999999999\r\nConnection: close\r\n\r\n{}".encode(),
        "negative length": f"POST /api/decide HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n"
        "Content-Type: application/json\r\nContent-Length: -5\r\nConnection: close\r\n\r\n".encode(),
        "cross-origin POST": f"POST /api/undo HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n"
        "Origin: http://evil.example\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
        "Connection: close\r\n\r\n{}".encode(),
        "undo of nothing": f"POST /api/undo HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n"
        "Content-Type: application/json\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"
        '{"batch": 9}'.encode(),
        "PUT": f"PUT /api/decide HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n".encode(),
        "garbage request line": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    }
    with caplog.at_level("ERROR"):
        for name, data in cases.items():
            status, reply = _raw(server, data)
            assert 400 <= status < 500, (name, reply[:300])
            assert b"Traceback" not in reply, name
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert server.store.count() == 0


def test_non_loopback_bind_needs_an_explicit_flag(capsys):
    import pytest

    from crowdlens.errors import CrowdlensError

    with pytest.raises(CrowdlensError, match="allow_remote"):
        ReviewConfig(host="0.0.0.0")
    assert ReviewConfig(host="0.0.0.0", allow_remote=True).host == "0.0.0.0"
    with pytest.raises(CrowdlensError, match="token"):
        ReviewConfig(token="short")


def test_each_reviewer_signs_in_with_their_own_token(results_dir, start_server):
    server = start_server(results_dir, reviewer="ann")
    bob = server.store.add_reviewer("bob")
    resp, _ = request(server, "GET", f"/?token={bob}", cookie=False)
    assert resp.status == 303
    resp, body = request(
        server, "GET", "/api/session", cookie=False,
        headers={"Cookie": f"{server.cookie_name}={bob}"},
    )  # fmt: skip
    assert json.loads(body)["reviewer"] == "bob"
    server.store.add_reviewer("bob", replace=True)  # a new token: the old one stops working
    resp, _ = request(
        server, "GET", "/api/session", cookie=False,
        headers={"Cookie": f"{server.cookie_name}={bob}"},
    )  # fmt: skip
    assert resp.status == 401
    # Only token hashes are stored.
    assert bob.encode() not in (results_dir / "review.sqlite").read_bytes()
