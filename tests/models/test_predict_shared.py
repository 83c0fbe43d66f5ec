"""Decode once on Spark: quality and model read the decode stage's copy, not the bytes."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from crowdlens import schema as S
from crowdlens.config import DecodeConfig, IngestConfig
from crowdlens.models.predict import InferenceConfig
from crowdlens.quality.config import QualityConfig
from crowdlens.stages.classify import model_stage
from crowdlens.stages.decode import decode_stage, shared_size
from crowdlens.stages.quality import QUALITY_COLUMNS, quality_stage

IMAGENET_PHOTOS = Path(__file__).resolve().parents[1] / "data" / "imagenet"

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def photos(spark, tmp_path_factory):
    """The three real photos, one of them also at 2000 x 1500 (DCT scaling applies)."""
    from crowdlens.io.ingest import ingest
    from crowdlens.stages.read import read_bytes_stage

    root = tmp_path_factory.mktemp("shared")
    for p in IMAGENET_PHOTOS.glob("*.jpg"):
        shutil.copy(p, root / p.name)
    big = Image.open(IMAGENET_PHOTOS / "lemon.jpg").resize((2000, 1500), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=90)
    (root / "lemon_big.jpg").write_bytes(buf.getvalue())
    (root / "cut.jpg").write_bytes((IMAGENET_PHOTOS / "orange.jpg").read_bytes()[:2000])
    return read_bytes_stage(ingest(spark, root, IngestConfig()).df).cache()


def test_quality_and_model_from_the_shared_copy_match_the_bytes_path(photos, mobilenet_bundle):
    quality = QualityConfig(duplicates=False)
    model = InferenceConfig(bundle=str(mobilenet_bundle), topk=3)
    share = shared_size(quality, model)
    assert share == (512, 512)  # quality's analysis size beats the model's 256

    shared = decode_stage(photos, DecodeConfig(), share=share).drop(S.CONTENT)
    assert {S.PIXELS, S.PIXELS_SIZE} <= set(shared.columns)
    # Without the bytes, the stages can only have read the shared copy.
    via_copy = model_stage(quality_stage(shared, quality), model)
    via_bytes = model_stage(quality_stage(decode_stage(photos, DecodeConfig()), quality), model)
    cols = [S.PATH, S.STATUS, *QUALITY_COLUMNS, S.PRED_LABEL, S.PRED_SCORE]
    a = {r[S.PATH]: r for r in via_copy.select(*cols).collect()}
    b = {r[S.PATH]: r for r in via_bytes.select(*cols).collect()}
    assert a.keys() == b.keys() and len(a) == 5
    for path, row in a.items():
        other = b[path]
        for c in (S.STATUS, *QUALITY_COLUMNS, S.PRED_LABEL):
            assert row[c] == other[c], (path, c)
        if path.endswith("lemon_big.jpg"):  # decoded at 1/2 scale here, 1/4 via the bytes
            assert row[S.PRED_SCORE] == pytest.approx(other[S.PRED_SCORE], abs=0.05)
        elif row[S.STATUS] == S.STATUS_OK:  # small photos: the very same pixels
            assert row[S.PRED_SCORE] == pytest.approx(other[S.PRED_SCORE], abs=1e-6)
    assert sum(r[S.STATUS] == S.STATUS_ERROR for r in a.values()) == 1  # the cut file
