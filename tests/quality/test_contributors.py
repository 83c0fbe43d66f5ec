"""Contributor scorecards on pandas tables (no Spark; the Spark path runs end to end
in test_provenance_release.py and must give the same table)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crowdlens import schema as S
from crowdlens.contributors import render_contributors_section, scorecards, write_contributors
from crowdlens.errors import CrowdlensError


def results() -> pd.DataFrame:
    return pd.DataFrame(
        {
            S.IMAGE_ID: ["a1", "a2", "a3", "b1", "b2", "n1"],
            S.CONTRIBUTOR: ["ann", "ann", "ann", "bob", "bob", None],
            S.STATUS: ["ok", "ok", "error", "ok", "ok", "ok"],
            S.DECISION: ["accept", "review", "reject", "reject", "reject", "accept"],
            S.QUALITY_FLAGS: [
                [],
                ["edited", "stale_capture"],
                None,  # an error row: nothing judged
                ["duplicate", "shared_photo"],
                ["duplicate", "reused_photo", "low_information"],
                [],
            ],
            S.LABEL_VERDICT: ["confirmed", "mismatch", None, "confirmed", "mismatch", None],
            S.DUPLICATE_OF: [None, None, None, "a1", "b1", None],
        }
    )


def test_one_card_per_contributor_worst_first() -> None:
    t = scorecards(results())
    assert t[S.CONTRIBUTOR].tolist() == ["bob", "ann", None]  # by rejected share
    cards = t.set_index(S.CONTRIBUTOR)
    ann, bob = cards.loc["ann"], cards.loc["bob"]
    assert (ann[S.SC_PHOTOS], ann[S.SC_ERRORS]) == (3, 1)
    assert [ann[S.SC_ACCEPTED], ann[S.SC_REVIEWED], ann[S.SC_REJECTED]] == pytest.approx(
        [1 / 3, 1 / 3, 1 / 3]
    )
    assert ann[S.SC_LABEL_MISMATCHES] == 1 and bob[S.SC_LABEL_MISMATCHES] == 1
    assert ann[S.SC_PROVENANCE] == 1 and ann["flag_edited"] == 1 and ann["flag_stale_capture"] == 1
    # a1 (ann) was copied by bob: both sides of the pair count the shared photo.
    assert ann[S.SC_SHARED] == 1 and bob[S.SC_SHARED] == 1
    assert bob[S.SC_REUSED] == 1 and bob["flag_duplicate"] == 2 and bob["flag_low_information"] == 1


def test_missing_columns_count_as_empty_and_missing_contributor_is_explained() -> None:
    t = scorecards(pd.DataFrame({S.CONTRIBUTOR: ["x", "x"], S.STATUS: ["ok", "ok"]}))
    assert t.loc[0, S.SC_PHOTOS] == 2 and t.loc[0, S.SC_ACCEPTED] == 0.0
    with pytest.raises(CrowdlensError, match="need a 'contributor' column.*add it to the manifest"):
        scorecards(pd.DataFrame({S.STATUS: ["ok"]}))
    t = scorecards(results().rename(columns={S.CONTRIBUTOR: "who"}), contributor_column="who")
    assert "who" in t.columns and len(t) == 3


def test_written_atomically_beside_the_results(tmp_path: Path) -> None:
    t = scorecards(results())
    first = write_contributors(t, tmp_path)
    write_contributors(t.head(1), tmp_path)  # a second run replaces it whole
    assert Path(first) == tmp_path / S.CONTRIBUTORS_FILE
    assert len(pd.read_parquet(first)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [S.CONTRIBUTORS_FILE]


def test_report_section_escapes_and_sorts() -> None:
    df = results()
    df.loc[0:2, S.CONTRIBUTOR] = '<img src=x onerror="alert(1)">'
    html = render_contributors_section(scorecards(df))
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "(no contributor)" in html and 'data-sort="0.333333"' in html
    # Only the flags that occur get a column.
    assert "<th>edited</th>" in html and "<th>grayscale</th>" not in html
    short = render_contributors_section(scorecards(df), max_rows=1)
    assert short.count("<tr>") == 2 and "3 contributors; showing the first 1" in short
