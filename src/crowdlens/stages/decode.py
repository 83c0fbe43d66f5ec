"""The decode stage: status, error, size, hash and format for every photo.

It also reads each photo's provenance (EXIF capture time, GPS, camera,
software; :mod:`crowdlens.quality.provenance`) in the same pass over the
bytes, before anything is stripped: the columns are private results, never
part of a released copy.
"""

from __future__ import annotations

import contextlib
from functools import partial
from typing import TYPE_CHECKING

from crowdlens import schema as S
from crowdlens.config import DecodeConfig
from crowdlens.decode import DecodeError, decode_image
from crowdlens.quality.config import QualityConfig

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame


#: Columns the stage adds, in order.
COLUMNS = (*S.DECODE_COLUMNS, *S.PROVENANCE_COLUMNS)


def decode_row(
    data: bytes | None, read_error: str | None, max_pixels: int, gps_decimals: int = 3
) -> dict:
    """The decode and provenance columns for one photo (pure; no Spark)."""
    from crowdlens.quality.provenance import read_provenance

    row: dict = dict.fromkeys(COLUMNS)
    if read_error is not None:
        row.update({S.STATUS: S.STATUS_ERROR, S.ERROR: read_error})
        return row
    try:
        img = decode_image(data, max_pixels=max_pixels)
    except DecodeError as exc:
        row.update({S.STATUS: S.STATUS_ERROR, S.ERROR: str(exc)})
        return row
    except Exception as exc:  # never let one photo fail the job
        row.update({S.STATUS: S.STATUS_ERROR, S.ERROR: f"unexpected decode failure: {exc!r}"})
        return row
    row.update(
        {
            S.STATUS: S.STATUS_OK,
            S.WIDTH: img.width,
            S.HEIGHT: img.height,
            S.FORMAT: img.format,
            S.HAS_GPS: img.has_gps,
        }
    )
    # Odd metadata is missing metadata, never a failed photo.
    with contextlib.suppress(Exception):
        row.update(read_provenance(img.exif, gps_decimals))
    return row


def _decode(row: dict, max_pixels: int, gps_decimals: int) -> dict:
    return decode_row(row[S.CONTENT], row[S.READ_ERROR], max_pixels, gps_decimals)


def decode_stage(
    df: DataFrame, cfg: DecodeConfig, quality: QualityConfig | None = None
) -> DataFrame:
    """Add the decode and provenance columns (:data:`COLUMNS`); every row gets a status.

    ``quality`` supplies ``gps_decimals`` (how coarsely GPS is kept); the
    default keeps 3 decimals (~110 m).
    """
    from crowdlens.spark.rows import map_rows

    decimals = (quality or QualityConfig()).gps_decimals
    return map_rows(
        df,
        partial(_decode, max_pixels=cfg.max_pixels, gps_decimals=decimals),
        [S.CONTENT, S.READ_ERROR],
        COLUMNS,
        name="decode",
        hint="read the photo bytes first (crowdlens.io.read.read_bytes_stage)",
    )
