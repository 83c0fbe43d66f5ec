"""``crowdlens release``: only accepted photos, metadata-free copies, a correct manifest.

No Spark: a results folder is written the way ``moderate`` and ``review
export`` write it (Parquet dataset, released copies stored relative to it, the
review decision store), with real JPEGs that carry EXIF, GPS and an ICC profile.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from crowdlens import schema as S
from crowdlens.cli import main
from crowdlens.errors import CrowdlensError
from crowdlens.release import ReleaseConfig, metadata_found, release
from crowdlens.text.strip import strip_jpeg

# The moto S3 server fixture (pytest puts tests/ on sys.path): shared, not copied.

ORIGINALS = "/data/contributors/maria-garcia"


def _photo_with_metadata(path: Path, color: str) -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif.get_ifd(0x8825)[2] = (59.0, 19.0, 0.0)  # GPS latitude
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (48, 32), color).save(
        path, "JPEG", exif=exif.tobytes(), icc_profile=b"\0" * 128, comment=b"by Maria"
    )


def make_results(out: Path, **override) -> Path:
    """Five photos: accepted, in review, rejected, accepted (second), and a decode error."""
    rows = []
    for i, (decision, color) in enumerate(
        [("accept", "red"), ("review", "green"), ("reject", "blue"), ("accept", "white")]
    ):
        image_id = f"p{i}"
        stored = f"redacted/{ORIGINALS.strip('/')}/{image_id}.jpg"
        _photo_with_metadata(out.joinpath(*stored.split("/")), color)
        rows.append(
            {
                S.IMAGE_ID: image_id,
                S.PATH: f"{ORIGINALS}/{image_id}.jpg",
                S.LABEL: "Banana",
                "country": "KE",
                "contributor": "maria-garcia",
                S.STATUS: "ok",
                S.SHA256: "ab" * 32,
                S.HAS_GPS: True,
                S.TEXT_REGIONS: [{"text": "Maria Garcia", "pii_types": ["PERSON"]}],
                S.REDACTED_PATH: stored,
                S.RELEASE_VERIFIED: True,
                S.DECISION: decision,
            }
        )
    rows.append({**rows[0], S.IMAGE_ID: "p4", S.STATUS: "error", S.REDACTED_PATH: None})
    df = pd.DataFrame(rows)
    for column, values in override.items():
        df[column] = values
    (out / "results.parquet").mkdir(parents=True)
    df.to_parquet(out / "results.parquet" / "part-00000.parquet", index=False)
    return out


def released_ids(folder: Path) -> set[str]:
    return set(pd.read_csv(folder / "manifest.csv")[S.IMAGE_ID])


def test_only_accepted_photos_metadata_free_with_a_manifest(tmp_path):
    results = make_results(tmp_path / "run")
    with Image.open(next((results / "redacted").rglob("p0.jpg"))) as im:  # the control
        assert {"exif", "icc_profile", "comment", "EXIF tags"} <= set(metadata_found(im))
        assert im.getexif().get_ifd(0x8825)  # GPS
    done = release(results, tmp_path / "public", ReleaseConfig(public_columns=("country",)))
    public = tmp_path / "public"
    assert done.n_photos == 2 and done.n_rows == 5 and "pipeline" in done.decisions_from
    manifest = pd.read_csv(public / "manifest.csv")
    assert list(manifest.columns) == [S.IMAGE_ID, S.LABEL, S.RELEASE_FILE, "country"]
    assert manifest[S.IMAGE_ID].tolist() == ["p0", "p3"]
    assert manifest.equals(pd.read_parquet(public / "manifest.parquet"))
    files = sorted(p.relative_to(public).as_posix() for p in public.rglob("*") if p.is_file())
    assert files == ["images/p0.jpg", "images/p3.jpg", "manifest.csv", "manifest.parquet"]
    for rel in manifest[S.RELEASE_FILE]:
        with Image.open(public / rel) as im:
            assert metadata_found(im) == [] and im.size == (48, 32)
            assert im.getpixel((10, 10))[0] > 200  # the released pixels (red/white)
        # copied losslessly: the released copy's coded data, not a second JPEG generation
        copy = next((results / "redacted").rglob(Path(rel).name)).read_bytes()
        assert (public / rel).read_bytes() == strip_jpeg(copy)
    for f in public.rglob("*"):  # no original path, contributor, OCR text or hash anywhere
        if f.is_file():
            data = f.read_bytes()
            for leak in (b"maria", b"Maria", b"PhoneMaker", b"abab"):
                assert leak not in data, (f, leak)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".public")]  # no temp left


def test_reviewer_decisions_override_the_pipeline(tmp_path):
    from crowdlens.review.export import export_reviewed
    from crowdlens.review.store import DB_NAME, DecisionStore

    results = make_results(tmp_path / "run")
    store = DecisionStore(results / DB_NAME)
    # An automatic accept the reviewer rejected, and a review photo accepted with a new label.
    store.record([("p0", "reject", None), ("p1", "relabel", "Plantain")], reviewer="ann")
    store.close()
    export_reviewed(results)
    done = release(results, tmp_path / "public")
    manifest = pd.read_csv(tmp_path / "public" / "manifest.csv").set_index(S.IMAGE_ID)
    assert sorted(manifest.index) == ["p1", "p3"] and "reviewers" in done.decisions_from
    assert manifest.loc["p1", S.LABEL] == "Plantain" and manifest.loc["p3", S.LABEL] == "Banana"
    # A results table newer than the export would mix two runs: refused.
    part = results / "results.parquet" / "part-00000.parquet"
    os.utime(part, (part.stat().st_atime, (results / "final.parquet").stat().st_mtime + 10))
    with pytest.raises(CrowdlensError, match="older than the results.*review export"):
        release(results, tmp_path / "public2")


def test_refuses_unverified_or_missing_copies_naming_the_photos(tmp_path):
    failed = make_results(tmp_path / "a", **{S.RELEASE_VERIFIED: [True, True, True, False, None]})
    with pytest.raises(CrowdlensError, match=r"1 accepted photos failed release verification.*p3"):
        release(failed, tmp_path / "pa")
    assert not (tmp_path / "pa").exists()
    missing = make_results(tmp_path / "b")
    (missing / "redacted" / ORIGINALS.strip("/") / "p0.jpg").unlink()
    with pytest.raises(CrowdlensError, match="no released copy.*p0.*Originals are never"):
        release(missing, tmp_path / "pb")
    unknown = make_results(tmp_path / "c").joinpath("results.parquet", "part-00000.parquet")
    pd.read_parquet(unknown).drop(columns=[S.RELEASE_VERIFIED]).to_parquet(unknown)
    done = release(tmp_path / "c", tmp_path / "pc")
    assert done.unverified == 2 and "no release_verified column" in done.format()


def test_public_columns_are_input_metadata_only(tmp_path):
    results = make_results(tmp_path / "run")
    for column, message in ((S.PATH, "derived by crowdlens"), ("nope", "not a column")):
        with pytest.raises(CrowdlensError, match=message):
            release(results, tmp_path / "p", ReleaseConfig(public_columns=(column,)))
    # Provenance read from EXIF (capture time, GPS, camera) is private, always.
    from crowdlens.release import check_public_columns

    for column in S.PRIVATE_COLUMNS:
        with pytest.raises(CrowdlensError, match="derived by crowdlens"):
            check_public_columns((column,), [S.IMAGE_ID, column])


def test_cli_refuses_an_existing_release_unless_overwrite(tmp_path, capsys):
    results = make_results(tmp_path / "run")
    to = tmp_path / "public"
    assert main(["release", str(results), "--to", str(to), "--public-column", "country"]) == 0
    assert "2 accepted photos of 5" in capsys.readouterr().out
    assert main(["release", str(results), "--to", str(to)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["release", str(results), "--to", str(to), "--overwrite"]) == 0
    assert list(pd.read_csv(to / "manifest.csv").columns) == [S.IMAGE_ID, S.LABEL, "file"]


def test_release_from_results_in_an_object_store(s3, tmp_path, monkeypatch):
    """Results on S3 (moto's real HTTP S3 endpoint, the session fixture of tests/conftest.py)."""
    pytest.importorskip("s3fs")
    client, env = s3
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    local = make_results(tmp_path / "run")
    for f in local.rglob("*"):
        if f.is_file():
            client.upload_file(str(f), "survey", f"runs/rel/{f.relative_to(local).as_posix()}")
    done = release("s3://survey/runs/rel", tmp_path / "public")
    assert done.n_photos == 2 and released_ids(tmp_path / "public") == {"p0", "p3"}
    with Image.open(tmp_path / "public" / "images" / "p0.jpg") as im:
        assert metadata_found(im) == []
