"""The text stage: has-text gate, OCR, PII, redaction and metadata-free release.

For every photo whose ``status`` is ``ok`` it writes a released copy to
``out_dir/redacted/<path relative to input_root>`` and stores that path
relative to ``out_dir`` (see :mod:`crowdlens.io.outputs`), *always* without
EXIF/XMP/GPS: personal information blurred and re-encoded when there is any;
otherwise a JPEG's own coded data with every metadata marker dropped
(:mod:`crowdlens.text.strip`), or re-encoded when that is not safe.
Photos with personal information found also get a reviewer preview (text
outlined, unblurred) under ``out_dir/text_previews/`` (``TextConfig.previews``:
every photo with text, or none). Other rows pass through with nulls. A failure on
one photo (OCR error, odd size, unwritable file) is recorded in
``text_error`` and the job goes on; the photo then has no ``redacted_path``,
so nothing unchecked is released.
"""

from __future__ import annotations

import os
from functools import partial
from typing import TYPE_CHECKING, Any

from crowdlens import schema as S
from crowdlens.spark.rows import Step, row_step, run_steps
from crowdlens.text.config import TextConfig

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

    from crowdlens.text.photo import PhotoText

#: Columns the stage adds, in order.
TEXT_COLUMNS = (
    S.HAS_TEXT,
    S.TEXT_REGIONS,
    S.PII_TYPES,
    S.REDACTED_PATH,
    S.TEXT_PREVIEW_PATH,
    S.TEXT_ERROR,
    S.RELEASE_VERIFIED,
)
TEXT_INPUTS = (S.IMAGE_ID, S.PATH, S.CONTENT, S.STATUS)


def text_row(
    image_id: str,
    path: str,
    data: bytes | None,
    status: str | None,
    cfg: TextConfig,
    out_dir: str,
    input_root: str | None,
) -> dict[str, Any]:
    """The text columns of one photo; writes its released copy (and preview).

    Uses the OCR engine, gate and analyzer cached in this Python worker. A
    JPEG with nothing to cover is released losslessly (:mod:`crowdlens.text.strip`).
    """

    from crowdlens.decode import NO_PIXEL_LIMIT, decode_pixels
    from crowdlens.text.photo import PhotoText, read_photo

    row: dict[str, Any] = dict.fromkeys(TEXT_COLUMNS)
    if status != S.STATUS_OK:
        return row
    step = "decoding the photo"
    try:
        found = PhotoText(has_text=False, gated_out=True)
        pixels = ocr = None
        if cfg.enabled:
            # One full-size copy for all the text work: the pixels (36 MB at
            # 12 MP), decoded straight into the array.
            pixels = decode_pixels(data, max_pixels=NO_PIXEL_LIMIT)  # the decode stage's limit held
            step = "reading text"
            ocr, gate, analyzer = _parts(cfg)
            found = read_photo(pixels, cfg, ocr=ocr, analyzer=analyzer, gate=gate)
            row[S.HAS_TEXT] = found.has_text
            row[S.TEXT_REGIONS] = found.regions()
            row[S.PII_TYPES] = found.pii_types
        step = "verifying the redaction" if found.cover else "writing the released copy"
        row.update(_release(data, pixels, found, cfg, ocr, out_dir, path, input_root, image_id))
        step = "writing the preview"
        stored, target = _preview_target(out_dir, path, input_root, image_id)
        if wants_preview(cfg.previews, found):
            _preview(pixels, found, cfg, target)
            row[S.TEXT_PREVIEW_PATH] = stored
        elif "://" not in target and os.path.exists(target):
            os.remove(target)  # an earlier run's unblurred preview must not stay behind
    except Exception as exc:  # one photo never fails the job
        row = dict.fromkeys(TEXT_COLUMNS)
        row[S.TEXT_ERROR] = (
            f"text stage failed while {step}: {type(exc).__name__}: {exc}; "
            "the photo was not released. Re-run it or check the file."
        )
    return row


def reading_parts(cfg: TextConfig) -> tuple[Any, Any]:
    """The OCR engine and gate (or None) cached in this worker: what reads a photo's text."""
    from crowdlens.text.gate import get_gate
    from crowdlens.text.ocr import get_ocr

    ocr = get_ocr(cfg.ocr_max_side, cfg.text_score, cfg.threads, cfg.det_box_threshold)
    gate = (
        get_gate(cfg.gate_max_side, cfg.gate_box_threshold, cfg.threads, cfg.det_int8)
        if cfg.gate
        else None
    )
    return ocr, gate


def _parts(cfg: TextConfig) -> tuple[Any, Any, Any]:
    """The OCR engine, gate (or None) and PII analyzer cached in this worker."""
    from crowdlens.text.pii import get_analyzer

    return (*reading_parts(cfg), get_analyzer(cfg.languages, cfg.phone_regions))


def _release(
    data: bytes | None, pixels: Any, found: Any, cfg: TextConfig, ocr: Any, out_dir: str,
    path: str, input_root: str | None, image_id: str,
) -> dict[str, Any]:  # fmt: skip
    """Write the released copy (or withhold it); its ``redacted_path`` and ``release_verified``.

    With something to cover: redact the full-size photo, verify, re-encode.
    With nothing: the JPEG's own coded data without its metadata when that
    is safe (:func:`~crowdlens.text.strip.release_bytes`), else re-encoded.
    ``pixels`` is the decoded photo (RGB array), or None when the text work did not need it.
    """
    from crowdlens.io.outputs import output_target
    from crowdlens.text.redact import mirrored_path, save_clean, write_metadata_free
    from crowdlens.text.verify import release_copy

    stored = mirrored_path("", path, input_root, image_id)
    target = output_target(out_dir, stored)
    if found.cover:
        released = release_copy(pixels, found, cfg, ocr)
        if released.image is None:  # personal data stayed readable: withheld
            if "://" not in target and os.path.exists(target):
                os.remove(target)  # a copy from an earlier run must not stay behind
            return {S.RELEASE_VERIFIED: False, S.REDACTED_PATH: None}
        save_clean(released.image, target, jpeg_quality=cfg.jpeg_quality)
        return {S.RELEASE_VERIFIED: released.verified, S.REDACTED_PATH: stored}
    write_metadata_free(data or b"", target, jpeg_quality=cfg.jpeg_quality, image=pixels)
    return {S.RELEASE_VERIFIED: None, S.REDACTED_PATH: stored}


def wants_preview(mode: str, found: PhotoText) -> bool:
    """Whether a photo gets a reviewer preview under ``TextConfig.previews``.

    >>> from crowdlens.text.photo import PhotoText
    >>> plain = PhotoText(has_text=True, gated_out=False, pii_types=[])
    >>> [wants_preview(m, plain) for m in ("pii", "text", "off")]
    [False, True, False]
    """
    if mode == "text":
        return found.has_text
    return mode == "pii" and bool(found.pii_types)


def _preview_target(
    out_dir: str, path: str, input_root: str | None, image_id: str
) -> tuple[str, str]:
    """Where a photo's reviewer preview goes: (stored relative path, file to write)."""
    from crowdlens.io.outputs import PREVIEWS_DIR, output_target
    from crowdlens.text.redact import mirrored_path

    stored = mirrored_path("", path, input_root, image_id, folder=PREVIEWS_DIR)
    if not stored.lower().endswith((".jpg", ".jpeg")):
        stored += ".jpg"
    return stored, output_target(out_dir, stored)


def _preview(pixels: Any, found: Any, cfg: TextConfig, target: str) -> None:
    """Write the reviewer preview of ``pixels`` with ``found``'s lines outlined to ``target``."""
    from crowdlens.text.preview import render_preview
    from crowdlens.text.redact import save_clean

    preview = render_preview(pixels, [line.polygon for line in found.lines],
                             found.line_pii, cfg.preview_max_side)  # fmt: skip
    save_clean(preview, target, jpeg_quality=85)


def _text(row: dict[str, Any], cfg: TextConfig, out_dir: str, input_root: str | None) -> dict:
    return text_row(
        row[S.IMAGE_ID], row[S.PATH], row[S.CONTENT], row[S.STATUS], cfg, out_dir, input_root
    )


def text_step(cfg: TextConfig, out_dir: str, input_root: str | None = None) -> Step:
    """The text stage as a :class:`~crowdlens.spark.rows.Step` (see :func:`text_stage`)."""
    return row_step(
        partial(_text, cfg=cfg, out_dir=out_dir, input_root=input_root),
        TEXT_INPUTS,
        TEXT_COLUMNS,
        name="text",
        hint="read the photo bytes and run the decode stage first",
    )


def text_stage(
    df: DataFrame, cfg: TextConfig, out_dir: str, input_root: str | None = None
) -> DataFrame:
    """Add the text columns and write released (redacted, metadata-free) copies.

    ``out_dir`` must be reachable by every executor (a local folder in local
    mode, a shared filesystem on a cluster). ``input_root`` is the folder the
    photos were read from; released copies mirror the layout below it.

    Example::

        df = text_stage(decoded, TextConfig(redact_mode="pixelate"),
                        out_dir="out/run1", input_root="photos/")
        df.select(S.PATH, S.PII_TYPES, S.REDACTED_PATH).show()
    """
    return run_steps(df, [text_step(cfg, out_dir, input_root)])
