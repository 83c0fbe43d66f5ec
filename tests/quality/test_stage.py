"""The quality stages on real Spark, over a folder of real and distorted photos.

The input rows carry what ingest + decode give the stage (image_id, path,
_row, content, status, width, height, sha256); they are built here with the
decode helper so these tests do not depend on the pipeline's wiring.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crowdlens import schema as S
from crowdlens.decode import DecodeError, decode_image, sha256_hex
from crowdlens.quality.config import QualityConfig
from crowdlens.quality.duplicates import near_pairs
from crowdlens.quality.hashing import hamming
from crowdlens.quality.synthetic import DISTORTIONS, jpeg_bytes

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """Clean photos, one of each distortion, copies, and a broken file."""
    files = sorted((shared_data / "val").rglob("*.jpg"))
    src = [files[i] for i in range(0, len(files), len(files) // 9)][:9]
    rng = np.random.default_rng(3)
    root = tmp_path_factory.mktemp("quality-photos")
    for i, name in enumerate(["c1_clean", "c2_clean", "c3_clean"]):
        (root / f"{name}.jpg").write_bytes(src[i].read_bytes())
    for j, kind in enumerate(
        ["gaussian_blur", "motion_blur", "underexposed", "overexposed", "downscaled"]
    ):
        img = DISTORTIONS[kind][0](Image.open(src[3 + j]).convert("RGB"), rng)
        (root / f"d_{kind}.jpg").write_bytes(jpeg_bytes(img))
    # Copies sort after their originals ("c1" < "z"): the original is first.
    (root / "z_exact_copy_of_c1.jpg").write_bytes(src[0].read_bytes())
    near = DISTORTIONS["near_copy"][0](Image.open(src[1]).convert("RGB"), rng)
    (root / "z_near_copy_of_c2.jpg").write_bytes(jpeg_bytes(near, 80))
    (root / "broken.jpg").write_bytes(src[2].read_bytes()[:300])
    return root


def decoded_frame(spark, folder: Path):
    """One row per file, in name order, as ingest + decode would give the stage."""
    rows = []
    for i, f in enumerate(sorted(folder.iterdir())):
        data = f.read_bytes()
        try:
            img = decode_image(data)
            status, w, h = S.STATUS_OK, img.width, img.height
        except DecodeError:
            status, w, h = S.STATUS_ERROR, None, None
        rows.append((f"img{i:03d}", str(f), i, data, status, w, h, sha256_hex(data)))
    ddl = (
        S.struct_ddl(S.IMAGE_ID, S.PATH)
        + f", {S.ROW_NUMBER} long, "
        + S.struct_ddl(S.CONTENT, S.STATUS, S.WIDTH, S.HEIGHT, S.SHA256)
    )
    return spark.createDataFrame(rows, ddl).repartition(2)


@pytest.fixture(scope="module")
def results(spark, photo_folder: Path) -> dict[str, dict]:
    from crowdlens.stages.quality import duplicates_stage, quality_stage

    cfg = QualityConfig()
    df = decoded_frame(spark, photo_folder)
    out = duplicates_stage(quality_stage(df, cfg), cfg)
    return {Path(r[S.PATH]).stem: r.asDict() for r in out.collect()}


def test_each_photo_gets_its_flag_and_clean_ones_none(results: dict[str, dict]) -> None:
    assert len(results) == 11
    expected = {
        "c1_clean": [],
        "c2_clean": [],
        "c3_clean": [],
        "d_gaussian_blur": ["blurry"],
        "d_motion_blur": ["blurry"],
        "d_underexposed": ["too_dark"],
        "d_overexposed": ["too_bright"],
        "d_downscaled": ["low_resolution"],
        "z_exact_copy_of_c1": ["duplicate"],
        "z_near_copy_of_c2": ["duplicate"],
    }
    got = {k: results[k][S.QUALITY_FLAGS] for k in expected}
    assert got == expected


def test_duplicates_point_at_the_first_photo(results: dict[str, dict]) -> None:
    exact, near = results["z_exact_copy_of_c1"], results["z_near_copy_of_c2"]
    assert exact[S.DUPLICATE_OF] == results["c1_clean"][S.IMAGE_ID]
    assert exact[S.DUPLICATE_KIND] == "exact"
    assert near[S.DUPLICATE_OF] == results["c2_clean"][S.IMAGE_ID]
    assert near[S.DUPLICATE_KIND] == "near"
    assert results["c1_clean"][S.DUPLICATE_OF] is None


def test_measures_are_filled_and_error_rows_untouched(results: dict[str, dict]) -> None:
    broken = results["broken"]
    assert broken[S.STATUS] == S.STATUS_ERROR
    for col in (S.SHARPNESS, S.BLUR_EXTENT, S.PHASH, S.QUALITY_FLAGS, S.DUPLICATE_OF):
        assert broken[col] is None
    clean = results["c1_clean"]
    assert clean[S.SHORT_SIDE] == 348 and abs(clean[S.MEGAPIXELS] - 348 * 348 / 1e6) < 1e-9
    assert 0 < clean[S.BRIGHTNESS] < 1 and clean[S.SHARPNESS] > 0 and len(clean[S.PHASH]) == 16
    assert clean[S.QUALITY_ERROR] is None
    # Measures are real numbers, never NaN standing in for "missing".
    assert all(v == v for k, v in clean.items() if isinstance(v, float))


def test_cross_contributor_copies_are_reported(spark, photo_folder: Path) -> None:
    from pyspark.sql import functions as F

    from crowdlens.stages.quality import duplicates_stage, quality_stage

    cfg = QualityConfig(contributor_column="contributor")
    df = decoded_frame(spark, photo_folder)
    # The near copy comes from another contributor; the exact copy from the same one.
    who = F.when(F.col(S.PATH).contains("near_copy"), "mallory").otherwise("alice")
    out = duplicates_stage(quality_stage(df.withColumn("contributor", who), cfg), cfg)
    kinds = {
        Path(r[S.PATH]).stem: r[S.DUPLICATE_KIND]
        for r in out.where(F.col(S.DUPLICATE_OF).isNotNull()).collect()
    }
    assert kinds == {
        "z_exact_copy_of_c1": "exact",
        "z_near_copy_of_c2": "near_cross_contributor",
    }


def test_disabled_stage_adds_null_columns(spark, photo_folder: Path) -> None:
    from crowdlens.stages.quality import duplicates_stage, quality_stage

    cfg = QualityConfig(enabled=False)
    df = decoded_frame(spark, photo_folder)
    out = duplicates_stage(quality_stage(df, cfg), cfg)
    assert {S.SHARPNESS, S.QUALITY_FLAGS, S.DUPLICATE_OF} <= set(out.columns)
    assert out.where(f"{S.QUALITY_FLAGS} IS NOT NULL OR {S.SHARPNESS} IS NOT NULL").count() == 0


def test_banded_join_equals_brute_force(spark) -> None:
    """The join finds exactly the pairs an all-pairs comparison finds."""
    rnd = random.Random(5)
    hashes = [f"{rnd.getrandbits(64):016x}" for _ in range(150)]
    for i in range(60):  # plant near pairs at distances 0..14
        base = int(hashes[i], 16)
        flips = rnd.sample(range(64), i % 15)
        hashes.append(f"{base ^ sum(1 << p for p in flips):016x}")
    ids = [f"id{i:04d}" for i in range(len(hashes))]
    reps = spark.createDataFrame(list(zip(ids, hashes)), f"{S.IMAGE_ID} string, {S.PHASH} string")
    for cfg in (QualityConfig(hash_distance=10), QualityConfig(hash_distance=6, hash_bands=8)):
        got = {(r["a"], r["b"]) for r in near_pairs(reps, cfg).collect()}
        want = {
            (ids[i], ids[j])
            for i in range(len(ids))
            for j in range(i + 1, len(ids))
            if hamming(hashes[i], hashes[j]) <= cfg.hash_distance
        }
        assert got == want and len(want) >= 20
