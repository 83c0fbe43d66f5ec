"""End to end on real Spark: provenance stays private, contributors get a scorecard.

Two real ``moderate`` runs:

* a manifest of four real val photos, one carrying a phone's EXIF (GPS,
  capture time, camera, editing app) and an exact copy of it submitted by
  another contributor, with the text stage on (it writes the released copies,
  re-encoded from pixels);
* the bundled sample manifest (70 files, a ``contributor`` column), text off,
  for ``contributors.parquet`` and the report section.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from crowdlens import schema as S
from crowdlens.contributors import render_contributors_section, scorecards, write_contributors

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample"
PRIVATE_STRINGS = (b"PhoneMaker", b"Snapseed", b"2024:01:15", b"Exif\x00\x00")


def phone_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "PhoneMaker", "PhoneMaker X12", "Snapseed 2.0"
    exif[0x8769] = {0x9003: "2024:01:15 09:30:00"}
    exif[0x8825] = {1: "S", 2: (1.0, 17.0, 11.64), 3: "E", 4: (36.0, 49.0, 3.78)}  # Nairobi
    return exif.tobytes()


@pytest.fixture(scope="module")
def private_run(spark, tmp_path_factory, shared_data: Path):
    from crowdlens.pipeline import moderate

    root = tmp_path_factory.mktemp("provenance-in")
    src = sorted((shared_data / "val").rglob("*.jpg"))[::97][:3]
    photo = Image.open(src[0]).convert("RGB")
    photo.save(root / "with_exif.jpg", "JPEG", quality=92, exif=phone_exif())
    (root / "copy_by_other.jpg").write_bytes((root / "with_exif.jpg").read_bytes())
    for i, p in enumerate(src[1:]):
        (root / f"plain_{i}.jpg").write_bytes(p.read_bytes())
    rows = [
        ("with_exif.jpg", "Kenya", "alice", "2024-06-01T10:00:00"),
        ("copy_by_other.jpg", "KE", "bob", "2024-06-02T10:00:00"),
        ("plain_0.jpg", "Uganda", "alice", "2024-06-01T10:00:00"),
        ("plain_1.jpg", "UG", "carol", "2024-06-01T10:00:00"),
    ]
    with open(root / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", S.COUNTRY, S.CONTRIBUTOR, S.SUBMITTED_AT])
        w.writerows((name, "Apple", *rest) for name, *rest in rows)
    out = tmp_path_factory.mktemp("provenance-out")
    moderate(spark, root / "manifest.csv", out)
    df = pd.read_parquet(out / "results.parquet")
    return out, df.set_index(df[S.PATH].map(lambda p: Path(p).name))


def test_provenance_columns_are_in_the_results(private_run) -> None:
    _, df = private_run
    row = df.loc["with_exif.jpg"]
    assert row[S.CAPTURED_AT] == "2024-01-15T09:30:00"
    assert (row[S.GPS_LAT], row[S.GPS_LON]) == (-1.287, 36.818)  # 3 decimals by default
    assert row[S.CAMERA] == "PhoneMaker X12" and row[S.SOFTWARE] == "Snapseed 2.0"
    assert row[S.GPS_COUNTRY] == "KE" and row[S.CAPTURE_AGE_DAYS] == pytest.approx(138.02, abs=0.01)
    # Claimed Kenya, taken in Kenya: no mismatch; captured 138 days before submission; edited.
    assert list(row[S.QUALITY_FLAGS]) == ["stale_capture", "edited"]
    plain = df.loc["plain_0.jpg"]
    assert plain[S.CAPTURED_AT] is None and pd.isna(plain[S.GPS_LAT])
    assert list(plain[S.QUALITY_FLAGS]) == []  # missing metadata is not a flag


def test_released_copies_carry_no_provenance(private_run) -> None:
    from crowdlens.io.outputs import resolve_output

    out, df = private_run
    for name in ("with_exif.jpg", "copy_by_other.jpg"):
        stored = df.loc[name, S.REDACTED_PATH]
        assert stored and not Path(stored).is_absolute(), (name, stored)
        released = Path(resolve_output(out, stored))
        data = released.read_bytes()
        assert not any(s in data for s in PRIVATE_STRINGS), name
        with Image.open(io.BytesIO(data)) as im:
            assert dict(im.getexif()) == {} and "exif" not in im.info
    # The original is never modified: it still has its EXIF.
    original = Path(df.loc["with_exif.jpg", S.PATH].removeprefix("file:"))
    assert b"Snapseed" in original.read_bytes()


def test_a_copy_by_another_contributor_names_both(private_run) -> None:
    _, df = private_run
    copy, first = df.loc["copy_by_other.jpg"], df.loc["with_exif.jpg"]
    assert copy[S.DUPLICATE_OF] == first[S.IMAGE_ID]
    assert {"duplicate", "shared_photo"} <= set(copy[S.QUALITY_FLAGS])
    note = copy[S.DUPLICATE_NOTE]
    assert repr(first[S.IMAGE_ID]) in note and repr(copy[S.IMAGE_ID]) in note
    assert "contributor 'alice'" in note and "contributor 'bob'" in note


def test_scorecards_of_the_run(spark, private_run) -> None:
    out, _ = private_run
    table = scorecards(spark.read.parquet(str(out / "results.parquet")))
    path = write_contributors(table, out)
    cards = pd.read_parquet(path).set_index(S.CONTRIBUTOR)
    assert cards.loc["alice", S.SC_PHOTOS] == 2 and cards.loc["bob", S.SC_PHOTOS] == 1
    # Both sides of the shared copy count it; carol shares nothing.
    assert cards.loc["alice", S.SC_SHARED] == 1 and cards.loc["bob", S.SC_SHARED] == 1
    assert cards.loc["carol", S.SC_SHARED] == 0
    assert cards.loc["alice", S.SC_PROVENANCE] == 1 and cards.loc["alice", "flag_edited"] == 1
    for who in cards.index:
        shares = cards.loc[who, [S.SC_ACCEPTED, S.SC_REVIEWED, S.SC_REJECTED]]
        assert shares.sum() == pytest.approx(1.0)


@pytest.fixture(scope="module")
def sample_run(spark, tmp_path_factory):
    from crowdlens.config import replace
    from crowdlens.pipeline import moderate
    from crowdlens.pipeline_config import ModerateConfig

    cfg = ModerateConfig()
    cfg = replace(cfg, text=replace(cfg.text, enabled=False))
    out = tmp_path_factory.mktemp("sample-contributors")
    moderate(spark, SAMPLE / "manifest.csv", out, cfg)
    return out


def test_contributors_table_and_report_section_on_the_sample(spark, sample_run) -> None:
    results = pd.read_parquet(sample_run / "results.parquet")
    local = scorecards(results)
    distributed = scorecards(spark.read.parquet(str(sample_run / "results.parquet"))).toPandas()
    # pandas and Spark give the same table.
    pd.testing.assert_frame_equal(
        local.sort_values(S.CONTRIBUTOR).reset_index(drop=True),
        distributed.sort_values(S.CONTRIBUTOR).reset_index(drop=True),
        check_dtype=False,
    )
    # moderate itself wrote the scorecards, and the report shows them.
    cards = pd.read_parquet(sample_run / S.CONTRIBUTORS_FILE).set_index(S.CONTRIBUTOR)
    pd.testing.assert_frame_equal(
        cards.sort_index(), local.set_index(S.CONTRIBUTOR).sort_index(), check_dtype=False
    )
    report = (sample_run / "report.html").read_text(encoding="utf-8")
    assert '<section id="contributors">' in report and ">c42<" in report
    assert cards[S.SC_PHOTOS].sum() == 70 == len(results)
    assert set(cards.index) == set(results[S.CONTRIBUTOR].astype(str))
    # c42 resubmitted c07's photos (a near and an exact copy): both are named.
    assert cards.loc["c42", S.SC_SHARED] == 2 and cards.loc["c07", S.SC_SHARED] >= 1
    # c99 uploaded the two unreadable files.
    assert cards.loc["c99", S.SC_ERRORS] == 2 and cards.loc["c99", S.SC_REJECTED] == 1.0
    # The note photo's GPS (Berlin) is kept privately and contradicts the claimed MX.
    note = results.set_index(results[S.PATH].map(lambda p: Path(p).name)).loc[
        "Banana_with_note.jpg"
    ]
    assert note[S.GPS_COUNTRY] == "DE" and "location_mismatch" in list(note[S.QUALITY_FLAGS])
    assert cards.loc["c42", S.SC_PROVENANCE] == 1
    html = render_contributors_section(local)
    assert html.startswith('<section id="contributors">') and html.count("<tr>") == len(cards) + 1
    assert "copies shared with others" in html and "cl-sortable" in html
