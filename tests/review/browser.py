"""Headless Debian Chromium for the end-to-end tests, driven by Playwright.

The browser is the system's ``/usr/bin/chromium`` (installed by the set-up
script and CI), never a Playwright download, which needs the internet. One
browser serves a whole test module; each test opens fresh contexts (own
cookies) in it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _playwright():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api")


@contextmanager
def chromium(user_data_dir: Path) -> Iterator[object]:
    """A fresh persistent Chromium context (own profile folder); skips if unavailable.

    Used by the report tests (tests/report); the review tests share one browser.
    """
    sync_api = _playwright()
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=CHROMIUM, headless=True, args=ARGS
        )
        try:
            yield ctx
        finally:
            ctx.close()


@contextmanager
def chromium_browser() -> Iterator[object]:
    """One headless Chromium (skips if unavailable)."""
    sync_api = _playwright()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def until(page, js: str, timeout: float = 15.0) -> None:
    """Poll a JS expression from outside the page until it is true.

    The app's CSP forbids in-page eval, which Playwright's wait_for_function
    needs; ``page.evaluate`` runs in an isolated world and is allowed.
    """
    end = time.monotonic() + timeout
    while not page.evaluate(js):
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {js}")
        page.wait_for_timeout(50)
