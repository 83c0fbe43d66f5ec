"""Headless Debian Chromium for the end-to-end tests, driven by Playwright.

The browser is the system's ``/usr/bin/chromium`` (installed by the set-up
script and CI), never a Playwright download, which needs the internet.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium(user_data_dir: Path) -> Iterator[object]:
    """A fresh persistent Chromium context (own profile folder); skips if unavailable."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=CHROMIUM, headless=True, args=ARGS
        )
        try:
            yield ctx
        finally:
            ctx.close()
