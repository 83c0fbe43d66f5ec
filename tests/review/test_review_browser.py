"""The review app end to end in headless Debian Chromium (Playwright).

The classifier/OCR outputs in the results table are synthetic (see
results_factory): these tests are about the UI, its persistence and its
escaping; the photos are real.
"""

from __future__ import annotations

import hashlib
import re
import time

import pytest
from browser import chromium
from playwright.sync_api import expect
from results_factory import XSS_LABEL, XSS_TEXT

from crowdlens.review import export_reviewed
from crowdlens.review.store import DecisionStore

pytestmark = pytest.mark.timeout(300)


def _open(ctx, server):
    page = ctx.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server.url)
    page.wait_for_selector("#list div[data-id]")
    return page, dialogs


def _until(page, js: str, timeout: float = 10.0) -> None:
    """Poll a JS expression from outside the page (the app's CSP forbids in-page eval,
    which Playwright's wait_for_function needs)."""
    end = time.monotonic() + timeout
    while not page.evaluate(js):
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {js}")
        page.wait_for_timeout(50)


def _current(page) -> str:
    return page.get_attribute("#list div.current", "data-id")


def _digest(folder) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def test_keyboard_decisions_survive_a_restart(results_dir, start_server, tmp_path):
    before = _digest(results_dir / "results.parquet")
    server = start_server(results_dir)
    n_queue = len(server.items)
    # The queue is the 'review' photos, most uncertain first.
    u = [it["uncertainty"] for it in server.items]
    assert u == sorted(u, reverse=True) and n_queue >= 5

    with chromium(tmp_path / "profile1") as ctx:
        page, dialogs = _open(ctx, server)
        assert "token=" not in page.url  # the token became a cookie
        first = _current(page)
        page.keyboard.press("a")
        page.wait_for_selector("#progress:has-text('1 of')")
        assert page.inner_text("#message") == "Saved: accept"
        second = _current(page)
        assert second != first
        page.keyboard.press("r")
        page.wait_for_selector("#progress:has-text('2 of')")
        third = _current(page)
        page.keyboard.press("l")
        page.fill("#relabel-input", "Granny-Smith")
        page.keyboard.press("Enter")
        page.wait_for_selector("#progress:has-text('3 of')")
        fourth = _current(page)
        page.keyboard.press("j")  # skip one, then relabel to the 2nd top-k prediction
        fifth = _current(page)
        assert fifth != fourth
        topk2 = server.by_id[fifth]["topk"][1]["label"]
        page.keyboard.press("2")
        page.wait_for_selector(f"#progress:has-text('4 of {n_queue}')")
        assert page.inner_text("#message") == f"Saved: relabel → {topk2}"
        assert dialogs == []

    start_server.stop(server)
    server = start_server(results_dir)  # a new process state: only SQLite remembers
    with chromium(tmp_path / "profile2") as ctx:
        page, _ = _open(ctx, server)
        assert page.inner_text("#progress").startswith(f"4 of {n_queue}")
        pending = page.eval_on_selector_all(
            "#list div[data-id]", "els => els.map(e => e.dataset.id)"
        )
        assert set(pending).isdisjoint({first, second, third, fifth})
        page.check("#f-all")
        page.wait_for_selector(f"#list div.done[data-id='{first}']")
        done = page.eval_on_selector_all("#list div.done", "els => els.map(e => e.dataset.id)")
        assert set(done) == {first, second, third, fifth}

    latest = DecisionStore(results_dir / "review.sqlite").latest()
    assert {k: (v.action, v.label) for k, v in latest.items()} == {
        first: ("accept", None),
        second: ("reject", None),
        third: ("relabel", "Granny-Smith"),
        fifth: ("relabel", topk2),
    }

    # Export: the final table and a manifest crowdlens train accepts; results untouched.
    import pandas as pd

    from crowdlens.training.data import list_labelled_photos

    done = export_reviewed(results_dir)
    final = pd.read_parquet(done.final_table).set_index("image_id")
    assert len(final) == done.rows == 13 and done.reviewed == 4 and done.relabelled == 2
    assert final.loc[second, "final_decision"] == "reject"
    assert final.loc[third, "final_label"] == "Granny-Smith"
    assert final.loc[third, "final_decision"] == "accept"
    assert (
        final.loc[fourth, "final_decision"] == "review"
        and final.loc[fourth, "review_action"] is None
    )
    manifest = list_labelled_photos(done.manifest)
    assert sorted(manifest["label"]) == sorted(["Granny-Smith", topk2])
    assert _digest(results_dir / "results.parquet") == before


def test_photo_strings_render_as_text(results_dir, start_server, tmp_path):
    server = start_server(results_dir)
    with chromium(tmp_path / "profile") as ctx:
        page, dialogs = _open(ctx, server)
        page.click("#list div[data-id='img001']")  # its OCR text is a script tag
        page.wait_for_selector("#texts li")
        assert XSS_TEXT in page.inner_text("#texts")
        page.click("#list div[data-id='img002']")  # its claimed label is an <img onerror>
        expect(page.locator("#claimed")).to_have_text(XSS_LABEL)
        # The strings exist as text only: no element was created from them.
        assert (
            page.evaluate("document.querySelectorAll('script:not([src]), img[src=x]').length") == 0
        )
        # The photo loaded through the token-guarded route and its outlines are drawn.
        assert page.evaluate("document.getElementById('photo').naturalWidth") > 0
        page.click("#list div[data-id='img001']")
        page.wait_for_selector("#outlines polygon")
        page.keyboard.press("b")  # blur preview
        expect(page.locator("#photo")).to_have_attribute("src", re.compile(r"v=blur"))
        _until(page, "document.getElementById('photo').complete")
        assert page.evaluate("document.getElementById('photo').naturalWidth") > 0
        page.screenshot(path=str(tmp_path / "review.png"))
        assert dialogs == []


def test_filters(results_dir, start_server, tmp_path):
    server = start_server(results_dir)
    with chromium(tmp_path / "profile") as ctx:
        page, _ = _open(ctx, server)
        n_all = page.locator("#list div[data-id]").count()
        page.select_option("#f-reason", "label mismatch")
        _until(page, f"document.querySelectorAll('#list div[data-id]').length < {n_all}")
        ids = page.eval_on_selector_all("#list div[data-id]", "els => els.map(e => e.dataset.id)")
        assert ids and all(
            any(r.startswith("label mismatch") for r in server.by_id[i]["reasons"]) for i in ids
        )
        # Two filter changes in a row: two requests in flight, and the list must end
        # up showing the answer to the newer one whatever order the answers arrive in.
        peru = sorted(it["image_id"] for it in server.items if it["country"] == "Peru")
        assert 0 < len(peru) < n_all
        page.select_option("#f-reason", "")
        page.select_option("#f-country", "Peru")
        _until(page, f"document.querySelectorAll('#list div[data-id]').length === {len(peru)}")
        page.wait_for_timeout(500)  # a stale answer arriving late would show up here
        ids = page.eval_on_selector_all("#list div[data-id]", "els => els.map(e => e.dataset.id)")
        assert sorted(ids) == peru
