"""CSV cells a spreadsheet will not execute or display reversed.

Labels, paths and metadata come from contributors and manifests: a cell
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a
formula to Excel/LibreOffice (``=HYPERLINK(...)`` exfiltrates data), so it is
prefixed with an apostrophe (OWASP's advice); bidirectional controls (a
right-to-left override makes ``gpj.exe`` read ``exe.jpg``) and other invisible
format characters are written as visible ``<U+202E>`` escapes.
"""

from __future__ import annotations

import unicodedata
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def invisible(c: str) -> bool:
    """Control, format (bidi, zero-width) or line/paragraph separator characters."""
    return unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")


def csv_cell(value: Any) -> Any:
    """A value safe to write in a CSV cell; numbers and None pass unchanged.

    >>> csv_cell('=HYPERLINK("http://x")')
    '\\'=HYPERLINK("http://x")'
    >>> csv_cell("abc\\u202egpj.exe")
    'abc<U+202E>gpj.exe'
    >>> csv_cell(-3.5)
    -3.5
    """
    if not isinstance(value, str):
        return value
    text = "".join(f"<U+{ord(c):04X}>" if invisible(c) and c != "\t" else c for c in value)
    return "'" + text if text.startswith(FORMULA_START) else text


def label_problem(label: str) -> str | None:
    """Why a reviewer's label cannot be stored, or None.

    >>> label_problem("Pear") is None
    True
    >>> label_problem("a\\u202eb")
    'the label contains control or invisible formatting characters (U+202E)'
    """
    bad = [c for c in label if invisible(c)]
    if bad:
        shown = ", ".join(sorted({f"U+{ord(c):04X}" for c in bad}))
        return f"the label contains control or invisible formatting characters ({shown})"
    return None
