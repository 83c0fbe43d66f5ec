"""The decode stage: status, error, size, hash and format for every photo.

It also reads each photo's provenance (EXIF capture time, GPS, camera,
software; :mod:`crowdlens.quality.provenance`) in the same pass over the
bytes, before anything is stripped: the columns are private results, never
part of a released copy.

Decode once: a JPEG is decoded at the coarsest DCT scale (Pillow ``draft``)
that keeps what the later stages need, never at full resolution here; the
status says whether the whole file decodes either way. With ``share`` the
reduced copy is kept in :data:`S.PIXELS` for the quality and model stages,
which then read it instead of decoding the bytes again. Only the text stage
decodes full resolution (its released copy is full size).
"""

from __future__ import annotations

import contextlib
from functools import partial
from typing import TYPE_CHECKING

from crowdlens import schema as S
from crowdlens.config import DecodeConfig
from crowdlens.decode import DecodeError, decode_image
from crowdlens.quality.config import QualityConfig
from crowdlens.spark.rows import Step, row_step, run_steps

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

    from crowdlens.models.predict import InferenceConfig


#: Columns the stage adds, in order (and :data:`SHARED` with ``share``).
COLUMNS = (*S.DECODE_COLUMNS, *S.PROVENANCE_COLUMNS)
SHARED = (S.PIXELS, S.PIXELS_SIZE)
# Without a stage to share with, decode at the coarsest scale (1/8 for a JPEG):
# libjpeg still reads every coefficient, so a damaged file fails the same way.
CHECK_SIZE = (1, 1)


def decode_row(
    data: bytes | None,
    read_error: str | None,
    max_pixels: int,
    gps_decimals: int = 3,
    *,
    draft_size: tuple[int, int] | None = None,
    share: bool = False,
) -> dict:
    """The decode and provenance columns for one photo (pure; no Spark).

    ``draft_size`` lets a JPEG decode at a reduced scale that keeps at least
    that size (None: full resolution); ``share`` adds the decoded copy as
    :data:`S.PIXELS` / :data:`S.PIXELS_SIZE`, bounded to twice ``draft_size``.
    """
    from crowdlens.decode import pack_pixels, within_twice
    from crowdlens.quality.provenance import read_provenance

    row: dict = dict.fromkeys((*COLUMNS, *SHARED) if share else COLUMNS)
    if read_error is not None:
        row.update({S.STATUS: S.STATUS_ERROR, S.ERROR: read_error})
        return row
    try:
        img = decode_image(data, max_pixels=max_pixels, draft_size=draft_size)
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
    if share:
        image = within_twice(img.image, draft_size) if draft_size else img.image
        row[S.PIXELS], row[S.PIXELS_SIZE] = pack_pixels(image)
    # Odd metadata is missing metadata, never a failed photo.
    with contextlib.suppress(Exception):
        row.update(read_provenance(img.exif, gps_decimals))
    return row


def _decode(
    row: dict, max_pixels: int, gps_decimals: int, draft: tuple[int, int], share: bool
) -> dict:
    return decode_row(
        row[S.CONTENT],
        row[S.READ_ERROR],
        max_pixels,
        gps_decimals,
        draft_size=draft,
        share=share,
    )


def shared_size(
    quality: QualityConfig | None, model: InferenceConfig | None
) -> tuple[int, int] | None:
    """The size the quality and model stages need the photo at (None: neither runs).

    Quality measures at ``analysis_size`` on the long side; the model resizes
    the short side to its bundle's ``resize``. A JPEG decoded at the scale that
    keeps the larger of the two serves both.
    """
    sizes = []
    if quality is not None and quality.enabled:
        sizes.append(quality.analysis_size)
    if model is not None and model.bundle:
        from crowdlens.models.hub import resolve_bundle

        sizes.append(max(resolve_bundle(model.bundle).preprocess.draft_size))
    return (max(sizes), max(sizes)) if sizes else None


def decode_step(
    cfg: DecodeConfig,
    quality: QualityConfig | None = None,
    *,
    share: tuple[int, int] | None = None,
) -> Step:
    """The decode stage as a :class:`~crowdlens.spark.rows.Step` (see :func:`decode_stage`)."""
    decimals = (quality or QualityConfig()).gps_decimals
    fn = partial(
        _decode,
        max_pixels=cfg.max_pixels,
        gps_decimals=decimals,
        draft=share or CHECK_SIZE,
        share=share is not None,
    )
    return row_step(
        fn,
        [S.CONTENT, S.READ_ERROR],
        (*COLUMNS, *SHARED) if share else COLUMNS,
        name="decode",
        hint="read the photo bytes first (crowdlens.stages.read.read_bytes_stage)",
    )


def decode_stage(
    df: DataFrame,
    cfg: DecodeConfig,
    quality: QualityConfig | None = None,
    *,
    share: tuple[int, int] | None = None,
) -> DataFrame:
    """Add the decode and provenance columns (:data:`COLUMNS`); every row gets a status.

    ``quality`` supplies ``gps_decimals`` (how coarsely GPS is kept); the
    default keeps 3 decimals (~110 m). ``share`` (see :func:`shared_size`)
    also adds the reduced copy the quality and model stages read.

    Example::

        share = shared_size(QualityConfig(), InferenceConfig(bundle="models/grocery"))
        df = decode_stage(df, DecodeConfig(), share=share)
    """
    return run_steps(df, [decode_step(cfg, quality, share=share)])
