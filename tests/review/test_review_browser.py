"""The review app end to end in headless Debian Chromium (Playwright).

The classifier/OCR outputs in the results table are synthetic (see
results_factory): these tests are about the UI, its persistence and its
escaping; the photos are real. One browser serves the whole module; every
test starts its own server (a fresh results folder) and its own contexts.
Every wait is on a condition (a selector, a count, a loaded image), never on
a fixed delay.
"""

from __future__ import annotations

import re

import pytest
from browser import until
from playwright.sync_api import expect
from results_factory import XSS_LABEL, XSS_TEXT

from crowdlens import schema as S
from crowdlens.review.photos import render_jpeg

pytestmark = pytest.mark.timeout(300)

CARD_IDS = "els => els.map(e => e.dataset.id)"
IMAGES_LOADED = (
    "[...document.querySelectorAll('{sel}')].every(i => i.complete && i.naturalWidth > 0)"
)


@pytest.fixture
def open_page(browser):
    """Open the app as a reviewer (default: the one who started the server) in a new context."""
    contexts = []

    def open_(server, token=None):
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(ctx)
        page = ctx.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        host, port = server.server_address[:2]
        page.goto(f"http://{host}:{port}/?token={token or server.token}")
        expect(page.locator(".card").first).to_be_visible()
        until(page, "document.getElementById('grid').getAttribute('aria-busy') === 'false'")
        return page, dialogs

    yield open_
    for ctx in contexts:
        ctx.close()


def _ids(page, sel=".card"):
    return page.eval_on_selector_all(sel, CARD_IDS)


def _todo(server):
    return [r.image_id for r in server.queue.ordered("uncertainty", True)]


def test_grid_shows_released_copies_never_originals(results_dir, start_server, open_page):
    server = start_server(results_dir)
    page, dialogs = open_page(server)
    assert "token=" not in page.url  # the token became a cookie
    assert _ids(page) == _todo(server)  # most uncertain first
    until(page, IMAGES_LOADED.format(sel=".card img"))
    base = page.url.split("?")[0].rstrip("/")
    released = next(r for r in server.queue.rows if r.redacted_path)
    resp = page.request.get(f"{base}/photo/{released.image_id}?v=thumb")
    assert resp.headers["content-type"] == "image/jpeg"
    assert resp.body() == render_jpeg(results_dir / released.redacted_path, 256)
    none = next(r for r in server.queue.rows if not r.redacted_path)
    resp = page.request.get(f"{base}/photo/{none.image_id}?v=thumb")
    assert resp.headers["content-type"] == "image/svg+xml"  # a placeholder, not the original
    assert "no released copy" in resp.text()
    # The detail view shows the released copy, labelled; no originals without --photos-root.
    page.click(f".card[data-id='{released.image_id}']")
    page.keyboard.press("Enter")
    expect(page.locator("#shown-as")).to_have_text("released copy")
    expect(page.locator("#photo")).to_have_attribute("src", re.compile("v=released"))
    until(page, IMAGES_LOADED.format(sel="#photo"))
    expect(page.locator("#original")).to_be_hidden()
    page.keyboard.press("v")
    expect(page.locator("#photo")).to_have_attribute("src", re.compile("v=released"))
    assert dialogs == []

    # With --photos-root the detail view may show the original, labelled as such.
    server2 = start_server(results_dir, photo_roots=(str(results_dir / "photos"),))
    page, _ = open_page(server2)
    page.click(f".card[data-id='{none.image_id}']")
    page.keyboard.press("Enter")
    expect(page.locator("#original")).to_be_visible()
    page.keyboard.press("v")
    expect(page.locator("#shown-as")).to_have_text(re.compile("^ORIGINAL"))
    expect(page.locator("#photo")).to_have_attribute("src", re.compile("v=original"))
    until(page, IMAGES_LOADED.format(sel="#photo"))


def test_bulk_accept_50_with_the_keyboard_undo_and_back_to_pending(
    big_results, start_server, open_page
):
    server = start_server(big_results)
    page, _ = open_page(server)
    expect(page.locator(".card")).to_have_count(54)
    order = _ids(page)
    for _ in range(49):
        page.keyboard.press("Shift+ArrowRight")
    expect(page.locator("#selcount")).to_have_text("50 selected")
    page.keyboard.press("a")
    expect(page.locator(".card[data-state='decided']")).to_have_count(50)
    expect(page.locator("#progress")).to_contain_text("4 to do · 50 decided")
    live = server.store.current()
    assert set(live) == set(order[:50])
    assert {d.action for per in live.values() for d in per.values()} == {"accept"}
    assert len({d.batch for d in server.store.history()}) == 1  # one request, one batch

    page.keyboard.press("u")  # undo the whole bulk decision
    expect(page.locator(".card[data-state='pending']")).to_have_count(54)
    assert server.store.current() == {} and server.store.count() == 100  # audited, not erased

    # Mouse: click, shift-click a range, ctrl-click one out; reject them at once.
    page.click(f".card[data-id='{order[0]}']")
    page.click(f".card[data-id='{order[4]}']", modifiers=["Shift"])
    page.click(f".card[data-id='{order[2]}']", modifiers=["Control"])
    expect(page.locator("#selcount")).to_have_text("4 selected")
    page.keyboard.press("r")
    expect(page.locator(".card[data-state='decided']")).to_have_count(4)
    assert set(server.store.current()) == {order[i] for i in (0, 1, 3, 4)}

    # Back to pending on purpose.
    page.click(f".card[data-id='{order[1]}']")
    page.keyboard.press("p")
    expect(page.locator(f".card[data-id='{order[1]}']")).to_have_attribute("data-state", "pending")
    assert order[1] not in server.store.current()
    last = server.store.history_of(order[1])[-1]
    assert (last.action, last.prev_action) == ("pending", "reject")


def test_filters(results_dir, start_server, open_page):
    server = start_server(results_dir)
    page, _ = open_page(server)
    n_all = page.locator(".card").count()
    page.select_option("#f-reason", "label mismatch")
    until(page, f"document.querySelectorAll('.card').length < {n_all}")
    ids = _ids(page)
    assert ids and all("label mismatch" in server.queue.by_id[i].reasons for i in ids)
    # Two filter changes in a row: two requests in flight, and the grid must end up
    # showing the answer to the newer one whatever order the answers arrive in.
    peru = sorted(r.image_id for r in server.queue.rows if r.country == "Peru")
    assert 0 < len(peru) < n_all
    page.select_option("#f-reason", "")
    page.select_option("#f-country", "Peru")
    until(page, f"document.querySelectorAll('.card').length === {len(peru)}")
    until(page, "document.getElementById('grid').getAttribute('aria-busy') === 'false'")
    assert sorted(_ids(page)) == peru
    # Search by item, as you type (claimed or predicted label).
    page.select_option("#f-country", "")
    target = server.queue.rows[0]
    page.fill("#f-item", target.label[:6].lower())
    until(
        page,
        f"[...document.querySelectorAll('.card')].some(c => c.dataset.id === '{target.image_id}')",
    )
    want = target.label[:6].lower()
    expected = {
        r.image_id
        for r in server.queue.rows
        if want in (r.label or "").lower() or want in (r.pred_label or "").lower()
    }
    until(page, f"document.querySelectorAll('.card').length === {len(expected)}")
    assert set(_ids(page)) == expected
    # Decided photos leave "to do" and appear under "decided".
    page.fill("#f-item", "")
    until(page, f"document.querySelectorAll('.card').length === {n_all}")
    first = _ids(page)[0]
    page.keyboard.press("Escape")  # leave the search box: keys go to the grid again
    page.keyboard.press("a")
    expect(page.locator(f".card[data-id='{first}']")).to_have_attribute("data-state", "decided")
    page.select_option("#f-show", "decided")
    until(page, "document.querySelectorAll('.card').length === 1")
    assert _ids(page) == [first]


def test_two_reviewers_on_one_photo_make_a_conflict(results_dir, start_server, open_page):
    server = start_server(results_dir, reviewer="ann")
    bob = server.store.add_reviewer("bob")
    ann, _ = open_page(server)
    bobs, _ = open_page(server, token=bob)
    expect(bobs.locator("#who")).to_have_text("reviewer: bob")
    first = _ids(ann)[0]
    assert _ids(bobs)[0] == first
    ann.keyboard.press("a")
    expect(ann.locator(f".card[data-id='{first}']")).to_have_attribute("data-state", "decided")
    bobs.keyboard.press("r")  # bob's page still shows it pending: he decides otherwise
    card = bobs.locator(f".card[data-id='{first}']")
    expect(card).to_have_attribute("data-state", "conflict")
    expect(card.locator(".badge.state")).to_have_class(re.compile(r"\bstate-disputed\b"))
    expect(card.locator(".other")).to_have_text("ann: accept")
    expect(bobs.locator("#message")).to_contain_text("in conflict with another reviewer")
    # Nothing was overwritten: both decisions live, and ann finds it among the conflicts.
    assert {k: v.action for k, v in server.store.of(first).items()} == {
        "ann": "accept",
        "bob": "reject",
    }
    ann.select_option("#f-show", "conflict")
    until(ann, "document.querySelectorAll('.card').length === 1")
    expect(ann.locator(".card .other")).to_have_text("bob: reject")
    # Agreement over the photos two reviewers decided (here one pair that disagrees).
    expect(ann.locator("#kappa")).to_have_text(
        "agreement on 1 photo decided by two reviewers: κ = 0.00"
    )
    ann.keyboard.press("Enter")
    expect(ann.locator("#decisions")).to_contain_text("bob: reject")
    expect(ann.locator("#decisions li.disputed").last).to_contain_text("conflict: the reviewers")
    # The menus and the measures come from the session's vocabulary (schema.py).
    shows = ann.eval_on_selector_all("#f-show option", "os => os.map(o => [o.value, o.text])")
    assert [v for v, _ in shows] == list(S.REVIEW_SHOWS) and shows[0][1] == "to do"
    sorts = ann.eval_on_selector_all("#f-sort option", "os => os.map(o => o.value)")
    assert sorts == list(S.REVIEW_SORTS)
    expect(ann.locator("#measures th").first).to_have_text(S.SHARPNESS)


def test_relabel_only_to_known_items(results_dir, start_server, open_page):
    server = start_server(results_dir)
    page, _ = open_page(server)
    known = server.known_labels()
    target = next(x for x in known if x[0].isalpha() and len(x) > 6)
    first = _ids(page)[0]
    page.keyboard.press("l")
    expect(page.locator("#picker")).to_be_visible()
    page.keyboard.type("Xyzzyq")  # a typo: no known item matches
    expect(page.locator("#picker-list li")).to_have_count(0)
    expect(page.locator("#new-item")).to_have_text("New item “Xyzzyq”")
    page.keyboard.press("Enter")
    expect(page.locator("#message")).to_contain_text("is not a known item")
    assert server.store.count() == 0
    # Search as you type: a few letters, any case, find the known item.
    page.fill("#picker-input", target[:5].lower())
    expect(page.locator("#picker-list li").first).to_have_text(target)
    page.keyboard.press("Enter")
    expect(page.locator("#picker")).to_be_hidden()
    expect(page.locator(f".card[data-id='{first}']")).to_have_attribute("data-state", "decided")
    assert server.store.of(first)["reviewer"].label == target
    # A new item only through the explicit action.
    second = _ids(page)[1]
    page.keyboard.press("l")
    page.fill("#picker-input", "Oat-Drink-Barista")
    page.click("#new-item")
    expect(page.locator(f".card[data-id='{second}']")).to_have_attribute("data-state", "decided")
    assert server.store.of(second)["reviewer"].label == "Oat-Drink-Barista"
    assert "Oat-Drink-Barista" in server.known_labels()


def test_photo_strings_render_as_text(results_dir, start_server, open_page):
    server = start_server(results_dir, photo_roots=(str(results_dir / "photos"),))
    page, dialogs = open_page(server)
    page.select_option("#f-show", "all")
    expect(page.locator(".card[data-id='img001']")).to_have_count(1)
    page.click(".card[data-id='img001']")  # its OCR text is a script tag
    page.keyboard.press("Enter")
    expect(page.locator("#texts li").first).to_have_text(XSS_TEXT)
    expect(page.locator("#outlines polygon")).to_have_count(1)
    # The verdict says what judged it: this photo's text counted beside the image.
    expect(page.locator("#verdict")).to_contain_text("judged by image and text")
    page.click(".card[data-id='img002']")  # its claimed label is an <img onerror>
    expect(page.locator("#claimed")).to_have_text(XSS_LABEL)
    expect(page.locator(".card[data-id='img002'] b")).to_have_text(XSS_LABEL)
    # The strings exist as text only: no element was created from them.
    assert page.evaluate("document.querySelectorAll('script:not([src]), img[src=x]').length") == 0
    # The photo loaded through the token-guarded route (wait for it: no race).
    page.keyboard.press("v")
    expect(page.locator("#photo")).to_have_attribute("src", re.compile("img002.*v=original"))
    until(page, IMAGES_LOADED.format(sel="#photo"))
    assert dialogs == []


def test_decisions_survive_a_restart(results_dir, start_server, open_page):
    server = start_server(results_dir)
    page, _ = open_page(server)
    first, second = _ids(page)[:2]
    page.keyboard.press("a")
    expect(page.locator(f".card[data-id='{first}']")).to_have_attribute("data-state", "decided")
    page.keyboard.press("r")
    expect(page.locator(f".card[data-id='{second}']")).to_have_attribute("data-state", "decided")
    start_server.stop(server)
    server = start_server(results_dir)  # a new process state: only SQLite remembers
    page, _ = open_page(server)
    expect(page.locator("#progress")).to_contain_text("2 decided")
    assert {first, second}.isdisjoint(_ids(page))
