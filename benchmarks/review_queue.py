"""Review server at scale: time and bytes per request over 100,000 queued photos.

Writes a synthetic results table (every row in the review queue, with the
columns a real run has: labels, top-5, reasons, country, contributor, text
regions on one photo in ten), starts the real review server in-process and
measures over real HTTP (keep-alive, like a browser):

    first page          GET /api/queue (60 photos, most uncertain first)
    filtered page       reason + country + item search
    sorted deep page    sort by item, offset 50,000
    photo details       GET /api/item/ID
    one decision        POST /api/decide (1 photo)
    bulk decision       POST /api/decide (50 photos)
    undo                POST /api/undo

each first with no decisions stored, then again with a fifth of the queue
decided by another reviewer (20,000 decisions at 100,000 rows). Budget: every page and decision under
100 KB. For scale, the bytes of the whole queue as one JSON answer (what the
old UI downloaded on every keypress) are printed too.

    .venv/bin/python benchmarks/review_queue.py               # 100,000 rows
    .venv/bin/python benchmarks/review_queue.py --rows 10000  # quicker
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from crowdlens import schema as S  # noqa: E402

LABELS = [f"Item-{i:03d}" for i in range(120)]
COUNTRIES = ["Kenya", "Peru", "Viet Nam", "Mexico", "India", "Ghana"]
REASONS = [
    "label mismatch: claimed 'A', looks like 'B' (p=0.0004)",
    "label suspect: claimed 'A' has p=0.0011",
    "quality: blurry",
    "personal information: PHONE_NUMBER (no redacted copy)",
]
BUDGET = 100_000


def write_results(folder: Path, n: int, seed: int = 0) -> Path:
    """A results table of ``n`` synthetic photos, all waiting for review."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label, pred = rng.choice(LABELS), rng.choice(LABELS)
        top = sorted(rng.sample(LABELS, 5), key=lambda _: rng.random())
        regions = []
        if i % 10 == 0:
            box = [[10.0, 10.0], [200.0, 10.0], [200.0, 40.0], [10.0, 40.0]]
            regions = [{"polygon": box, "text": "call 0712 345 678", "confidence": 0.9,
                        "pii_types": ["PHONE_NUMBER"]}]  # fmt: skip
        rows.append(
            {
                S.IMAGE_ID: f"{i:08x}{rng.getrandbits(32):08x}",
                S.PATH: f"/data/photos/{label}/{i:07d}.jpg",
                S.LABEL: label,
                S.COUNTRY: rng.choice(COUNTRIES),
                S.CONTRIBUTOR: f"contributor-{rng.randrange(5000):04d}",
                S.STATUS: "ok",
                S.WIDTH: 3024,
                S.HEIGHT: 4032,
                S.SHARPNESS: rng.uniform(5, 300),
                S.PRED_LABEL: pred,
                S.PRED_SCORE: rng.random(),
                S.TOPK: [{"label": t, "score": rng.random() / 2} for t in top],
                S.LABEL_PROB: rng.random() ** 3,
                S.LABEL_VERDICT: rng.choice(["mismatch", "suspect"]),
                S.TEXT_REGIONS: regions,
                S.REDACTED_PATH: None,
                S.DECISION: "review",
                S.REASONS: rng.sample(REASONS, rng.randint(1, 2)),
            }
        )
    target = folder / "results.parquet"
    target.mkdir(parents=True)
    for part in range(0, n, 25_000):
        table = pa.Table.from_pylist(rows[part : part + 25_000])
        pq.write_table(table, target / f"part-{part // 25_000:05d}.parquet")
    return folder


class Client:
    """One keep-alive connection with the reviewer's cookie, like a browser tab."""

    def __init__(self, server) -> None:
        host, port = server.server_address[:2]
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.cookie = f"{server.cookie_name}={server.token}"

    def call(self, path: str, body: object = None) -> tuple[float, int, object]:
        headers = {"Cookie": self.cookie}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        self.conn.request("POST" if body is not None else "GET", path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        dt = time.perf_counter() - t0
        if resp.status != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status} {raw[:200]!r}")
        return dt, len(raw), json.loads(raw)


def measure(client: Client, ids: list[str], reps: int) -> list[tuple[str, float, int]]:
    # ids[:100] for details, ids[100:100+reps] single decisions, ids[1000:] bulk ones.
    """(name, median ms, bytes) per request kind."""
    out = []

    def run(name, make):
        times, sizes = [], []
        for r in range(reps):
            path, body = make(r)
            dt, size, _ = client.call(path, body)
            times.append(dt * 1000)
            sizes.append(size)
        out.append((name, statistics.median(times), max(sizes)))

    run("first page (60)", lambda r: ("/api/queue", None))
    run("filtered page", lambda r: ("/api/queue?reason=quality&country=Peru&item=item-01", None))
    run("sorted deep page", lambda r: (f"/api/queue?sort=label&offset={len(ids) // 2}", None))
    run("photo details", lambda r: (f"/api/item/{ids[r]}", None))
    run("one decision", lambda r: ("/api/decide", {"ids": [ids[100 + r]], "action": "accept"}))
    batches = []

    def bulk(r):
        return "/api/decide", {"ids": ids[1000 + 50 * r : 1050 + 50 * r], "action": "reject"}

    times, sizes = [], []
    for r in range(reps):
        path, body = bulk(r)
        dt, size, data = client.call(path, body)
        batches.append(data["batch"])
        times.append(dt * 1000)
        sizes.append(size)
    out.append(("bulk decision (50)", statistics.median(times), max(sizes)))
    run("undo (50)", lambda r: ("/api/undo", {"batch": batches[r]}))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--work", default="/tmp/crowdlens-bench-review")
    args = ap.parse_args()

    from crowdlens.review.queue import row_json
    from crowdlens.review.server import ReviewConfig, make_server

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    t0 = time.perf_counter()
    write_results(work / "run", args.rows)
    print(f"wrote {args.rows:,} synthetic rows in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    server = make_server(work / "run", ReviewConfig(port=0))
    print(f"server ready (queue loaded) in {time.perf_counter() - t0:.2f} s")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = Client(server)
    ids = [r.image_id for r in server.queue.ordered("uncertainty", True)]
    whole = len(json.dumps([row_json(r, {}, "pending", "x") for r in server.queue.rows]))
    print(f"the whole queue as one JSON answer: {whole / 1e6:.1f} MB (light rows only)")

    results = {"no decisions": measure(client, ids, args.reps)}
    t0 = time.perf_counter()
    fifth = len(ids) // 5  # a day of work: a fifth of the queue decided by another reviewer
    for start in range(fifth, 2 * fifth, 500):
        server.store.record(
            [(i, "accept", None) for i in ids[start : min(start + 500, 2 * fifth)]], "bo"
        )
    print(f"stored {fifth:,} more decisions in {time.perf_counter() - t0:.1f} s")
    results[f"{fifth:,} decided"] = measure(client, ids[2 * fifth :], args.reps)

    ok = True
    print(f"\n| request ({args.rows:,} rows) | state | median ms | bytes |")
    print("|---|---|---|---|")
    for state, rows in results.items():
        for name, ms, size in rows:
            ok &= size < BUDGET
            print(f"| {name} | {state} | {ms:.1f} | {size:,} |")
    print(f"\nevery page and decision under {BUDGET:,} bytes: {'yes' if ok else 'NO'}")
    server.shutdown()
    server.server_close()
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
