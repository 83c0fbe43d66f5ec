"""The text stage: has-text gate, OCR, PII, redaction and metadata-free release.

For every photo whose ``status`` is ``ok`` it writes a released copy to
``out_dir/redacted/<path relative to input_root>`` and stores that path
relative to ``out_dir`` (see :mod:`crowdlens.io.outputs`): personal information
blurred when there is any, and *always* re-encoded without EXIF/XMP/GPS.
Photos with text also get a reviewer preview (text outlined) under
``out_dir/text_previews/``. Other rows pass through with nulls. A failure on
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

    Uses the OCR engine, gate and analyzer cached in this Python worker.
    """
    import numpy as np

    from crowdlens.decode import decode_image
    from crowdlens.io.outputs import PREVIEWS_DIR, output_target
    from crowdlens.text.gate import get_gate
    from crowdlens.text.ocr import get_ocr
    from crowdlens.text.photo import PhotoText, read_photo
    from crowdlens.text.pii import get_analyzer
    from crowdlens.text.preview import render_preview
    from crowdlens.text.redact import mirrored_path, save_clean
    from crowdlens.text.verify import release_copy

    row: dict[str, Any] = dict.fromkeys(TEXT_COLUMNS)
    if status != S.STATUS_OK:
        return row
    step = "decoding the photo"
    try:
        image = decode_image(data).image
        found = PhotoText(has_text=False, gated_out=True)
        ocr = None
        if cfg.enabled:
            step = "reading text"
            ocr = get_ocr(cfg.ocr_max_side, cfg.text_score, cfg.threads, cfg.det_box_threshold)
            gate = (
                get_gate(cfg.gate_max_side, cfg.gate_box_threshold, cfg.threads, cfg.det_int8)
                if cfg.gate
                else None
            )
            analyzer = get_analyzer(cfg.languages, cfg.phone_regions)
            found = read_photo(np.asarray(image), cfg, ocr=ocr, analyzer=analyzer, gate=gate)
            row[S.HAS_TEXT] = found.has_text
            row[S.TEXT_REGIONS] = found.regions()
            row[S.PII_TYPES] = found.pii_types
        step = "verifying the redaction"
        released = release_copy(image, found, cfg, ocr)
        row[S.RELEASE_VERIFIED] = released.verified
        stored = mirrored_path("", path, input_root, image_id)
        target = output_target(out_dir, stored)
        if released.image is None:  # personal data stayed readable: withheld
            if "://" not in target and os.path.exists(target):
                os.remove(target)  # a copy from an earlier run must not stay behind
        else:
            step = "writing the released copy"
            save_clean(released.image, target, jpeg_quality=cfg.jpeg_quality)
            row[S.REDACTED_PATH] = stored
        if cfg.previews and found.has_text:
            step = "writing the preview"
            preview = render_preview(
                image,
                [line.polygon for line in found.lines],
                found.line_pii,
                cfg.preview_max_side,
            )
            stored = mirrored_path("", path, input_root, image_id, folder=PREVIEWS_DIR)
            if not stored.lower().endswith((".jpg", ".jpeg")):
                stored += ".jpg"
            save_clean(preview, output_target(out_dir, stored), jpeg_quality=85)
            row[S.TEXT_PREVIEW_PATH] = stored
    except Exception as exc:  # one photo never fails the job
        row = dict.fromkeys(TEXT_COLUMNS)
        row[S.TEXT_ERROR] = (
            f"text stage failed while {step}: {type(exc).__name__}: {exc}; "
            "the photo was not released. Re-run it or check the file."
        )
    return row


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
