"""The text stage on a real local[2] Spark session, with real OCR and presidio."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from text_helpers import PII_LINES, PLAIN_LINES, jpeg_with_gps, render

from crowdlens import schema as S
from crowdlens.stages.text import TEXT_COLUMNS, text_stage
from crowdlens.text.config import TextConfig


def _frame(spark, rows):
    from pyspark.sql.types import StructType

    schema = StructType(S.fields(S.IMAGE_ID, S.PATH, S.CONTENT, S.STATUS, S.WIDTH, S.HEIGHT))
    return spark.createDataFrame(rows, schema)


@pytest.mark.spark
@pytest.mark.slow  # ~40 s: Spark workers load OCR and spaCy models themselves
def test_text_stage_redacts_strips_and_survives_bad_rows(spark, tmp_path, ocr):
    root = tmp_path / "in"
    out = tmp_path / "out"
    pii = jpeg_with_gps(render([*PII_LINES.values(), *PLAIN_LINES]))
    plain = jpeg_with_gps(render([], size=(320, 240)))
    rows = [
        ("pii", f"file:{root}/shop/receipt.jpg", pii, "ok", 900, 560),
        ("plain", f"file:{root}/shop/empty.jpg", plain, "ok", 320, 240),
        ("failed", f"file:{root}/bad.jpg", b"not a photo", "error", None, None),
        # Says "ok" but its bytes are broken: the stage records why and goes on.
        ("broken", f"file:{root}/broken.jpg", pii[:200], "ok", 900, 560),
    ]
    df = text_stage(_frame(spark, rows), TextConfig(), str(out), str(root))
    assert df.columns[-len(TEXT_COLUMNS) :] == list(TEXT_COLUMNS)
    got = {r[S.IMAGE_ID]: r.asDict(recursive=True) for r in df.drop(S.CONTENT).collect()}

    row = got["pii"]
    assert row[S.HAS_TEXT] is True and row[S.TEXT_ERROR] is None
    assert set(PII_LINES) <= set(row[S.PII_TYPES])
    assert row[S.RELEASE_VERIFIED] is True  # the redacted lines were read again
    texts = {r["text"]: r["pii_types"] for r in row[S.TEXT_REGIONS]}
    assert texts["Price 3.45"] == []
    # Stored relative to the results folder (crowdlens.io.outputs).
    assert row[S.REDACTED_PATH] == "redacted/shop/receipt.jpg"
    assert row[S.TEXT_PREVIEW_PATH] == "text_previews/shop/receipt.jpg"
    assert (out / row[S.TEXT_PREVIEW_PATH]).is_file()
    released = Image.open(out / row[S.REDACTED_PATH])
    assert len(released.getexif()) == 0, "EXIF/GPS must be stripped"
    reread = "\n".join(ln.text for ln in ocr.read(np.asarray(released.convert("RGB"))))
    assert not any(secret in reread for secret in PII_LINES.values())
    assert "Price 3.45" in reread

    row = got["plain"]  # no text: released anyway, without metadata
    assert row[S.HAS_TEXT] is False and row[S.PII_TYPES] == [] and row[S.TEXT_REGIONS] == []
    assert len(Image.open(out / row[S.REDACTED_PATH]).getexif()) == 0
    assert row[S.TEXT_PREVIEW_PATH] is None
    assert row[S.RELEASE_VERIFIED] is None  # nothing redacted, nothing to verify

    assert all(got["failed"][c] is None for c in TEXT_COLUMNS)
    row = got["broken"]
    assert row[S.REDACTED_PATH] is None and row[S.HAS_TEXT] is None
    assert "decoding the photo" in row[S.TEXT_ERROR]
    assert not (out / "redacted" / "broken.jpg").exists()
