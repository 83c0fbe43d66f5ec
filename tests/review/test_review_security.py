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


def test_photo_outside_allowed_roots_is_refused(results_dir, start_server, shared_data):
    server = start_server(results_dir)
    item = server.items[0]
    resp, body = request(server, "GET", f"/photo/{item['image_id']}")
    assert resp.status == 200 and resp.getheader("Content-Type") == "image/jpeg"
    assert body[:3] == b"\xff\xd8\xff"
    # Point a queue item at a real photo outside the results folder.
    outside = next(shared_data.joinpath("val").rglob("*.jpg"))
    item["path"] = str(outside)
    resp, body = request(server, "GET", f"/photo/{item['image_id']}")
    assert resp.status == 403 and b"--photos-root" in body


def test_request_limits_and_validation(results_dir, start_server):
    server = start_server(results_dir)
    big = json.dumps({"image_id": "img000", "action": "accept", "pad": "x" * 50_000})
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
    queued = server.items[0]["image_id"]
    for bad in (
        {"image_id": "nope", "action": "accept"},
        {"image_id": queued, "action": "delete"},
        {"image_id": queued, "action": "relabel"},
        {"image_id": queued, "action": "relabel", "label": "x" * 500},
        {"image_id": queued, "action": "relabel", "label": "a\nb"},
    ):
        resp, _ = request(server, "POST", "/api/decide", body=json.dumps(bad))
        assert resp.status == 400, bad
    assert server.store.count() == 0
    resp, body = request(
        server, "POST", "/api/decide", body=json.dumps({"image_id": queued, "action": "accept"})
    )
    assert resp.status == 200 and json.loads(body)["review"]["action"] == "accept"
    assert server.store.count() == 1


def test_inside(tmp_path):
    (tmp_path / "a").mkdir()
    f = tmp_path / "a" / "x.jpg"
    f.write_bytes(b"x")
    assert inside(f, [tmp_path / "a"]) == f.resolve()
    assert inside(tmp_path / "a" / ".." / "a" / "x.jpg", [tmp_path / "a"]) == f.resolve()
    assert inside(f, [tmp_path / "b"]) is None
    assert inside(tmp_path / "a" / "missing.jpg", [tmp_path]) is None
