"""The decode stage: status, error, size, hash and format for every photo."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from crowdlens import schema as S
from crowdlens.config import DecodeConfig
from crowdlens.decode import DecodeError, decode_image

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import DataFrame


def decode_row(data: bytes | None, read_error: str | None, max_pixels: int) -> dict:
    """The decode columns for one photo (pure; no Spark)."""
    row: dict = dict.fromkeys(S.DECODE_COLUMNS)
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
    return row


def _decode_batch(batch: pd.DataFrame, max_pixels: int) -> pd.DataFrame:
    import pandas as pd

    rows = [
        decode_row(data, err, max_pixels)
        for data, err in zip(batch[S.CONTENT], batch[S.READ_ERROR], strict=True)
    ]
    out = pd.DataFrame(rows, columns=list(S.DECODE_COLUMNS))
    out[S.WIDTH] = out[S.WIDTH].astype("Int32")
    out[S.HEIGHT] = out[S.HEIGHT].astype("Int32")
    out[S.HAS_GPS] = out[S.HAS_GPS].astype("boolean")
    return out


def decode_stage(df: DataFrame, cfg: DecodeConfig) -> DataFrame:
    """Add :data:`~crowdlens.schema.DECODE_COLUMNS`; every row gets a status."""
    from crowdlens.spark.columns import add_columns

    return add_columns(
        df,
        partial(_decode_batch, max_pixels=cfg.max_pixels),
        [S.CONTENT, S.READ_ERROR],
        list(S.DECODE_COLUMNS),
        name="decode",
    )
