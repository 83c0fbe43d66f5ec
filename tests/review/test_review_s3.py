"""``crowdlens review`` and ``review export`` on results in an object store (``s3://``).

The S3 server is the session's moto server (127.0.0.1, in-process; the ``s3``
fixture of tests/conftest.py); AWS itself cannot be reached from the test
machine. The review server runs as the real CLI in its own process.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from results_factory import make_results

pytestmark = pytest.mark.timeout(300)


def _upload(client, folder: Path, prefix: str) -> None:
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.suffix in (".parquet", ".jpg"):
            key = f"{prefix}/{f.relative_to(folder).as_posix()}"
            if not key.startswith(f"{prefix}/photos/"):  # the originals stay on the phone side
                client.upload_file(str(f), "survey", key)


def _get(port, path, cookie, method="GET", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": cookie}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def test_review_and_export_on_s3_results(s3, shared_data, tmp_path, monkeypatch):
    client, env = s3
    local = make_results(shared_data, tmp_path / "run")
    _upload(client, local, "runs/r2")
    url = "s3://survey/runs/r2"
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "crowdlens", "review", url, "--port", "0", "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    killer = threading.Timer(120, proc.kill)  # never hang the suite
    killer.start()
    try:
        lines = []
        while not any(line.startswith("open http://") for line in lines):
            line = proc.stdout.readline()
            assert line, f"review server ended: {''.join(lines)} {proc.stderr.read()}"
            lines.append(line)
        opened = next(line for line in lines if line.startswith("open http://"))
        port = int(opened.split(":")[2].split("/")[0])
        token = opened.split("token=")[1].split()[0]
        cookie = f"crowdlens_review_{port}={token}"
        resp, body = _get(port, "/api/queue", cookie)
        assert resp.status == 200, body
        items = json.loads(body)["items"]
        assert len(items) == json.loads(body)["counts"]["todo"] >= 5
        session = json.loads(_get(port, "/api/session", cookie)[1])
        target = items[0]["image_id"]
        label = session["labels"][0]
        resp, body = _get(
            port, "/api/decide", cookie, "POST",
            json.dumps({"ids": [target], "action": "relabel", "label": label}),
        )  # fmt: skip
        assert resp.status == 200, body
        # The released copy is read from the bucket; the others get a placeholder.
        pii = next(i for i in items if "personal information" in i["reasons"])
        resp, body = _get(port, f"/photo/{pii['image_id']}?v=thumb", cookie)
        assert resp.getheader("Content-Type") == "image/jpeg" and body[:3] == b"\xff\xd8\xff"
        plain = next(i for i in items if "personal information" not in i["reasons"])
        resp, body = _get(port, f"/photo/{plain['image_id']}?v=thumb", cookie)
        assert resp.getheader("Content-Type") == "image/svg+xml"
    finally:
        killer.cancel()
        proc.terminate()
        proc.wait(timeout=30)
    assert (state / "review.sqlite").is_file()

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    from crowdlens.cli import main

    assert main(["review", "export", url, "--state", str(state)]) == 0
    import pandas as pd

    final = pd.read_parquet(state / "final.parquet").set_index("image_id")
    assert len(final) == 13
    assert final.loc[target, "final_label"] == label
    assert final.loc[target, "review_action"] == "relabel"
    assert (state / "train_manifest.csv").is_file() and (state / "review_audit.csv").is_file()
    # The bucket holds the results only: nothing was written next to them.
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="survey", Prefix="runs/r2")["Contents"]]
    assert not [k for k in keys if "review" in k or "final" in k]
