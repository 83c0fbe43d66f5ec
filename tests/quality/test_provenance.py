"""Provenance checks over real country boundaries (Natural Earth, offline; no Spark)."""

from __future__ import annotations

import pytest

from crowdlens import schema as S
from crowdlens.errors import ConfigError
from crowdlens.quality.config import QualityConfig
from crowdlens.quality.flags import explain
from crowdlens.quality.provenance import capture_age_days, gps_country, provenance_row

NAIROBI = {S.GPS_LAT: -1.287, S.GPS_LON: 36.818}
GENEVA = {S.GPS_LAT: 46.2044, S.GPS_LON: 6.1432}  # ~4 km from the French border


def flags(row: dict, cfg: QualityConfig | None = None) -> list[str]:
    return provenance_row(row, cfg or QualityConfig())[1]


@pytest.mark.parametrize("claimed", ["Kenya", "KE", "KEN", "kenya", " Kenya "])
def test_country_names_and_iso_codes_are_both_accepted(claimed: str) -> None:
    measures, raised = provenance_row({**NAIROBI, S.COUNTRY: claimed}, QualityConfig())
    assert measures[S.GPS_COUNTRY] == "KE" and raised == []


@pytest.mark.parametrize("claimed", ["Uganda", "UG", "Sweden", "SWE", "United States of America"])
def test_gps_outside_the_claimed_country_is_a_mismatch(claimed: str) -> None:
    row = {**NAIROBI, S.COUNTRY: claimed}
    assert flags(row) == [S.FLAG_LOCATION_MISMATCH]
    m = {**row, **provenance_row(row, QualityConfig())[0]}
    assert "is in KE, not in the claimed" in explain(S.FLAG_LOCATION_MISMATCH, m, QualityConfig())


def test_near_a_border_the_tolerance_decides() -> None:
    row = {**GENEVA, S.COUNTRY: "France"}
    assert gps_country(GENEVA[S.GPS_LAT], GENEVA[S.GPS_LON]) == "CH"
    assert flags(row) == []  # within 10 km of France: GPS error, not fraud
    assert flags(row, QualityConfig(location_tolerance_km=1)) == [S.FLAG_LOCATION_MISMATCH]


def test_unknown_country_or_missing_gps_is_no_flag() -> None:
    assert flags({**NAIROBI, S.COUNTRY: "Atlantis"}) == []
    assert flags({S.COUNTRY: "Kenya"}) == []
    measures, raised = provenance_row({}, QualityConfig())
    assert measures == {S.CAPTURE_AGE_DAYS: None, S.GPS_COUNTRY: None} and raised == []


def test_stale_capture_against_the_submission_time() -> None:
    row = {S.CAPTURED_AT: "2024-01-01T09:00:00+01:00", S.SUBMITTED_AT: "2024-03-01T09:00:00"}
    assert capture_age_days(row[S.CAPTURED_AT], row[S.SUBMITTED_AT]) == 60.0
    assert flags(row) == [S.FLAG_STALE_CAPTURE]
    assert flags(row, QualityConfig(stale_days=90)) == []
    assert flags(row, QualityConfig(stale_days=None)) == []
    assert flags({**row, S.SUBMITTED_AT: "2024-01-05"}) == []
    # The manifest column name is configurable.
    renamed = {S.CAPTURED_AT: row[S.CAPTURED_AT], "uploaded": "2025-01-01"}
    assert flags(renamed, QualityConfig(submitted_at_column="uploaded")) == [S.FLAG_STALE_CAPTURE]
    m = {**row, **provenance_row(row, QualityConfig())[0]}
    assert "60 days before it was submitted (> 30)" in explain(
        S.FLAG_STALE_CAPTURE, m, QualityConfig()
    )


def test_editing_software_is_flagged_camera_firmware_is_not() -> None:
    assert flags({S.SOFTWARE: "Adobe Photoshop Lightroom Classic 12.1"}) == [S.FLAG_EDITED]
    assert flags({S.SOFTWARE: "Snapseed 2.0"}) == [S.FLAG_EDITED]
    assert flags({S.SOFTWARE: "G998BXXU5CVDB"}) == []
    assert flags({S.SOFTWARE: "HDR+ 1.0.540104767zd"}) == []
    assert flags({S.SOFTWARE: "MyEditor 1"}, QualityConfig(editing_software=("myeditor",))) == [
        S.FLAG_EDITED
    ]


def test_provenance_config_messages_name_the_parameter() -> None:
    with pytest.raises(ConfigError, match=r"'gps_decimals' parameter of QualityConfig"):
        QualityConfig(gps_decimals=9)
    with pytest.raises(ConfigError, match=r"'stale_days'.*>= 0 or None"):
        QualityConfig(stale_days=-1)
