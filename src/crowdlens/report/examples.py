"""Example photos in the report: released copies only, and no personal text.

The report is a shared output: it is mailed and archived. So a thumbnail is
*always* made from the released copy (``redacted_path``, resolved with
:func:`crowdlens.io.outputs.resolve_output`); a photo without one gets a
placeholder that says why, never the contributor's original. The OCR text a
caption quotes is masked region by region: a region with personal
information shows its types (``[PERSON]``), never its text.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crowdlens import schema as S
from crowdlens.io.outputs import resolve_output
from crowdlens.report import draw
from crowdlens.report.redact import without_paths

# Why a photo has no released copy to show (placeholder captions).
NOT_DECODED = "no released copy: the photo could not be read or decoded"
TEXT_FAILED = "no released copy: the text stage failed on this photo"
TEXT_OFF = "no released copy: the text stage did not run (moderate --no-text)"
WITHHELD = "released copy withheld: personal information was still readable after redaction"
FILE_MISSING = "no released copy: the file is missing from the results folder"
UNREADABLE = "no released copy: the released file cannot be read"

MAX_TEXT = 300


def as_list(value: Any) -> list[Any]:
    """A list from an Arrow/pandas list cell (None, NaN and strings are empty)."""
    if value is None or isinstance(value, float | str):
        return []
    return list(value)


def verification_failed(row: Mapping[str, Any]) -> bool:
    """The text stage re-read the released copy and found personal data (False, not null)."""
    v = row.get(S.RELEASE_VERIFIED)
    return v is False or (type(v).__name__ == "bool_" and not v)


def released_copy(row: Mapping[str, Any], base: Path | str | None) -> tuple[Any, str | None]:
    """``(file to show, None)``, or ``(None, why there is nothing to show)``.

    Only the released copy ever qualifies; the original is never consulted.
    """
    if row.get(S.STATUS) != S.STATUS_OK:
        return None, NOT_DECODED
    if verification_failed(row):
        return None, WITHHELD
    stored = row.get(S.REDACTED_PATH)
    if not isinstance(stored, str) or not stored:
        return None, TEXT_FAILED if row.get(S.TEXT_ERROR) else TEXT_OFF
    source = resolve_output(base, stored)
    return (source, None) if source is not None else (None, FILE_MISSING)


def thumbnail(row: Mapping[str, Any], base: Path | str | None, px: int) -> tuple[str | None, str]:
    """``(data URI, "")`` of the released copy with text outlines, or ``(None, reason)``."""
    source, why = released_copy(row, base)
    if source is None:
        return None, why or FILE_MISSING
    loaded = draw.load_thumbnail(source, px)
    if loaded is None:
        return None, UNREADABLE
    im, size = loaded
    w, h = row.get(S.WIDTH), row.get(S.HEIGHT)
    if w and h and w == w and h == h:  # NaN-safe: decoded size, the polygons' frame
        size = (int(w), int(h))
    return draw.data_uri(draw.draw_polygons(im, row.get(S.TEXT_REGIONS), size)), ""


def masked_text(regions: Any) -> str:
    """The photo's OCR text with every personal region replaced by its types.

    >>> masked_text([{"text": "Maria Garcia", "pii_types": ["PERSON"]},
    ...              {"text": "3.45", "pii_types": []}])
    '[PERSON] | 3.45'
    """
    parts = []
    for r in as_list(regions):
        if not isinstance(r, Mapping) or not r.get(S.REGION_TEXT):
            continue
        types = as_list(r.get(S.REGION_PII_TYPES))
        parts.append(f"[{', '.join(map(str, types))}]" if types else str(r[S.REGION_TEXT]))
    return " | ".join(parts)[:MAX_TEXT]


def shown_reasons(reasons: Any, path: str | None) -> list[str]:
    """A row's reasons as the shared report quotes them: file paths masked."""
    return [without_paths(r, path) for r in as_list(reasons)]


def example(row: Mapping[str, Any], base: Path | str | None, px: int) -> dict[str, Any]:
    """What one example figure shows (template ``ex``)."""
    src, why = thumbnail(row, base, px)
    withheld = verification_failed(row)
    return {
        "src": src,
        "missing": why,
        "id": str(row.get(S.IMAGE_ID)),
        "label": row.get(S.LABEL),
        "pred": row.get(S.PRED_LABEL),
        "decision": row.get(S.DECISION),
        "reasons": shown_reasons(row.get(S.REASONS), row.get(S.PATH)),
        # an unverified photo may hold PII the detector missed: quote none of its text
        "text": "" if withheld else masked_text(row.get(S.TEXT_REGIONS)),
    }
