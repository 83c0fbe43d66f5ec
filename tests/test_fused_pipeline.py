"""The per-photo stages in one Python pass give what they give stage by stage.

``moderate`` runs read, decode, quality, model, text and validation as steps
of one pandas UDF (:func:`crowdlens.spark.rows.run_steps`); each stage is
also a ``DataFrame -> DataFrame`` function of its own. Both paths run here
on real Spark, the shipped grocery model, real OCR and PII detection, over
photos of the bundled sample: the note photo, a cut-off upload and plain ones.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crowdlens import schema as S
from crowdlens.pipeline import build_results
from crowdlens.pipeline_config import ModerateConfig

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample" / "photos"
PHOTOS = (
    "Banana/Banana_with_note.jpg",  # text with personal data: blurred, verified
    "Banana/upload_cut_off.jpg",  # a truncated file: an error row
    "Banana/Banana_001.jpg",
    "Kiwi/Kiwi_001_blurred.jpg",
    "Avocado/Avocado_001.jpg",
    "Lemon/Lemon_001_dark.jpg",
)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fused") / "photos"
    for name in PHOTOS:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE / name, root / name)
    return root


def stage_by_stage(spark, root: Path, cfg: ModerateConfig, out: Path):
    """The same stages, each its own DataFrame -> DataFrame function (one UDF each)."""
    from crowdlens.config import replace
    from crowdlens.io.ingest import ingest
    from crowdlens.stages.classify import model_stage
    from crowdlens.stages.decode import decode_stage, shared_size
    from crowdlens.stages.quality import quality_stage
    from crowdlens.stages.read import read_bytes_stage
    from crowdlens.stages.text import text_stage
    from crowdlens.stages.validate import validate_stage

    photos = ingest(spark, root, cfg.ingest, cfg.spark.photos_per_partition)
    df = read_bytes_stage(photos.df, policy=photos.policy)
    df = decode_stage(df, cfg.decode, cfg.quality, share=shared_size(cfg.quality, cfg.model))
    df = quality_stage(df, cfg.quality)
    df = model_stage(df, cfg.model)
    df = text_stage(df, cfg.text, str(out), photos.root)
    df = validate_stage(df, replace(cfg.validate, bundle=cfg.model.bundle))
    return df


def _rows(df) -> dict[str, dict]:
    kept = [c for c in df.columns if c not in S.INTERNAL]
    return {r[S.IMAGE_ID]: r.asDict(recursive=True) for r in df.select(*kept).collect()}


def test_one_pass_gives_the_stage_by_stage_rows_and_files(spark, photos, grocery_model, tmp_path):
    from crowdlens.models.predict import InferenceConfig

    cfg = ModerateConfig(
        model=InferenceConfig(bundle=str(grocery_model)),
        write_report=False,
    )
    fused_out, staged_out = tmp_path / "fused", tmp_path / "staged"
    plan = build_results(spark, photos, cfg, out_dir=fused_out)
    # The photo bytes and the decoded copy stay in the Python worker.
    assert not set(S.PER_PHOTO_ONLY) & set(plan.df.columns)
    fused = _rows(plan.df)
    staged = _rows(stage_by_stage(spark, photos, cfg, staged_out))

    assert fused.keys() == staged.keys() and len(fused) == len(PHOTOS)
    for image_id, row in fused.items():
        other = staged[image_id]
        assert row.keys() == other.keys()
        for column, value in row.items():
            assert value == other[column], (row[S.PATH], column)
    by_name = {Path(r[S.PATH]).name: r for r in fused.values()}
    assert by_name["upload_cut_off.jpg"][S.STATUS] == S.STATUS_ERROR
    note = by_name["Banana_with_note.jpg"]
    assert note[S.PII_TYPES] and note[S.RELEASE_VERIFIED] is True
    assert by_name["Banana_001.jpg"][S.PRED_LABEL] and by_name["Banana_001.jpg"][S.LABEL_VERDICT]
    # The released copies are the same files, byte for byte.
    for row in fused.values():
        if row[S.REDACTED_PATH]:
            released = (fused_out / row[S.REDACTED_PATH]).read_bytes()
            assert released == (staged_out / row[S.REDACTED_PATH]).read_bytes()
    assert sum(r[S.REDACTED_PATH] is not None for r in fused.values()) == len(PHOTOS) - 1
