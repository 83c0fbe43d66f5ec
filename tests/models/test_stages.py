"""The embed and classify stages on a real local[2] Spark session."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from crowdlens import schema as S
from crowdlens.config import DecodeConfig, IngestConfig
from crowdlens.models.bundle import load_bundle
from crowdlens.models.predict import InferenceConfig
from crowdlens.models.preprocess import preprocess_bytes
from crowdlens.models.runtime import run
from crowdlens.stages.classify import classify_stage, inference_stage

IMAGENET_PHOTOS = Path(__file__).resolve().parents[1] / "data" / "imagenet"

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """Real photos in label folders, plus two files that are not photos."""
    root = tmp_path_factory.mktemp("photos")
    for p in IMAGENET_PHOTOS.glob("*.jpg"):
        (root / p.stem).mkdir()
        shutil.copy(p, root / p.stem / p.name)
    (root / "junk").mkdir()
    (root / "junk" / "page.jpg").write_bytes(b"<html><body>not a photo</body></html>")
    data = (IMAGENET_PHOTOS / "lemon.jpg").read_bytes()
    (root / "junk" / "cut.jpg").write_bytes(data[: len(data) // 3])
    return root


@pytest.fixture(scope="module")
def decoded(spark, photo_folder):
    from crowdlens.io.ingest import ingest
    from crowdlens.stages.decode import decode_stage
    from crowdlens.stages.read import read_bytes_stage

    photos = ingest(spark, photo_folder, IngestConfig())
    assert photos.n_photos == 5
    return decode_stage(read_bytes_stage(photos.df), DecodeConfig()).cache()


def test_classify_fills_predictions_for_ok_rows_only(decoded, mobilenet_bundle):
    out = classify_stage(decoded, str(mobilenet_bundle), InferenceConfig(batch_size=2), topk=3)
    assert out.columns[: len(decoded.columns)] == decoded.columns
    assert out.columns[len(decoded.columns) :] == [S.PRED_LABEL, S.PRED_SCORE, S.TOPK]
    rows = {r[S.PATH].rsplit("/", 1)[-1]: r for r in out.drop(S.CONTENT).collect()}
    assert len(rows) == 5
    for name in ("orange", "lemon", "pineapple"):
        r = rows[f"{name}.jpg"]
        assert r[S.STATUS] == S.STATUS_OK
        assert r[S.PRED_LABEL] == name
        scores = [t["score"] for t in r[S.TOPK]]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)
        assert r[S.TOPK][0]["label"] == name and r[S.PRED_SCORE] == pytest.approx(scores[0])
        assert 0 < sum(scores) <= 1.0001
    for name in ("page.jpg", "cut.jpg"):
        r = rows[name]
        assert r[S.STATUS] == S.STATUS_ERROR and r[S.ERROR]
        assert r[S.PRED_LABEL] is None and r[S.PRED_SCORE] is None and r[S.TOPK] is None


def test_one_pass_embedding_equals_the_training_path(decoded, mobilenet_bundle):
    out = classify_stage(decoded, str(mobilenet_bundle), embed=True, logits=True)
    assert {S.EMBEDDING, S.LOGITS, S.PRED_LABEL} <= set(out.columns)
    bundle = load_bundle(mobilenet_bundle)
    for r in (
        out.where(out[S.STATUS] == S.STATUS_OK).select(S.PATH, S.EMBEDDING, S.LOGITS).collect()
    ):
        # The path a training job or the CLI takes: bytes -> preprocess -> ORT, in this process.
        x = preprocess_bytes(Path(r[S.PATH]).read_bytes(), bundle)[None]
        ref = run(bundle, x)
        np.testing.assert_allclose(np.asarray(r[S.EMBEDDING]), ref["features"][0], atol=1e-4)
        np.testing.assert_allclose(np.asarray(r[S.LOGITS]), ref["logits"][0], atol=1e-3)
        assert len(r[S.EMBEDDING]) == 1280 and len(r[S.LOGITS]) == 1000


def test_embed_stage_and_model_input_errors(spark, mobilenet_bundle, photo_bytes):
    rows = [
        ("a", photo_bytes["orange"], S.STATUS_OK, None),
        ("b", b"\xff\xd8\xff broken", S.STATUS_OK, None),  # decode said ok, the model disagrees
        ("c", None, S.STATUS_ERROR, "read: no such file"),
    ]
    ddl = f"{S.IMAGE_ID} string, {S.CONTENT} binary, {S.STATUS} string, {S.ERROR} string"
    df = spark.createDataFrame(rows, ddl)
    embedded = inference_stage(df, str(mobilenet_bundle), embed=True, classify=False, name="embed")
    out = {r[S.IMAGE_ID]: r for r in embedded.collect()}
    assert out["a"][S.STATUS] == S.STATUS_OK and len(out["a"][S.EMBEDDING]) == 1280
    assert out["b"][S.STATUS] == S.STATUS_ERROR and out["b"][S.ERROR].startswith("model input:")
    assert out["b"][S.EMBEDDING] is None
    assert out["c"][S.ERROR] == "read: no such file" and out["c"][S.EMBEDDING] is None


def test_stage_fails_early_and_clearly(spark, tmp_path):
    from crowdlens.errors import CrowdlensError

    df = spark.createDataFrame([("a",)], f"{S.IMAGE_ID} string")
    with pytest.raises(CrowdlensError, match="needs the columns"):
        classify_stage(df, "efficientnet_lite0")
    df = spark.createDataFrame([(b"x", "ok")], f"{S.CONTENT} binary, {S.STATUS} string")
    with pytest.raises(CrowdlensError, match="neither a bundle directory nor a model name"):
        classify_stage(df, str(tmp_path / "nope"))


def test_model_stage_runs_what_the_config_says(decoded, mobilenet_bundle):
    from crowdlens.stages.classify import model_stage

    assert model_stage(decoded, InferenceConfig()) is decoded  # no bundle: no model
    out = model_stage(decoded, InferenceConfig(bundle=str(mobilenet_bundle), topk=2))
    added = out.columns[len(decoded.columns) :]
    assert added == [S.PRED_LABEL, S.PRED_SCORE, S.TOPK, S.LOGITS]
    ok = out.where(out[S.STATUS] == S.STATUS_OK).select(S.PRED_LABEL, S.TOPK).collect()
    assert len(ok) == 3 and all(r[S.PRED_LABEL] and len(r[S.TOPK]) == 2 for r in ok)
