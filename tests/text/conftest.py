"""Fixtures for the text tests: photos with rendered text, made in the test."""

from __future__ import annotations

import pytest
from text_helpers import PII_LINES, PLAIN_LINES, render


@pytest.fixture(scope="session")
def pii_photo():
    """A photo with a name, a phone number, an e-mail, a price and a product name."""
    return render([*PII_LINES.values(), *PLAIN_LINES])


@pytest.fixture(scope="session")
def ocr():
    from crowdlens.text.ocr import get_ocr

    return get_ocr(2000, 0.5, 2)


@pytest.fixture(scope="session")
def analyzer():
    from crowdlens.text.config import TextConfig
    from crowdlens.text.pii import get_analyzer

    cfg = TextConfig()
    return get_analyzer(cfg.languages, cfg.phone_regions)
