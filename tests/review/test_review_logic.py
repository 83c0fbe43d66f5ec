"""The review server's pure parts, without HTTP or a browser: queue pages, reviewer
state, conflicts, double review and kappa, CSV neutralisation, the decision log."""

from __future__ import annotations

import doctest
import json

import pytest

from crowdlens.review import agreement, csvsafe, location, photos, queue, server
from crowdlens.review.agreement import cohen_kappa, photo_state
from crowdlens.review.queue import PageQuery, Queue, Row
from crowdlens.review.store import DecisionStore


@pytest.mark.parametrize("module", [agreement, csvsafe, photos, queue, server, location])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def _queue(n=300) -> Queue:
    rows = [
        Row(
            image_id=f"p{i:04d}",
            path=None,
            label=["Apple", "Pear", "Lime"][i % 3],
            pred_label="Pear",
            score=(i % 100) / 100,
            uncertainty=round((i * 37 % 100) / 100, 2),
            verdict=["mismatch", "suspect"][i % 2],
            reasons=("label mismatch",) if i % 2 == 0 else ("label suspect", "quality"),
            country=["Kenya", "Peru"][i % 2],
            contributor=f"c{i % 7}",
            redacted_path=None,
            double=i % 10 == 0,
        )
        for i in range(n)
    ]
    return Queue("unused", rows, ["Apple", "Lime", "Pear"])


def test_pages_are_filtered_sorted_and_counted_on_the_server():
    q = _queue()
    page = q.page(PageQuery(limit=50), {}, "ann")
    assert page["matched"] == 300 and len(page["items"]) == 50
    u = [it["uncertainty"] for it in page["items"]]
    assert u == sorted(u, reverse=True)
    nxt = q.page(PageQuery(limit=50, offset=50), {}, "ann")
    assert not {i["image_id"] for i in page["items"]} & {i["image_id"] for i in nxt["items"]}
    assert nxt["items"][0]["uncertainty"] <= u[-1]
    f = q.page(PageQuery(reason="quality", country="peru", item="lim"), {}, "ann")
    want = {r.image_id for r in q.rows if "quality" in r.reasons and r.country == "Peru"}
    assert {i["image_id"] for i in f["items"]} <= want and f["matched"] == 50
    by_label = q.page(PageQuery(sort="label", descending=False, limit=200), {}, "ann")
    labels = [it["label"] for it in by_label["items"]]
    assert labels == sorted(labels)
    assert len(json.dumps(page).encode()) < 100_000


def test_store_keeps_each_reviewer_and_shows_conflicts(tmp_path):
    store = DecisionStore(tmp_path / "review.sqlite")
    b1, _ = store.record([("p0001", "accept", None), ("p0002", "accept", None)], "ann")
    store.record([("p0001", "reject", None)], "bob")
    live = store.current()
    assert photo_state(live["p0001"]) == "conflict" and photo_state(live["p0002"]) == "decided"
    q = _queue()
    page = q.page(PageQuery(show="conflict"), live, "ann")
    assert [i["image_id"] for i in page["items"]] == ["p0001"]
    assert page["items"][0]["others"][0]["reviewer"] == "bob"
    assert page["counts"]["conflict"] == 1 and page["counts"]["decided"] == 1
    # Double-review photos wait for a second reviewer; the first one no longer sees them.
    store.record([("p0010", "accept", None)], "ann")
    live = store.current()
    assert photo_state(live["p0010"], double=True) == "second"
    ann_todo = {i["image_id"] for i in q.page(PageQuery(limit=200), live, "ann")["items"]}
    bob_todo = {i["image_id"] for i in q.page(PageQuery(limit=200), live, "bob")["items"]}
    assert "p0010" not in ann_todo and "p0010" in bob_todo
    # Undo restores ann's values from before the batch; the log keeps everything.
    store.undo(b1, "ann")
    assert set(store.of("p0001")) == {"bob"} and store.of("p0002") == {}
    assert store.count() == 6
    # A second process sees the same state (the memory state reloads on change).
    other = DecisionStore(tmp_path / "review.sqlite")
    other.record([("p0002", "relabel", "Lime")], "cy")
    assert store.of("p0002")["cy"].label == "Lime"
    store.close()
    other.close()


def test_kappa():
    assert cohen_kappa([("a", "a"), ("r", "r")] * 5) == 1.0
    assert cohen_kappa([("a", "r"), ("r", "a")] * 5) == -1.0
    assert cohen_kappa([("a", "a")] * 3) == 1.0  # one category, full agreement


def test_csv_cells_cannot_run_or_hide():
    for bad in ("=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"):
        assert not csvsafe.csv_cell(bad).startswith(csvsafe.FORMULA_START)
    assert csvsafe.csv_cell("a\u202eb\u200bc") == "a<U+202E>b<U+200B>c"
    assert csvsafe.csv_cell("Pear") == "Pear" and csvsafe.csv_cell(3) == 3
    assert csvsafe.label_problem("Pe\u200bar")


def test_pages_agree_with_a_brute_force_count(tmp_path):
    """The fast paths (early stop, counts from the decided photos only) change nothing."""
    import random

    from crowdlens.review.queue import _matcher, _shows

    rng = random.Random(1)
    q = _queue(400)
    store = DecisionStore(tmp_path / "review.sqlite")
    for who in ("ann", "bob", "cy"):
        picks = rng.sample([r.image_id for r in q.rows], 120)
        store.record([(i, rng.choice(["accept", "reject"]), None) for i in picks], who)
    live = store.current()
    for show in ("todo", "pending", "decided", "conflict", "mine", "all"):
        for filters in ({}, {"country": "Kenya"}, {"item": "pe", "reason": "quality"}):
            pq = PageQuery(show=show, limit=25, offset=10, **filters)
            got = q.page(pq, live, "ann")
            want = []
            for r in q.ordered(pq.sort, pq.descending):
                per = live.get(r.image_id) or {}
                st = photo_state(per, double=r.double)
                todo = st == "pending" or (st == "second" and "ann" not in per)
                if _matcher(pq)(r) and _shows(show, st, todo, "ann" in per):
                    want.append(r.image_id)
            assert got["matched"] == len(want), (show, filters)
            assert [i["image_id"] for i in got["items"]] == want[10:35], (show, filters)
    store.close()


def test_add_reviewer_cli(results_dir, capsys):
    from crowdlens.cli import main

    assert main(["review", "add-reviewer", str(results_dir), "alice"]) == 0
    token = capsys.readouterr().out.split("token: ")[1].split()[0]
    store = DecisionStore(results_dir / "review.sqlite")
    assert store.reviewer_for(token) == "alice" and store.reviewer_for("nope") is None
    for argv, message in (
        (["alice"], "--new-token"),
        (["<b>x</b>"], "reviewer name"),
        ([], "DIR NAME"),
    ):
        assert main(["review", "add-reviewer", str(results_dir), *argv]) == 2
        assert message in capsys.readouterr().err
    assert main(["review", "add-reviewer", str(results_dir), "alice", "--new-token"]) == 0
    assert store.reviewer_for(token) is None  # the old token stopped working
    store.close()


def test_agreement_over_double_reviewed_photos(tmp_path):
    store = DecisionStore(tmp_path / "review.sqlite")
    store.record([(f"p{i}", "accept", None) for i in range(6)], "ann")
    store.record([(f"p{i}", "accept" if i < 4 else "reject", None) for i in range(6)], "bob")
    store.record([("p9", "reject", None)], "ann")  # decided once: not counted
    got = agreement.agreement(store.current())
    assert got["photos"] == 6 and got["kappa"] == 0.0  # ann always accepts: chance agreement
    store.close()


def test_decisions_of_the_single_token_version_are_kept(tmp_path):
    import sqlite3

    db = tmp_path / "review.sqlite"
    old = sqlite3.connect(db)
    old.executescript(
        "CREATE TABLE decisions (seq INTEGER PRIMARY KEY AUTOINCREMENT, image_id TEXT NOT NULL,"
        " action TEXT NOT NULL, label TEXT, decided_at TEXT NOT NULL);"
        "INSERT INTO decisions (image_id, action, label, decided_at) VALUES"
        " ('a', 'accept', NULL, '2026-01-01T00:00:00+00:00'),"
        " ('b', 'relabel', 'Pear', '2026-01-01T00:01:00+00:00');"
    )
    old.commit()
    old.close()
    store = DecisionStore(db)
    live = store.current()
    assert live["a"]["reviewer"].action == "accept" and live["b"]["reviewer"].label == "Pear"
    store.close()
    assert DecisionStore(db).count() == 2  # migrated once, not again


def test_non_loopback_bind_warns(results_dir):
    import os
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "crowdlens", "review", str(results_dir), "--port", "0",
         "--host", "0.0.0.0", "--allow-remote"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    try:
        first = proc.stderr.readline()  # printed before serving; blocks until then
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert first.startswith("WARNING: listening on 0.0.0.0") and "plain HTTP" in first
