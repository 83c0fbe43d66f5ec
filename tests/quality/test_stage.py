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
from crowdlens.decode import sha256_hex
from crowdlens.quality.config import QualityConfig
from crowdlens.quality.duplicates import near_pairs
from crowdlens.quality.hashing import hamming
from crowdlens.quality.synthetic import DISTORTIONS, jpeg_bytes
from crowdlens.stages.decode import decode_row

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
    kinds = ["gaussian_blur", "motion_blur", "underexposed", "overexposed", "downscaled"]
    kinds += ["featureless", "grayscale", "screenshot", "panorama"]
    more = [files[i] for i in range(len(files) // 18, len(files), len(files) // 9)]
    for j, kind in enumerate(kinds):
        img = DISTORTIONS[kind][0](Image.open((src + more)[3 + j]).convert("RGB"), rng)
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
        d = decode_row(data, None, 50_000_000)
        prov = tuple(d[c] for c in S.PROVENANCE_COLUMNS)
        rows.append((f"img{i:03d}", str(f), i, data, d[S.STATUS], d[S.WIDTH], d[S.HEIGHT]))
        rows[-1] += (sha256_hex(data), *prov)
    ddl = (
        S.struct_ddl(S.IMAGE_ID, S.PATH)
        + f", {S.ROW_NUMBER} long, "
        + S.struct_ddl(S.CONTENT, S.STATUS, S.WIDTH, S.HEIGHT, S.SHA256, *S.PROVENANCE_COLUMNS)
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
    assert len(results) == 15
    expected = {
        "c1_clean": [],
        "c2_clean": [],
        "c3_clean": [],
        "d_gaussian_blur": ["blurry"],
        "d_motion_blur": ["blurry"],
        "d_underexposed": ["too_dark"],
        "d_overexposed": ["too_bright"],
        "d_downscaled": ["low_resolution"],
        "d_featureless": ["low_information"],
        "d_grayscale": ["grayscale"],
        "d_screenshot": ["odd_aspect_ratio"],
        "d_panorama": ["odd_aspect_ratio"],
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
    assert clean[S.DETAIL] > 0.05 and clean[S.COLORFULNESS] > 0.15 and clean[S.ASPECT_RATIO] == 1
    assert results["d_panorama"][S.ASPECT_RATIO] > 2.4
    assert results["d_featureless"][S.DETAIL] < 0.045
    assert clean[S.SHORT_SIDE] == 348 and abs(clean[S.MEGAPIXELS] - 348 * 348 / 1e6) < 1e-9
    assert 0 < clean[S.BRIGHTNESS] < 1 and clean[S.SHARPNESS] > 0 and len(clean[S.PHASH]) == 16
    assert clean[S.QUALITY_ERROR] is None
    # Measures are real numbers, never NaN standing in for "missing".
    assert all(v == v for k, v in clean.items() if isinstance(v, float))


def test_cross_photo_signals_name_both_photos(spark, photo_folder: Path) -> None:
    from pyspark.sql import functions as F

    from crowdlens.stages.quality import duplicates_stage, quality_stage

    cfg = QualityConfig(contributor_column="contributor")
    df = decoded_frame(spark, photo_folder)
    # The near copy comes from another contributor (the same photo paid twice);
    # the exact copy from the same contributor, claiming another item.
    who = F.when(F.col(S.PATH).contains("near_copy"), "mallory").otherwise("alice")
    item = F.when(F.col(S.PATH).contains("exact_copy"), "Kiwi").otherwise("Banana")
    df = df.withColumn("contributor", who).withColumn(S.LABEL, item)
    out = duplicates_stage(quality_stage(df, cfg), cfg)
    rows = {Path(r[S.PATH]).stem: r for r in out.collect()}
    exact, near = rows["z_exact_copy_of_c1"], rows["z_near_copy_of_c2"]
    assert exact[S.DUPLICATE_KIND] == "exact"
    assert exact[S.QUALITY_FLAGS] == ["duplicate", "reused_photo"]
    assert near[S.DUPLICATE_KIND] == "near_cross_contributor"
    assert near[S.QUALITY_FLAGS] == ["duplicate", "shared_photo"]
    c1, c2 = rows["c1_clean"][S.IMAGE_ID], rows["c2_clean"][S.IMAGE_ID]
    assert near[S.DUPLICATE_NOTE] == (
        f"near copy of photo {c2!r} (contributor 'alice', item 'Banana'); "
        f"this photo {near[S.IMAGE_ID]!r}: contributor 'mallory', item 'Banana'"
    )
    assert f"exact copy of photo {c1!r}" in exact[S.DUPLICATE_NOTE]
    assert "contributor 'alice', item 'Kiwi'" in exact[S.DUPLICATE_NOTE]
    # Photos that are no one's copy carry no note.
    assert rows["c1_clean"][S.DUPLICATE_NOTE] is None
    # Run again over its own output (an incremental run keeps old rows): same flags.
    again = {Path(r[S.PATH]).stem: r[S.QUALITY_FLAGS] for r in duplicates_stage(out, cfg).collect()}
    assert again == {k: r[S.QUALITY_FLAGS] for k, r in rows.items()}


def test_provenance_flags_from_exif_and_manifest_columns(
    spark, tmp_path: Path, shared_data: Path
) -> None:
    from pyspark.sql import functions as F

    from crowdlens.stages.quality import quality_stage

    exif = Image.Exif()
    exif[0x0131] = "Adobe Photoshop 25.0"
    exif[0x8769] = {0x9003: "2023:01:10 10:00:00"}
    exif[0x8825] = {1: "S", 2: (1.0, 17.0, 11.0), 3: "E", 4: (36.0, 49.0, 4.0)}  # Nairobi
    photo = Image.open(sorted((shared_data / "val").rglob("*.jpg"))[0]).convert("RGB")
    photo.save(tmp_path / "a_from_exif.jpg", "JPEG", quality=90, exif=exif.tobytes())
    photo.save(tmp_path / "b_no_metadata.jpg", "JPEG", quality=90)
    df = decoded_frame(spark, tmp_path)
    df = df.withColumn(S.COUNTRY, F.lit("Uganda")).withColumn(S.SUBMITTED_AT, F.lit("2023-06-01"))
    rows = {Path(r[S.PATH]).stem: r for r in quality_stage(df, QualityConfig()).collect()}
    a, b = rows["a_from_exif"], rows["b_no_metadata"]
    assert a[S.QUALITY_FLAGS] == ["stale_capture", "location_mismatch", "edited"]
    assert a[S.GPS_COUNTRY] == "KE" and a[S.CAPTURE_AGE_DAYS] == pytest.approx(141.58, abs=0.01)
    # Missing metadata is a null column, not a flag.
    assert b[S.QUALITY_FLAGS] == [] and b[S.GPS_COUNTRY] is None and b[S.CAPTURE_AGE_DAYS] is None


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
