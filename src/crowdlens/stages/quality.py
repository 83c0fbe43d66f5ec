"""The quality stages: per-photo measures and flags, then dataset-wide duplicates.

``quality_stage`` adds the measure columns, ``phash`` and ``quality_flags``;
``duplicates_stage`` (which needs ``phash``) adds ``duplicate_of`` and
``duplicate_kind`` and appends ``duplicate`` to ``quality_flags``.

Null conventions: rows whose ``status`` is not ``ok`` pass through with
every quality column null (``quality_flags`` too: nothing was judged). An
``ok`` row gets a list, empty when no flag applies. An ``ok`` photo that
cannot be measured (it should not happen after decode) keeps null measures,
an empty flag list and the reason in ``quality_error``.

Example::

    cfg = QualityConfig()
    df = duplicates_stage(quality_stage(decode_stage(df, DecodeConfig()), cfg), cfg)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from crowdlens import schema as S
from crowdlens.quality.config import QualityConfig
from crowdlens.spark.rows import Step, row_step, run_steps

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image
    from pyspark.sql import DataFrame

# The measures of issue #16 (low_information, grayscale, odd_aspect_ratio) follow the
# original ten; then what explains the provenance flags.
PROVENANCE_MEASURES = (S.CAPTURE_AGE_DAYS, S.GPS_COUNTRY)
MEASURE_COLUMNS = (*S.QUALITY_MEASURES, *S.CHECK_MEASURES)
QUALITY_COLUMNS = (
    *MEASURE_COLUMNS,
    *PROVENANCE_MEASURES,
    S.PHASH,
    S.QUALITY_FLAGS,
    S.QUALITY_ERROR,
)
DUPLICATE_COLUMNS = (S.DUPLICATE_OF, S.DUPLICATE_KIND, S.DUPLICATE_NOTE)
CROSS_PHOTO_FLAGS = (S.FLAG_DUPLICATE, S.FLAG_SHARED_PHOTO, S.FLAG_REUSED_PHOTO)
_INPUTS = (S.CONTENT, S.STATUS, S.WIDTH, S.HEIGHT)
# With the decode stage's shared copy, the photo bytes are not read at all.
_SHARED_INPUTS = (S.PIXELS, S.PIXELS_SIZE, S.STATUS, S.WIDTH, S.HEIGHT)


def assess_photo(
    content: bytes | None,
    status: str | None,
    width: int | None,
    height: int | None,
    cfg: QualityConfig,
    meta: Mapping[str, Any] | None = None,
    image: Image.Image | None = None,
) -> dict[str, Any]:
    """All quality columns of one photo (pure; no Spark).

    ``image`` is the photo already decoded at (at least) ``cfg.analysis_size``
    (the decode stage's shared copy); without it ``content`` is decoded here.

    ``meta`` holds the provenance columns and the manifest columns the
    provenance checks read (``cfg.submitted_at_column``, ``cfg.country_column``)
    when the table has them.

    >>> from crowdlens.quality.synthetic import jpeg_bytes
    >>> from PIL import Image
    >>> row = assess_photo(jpeg_bytes(Image.new("RGB", (80, 60), "black")), "ok", 80, 60,
    ...                    QualityConfig())
    >>> row["quality_flags"]
    ['low_resolution', 'too_dark', 'low_information']
    """
    from crowdlens.decode import NO_PIXEL_LIMIT, decode_image
    from crowdlens.quality.flags import quality_flags
    from crowdlens.quality.hashing import phash
    from crowdlens.quality.measures import measure
    from crowdlens.quality.provenance import provenance_row

    row: dict[str, Any] = dict.fromkeys(QUALITY_COLUMNS)
    if status != S.STATUS_OK:
        return row
    try:
        if image is None:
            size = (cfg.analysis_size, cfg.analysis_size)
            decoded = decode_image(content, max_pixels=NO_PIXEL_LIMIT, draft_size=size)
            image, width, height = decoded.image, width or decoded.width, height or decoded.height
        m = measure(
            image,
            width=width or image.width,
            height=height or image.height,
            analysis_size=cfg.analysis_size,
            dark_level=cfg.dark_level,
            bright_level=cfg.bright_level,
        ).as_dict()
        row.update({k: m[k] for k in MEASURE_COLUMNS})
        row[S.PHASH] = phash(image)
        facts, provenance_flags = provenance_row(meta or {}, cfg)
        row.update(facts)
        row[S.QUALITY_FLAGS] = quality_flags(m, cfg) + provenance_flags
    except Exception as exc:  # one odd photo must never fail the job
        row.update(dict.fromkeys((*MEASURE_COLUMNS, *PROVENANCE_MEASURES)))
        row[S.PHASH] = None
        row[S.QUALITY_FLAGS] = []
        row[S.QUALITY_ERROR] = (
            f"quality measures failed ({type(exc).__name__}: {exc}); the photo decoded, "
            "so please report this photo as a crowdlens bug"
        )
    return row


def _assess(row: dict[str, Any], cfg: QualityConfig) -> dict[str, Any]:
    from crowdlens.decode import unpack_pixels

    meta = {k: v for k, v in row.items() if k not in (*_INPUTS, *_SHARED_INPUTS)}
    pixels = row.get(S.PIXELS)
    image = None if pixels is None else unpack_pixels(pixels, row[S.PIXELS_SIZE])
    return assess_photo(
        row.get(S.CONTENT), row[S.STATUS], row[S.WIDTH], row[S.HEIGHT], cfg, meta, image
    )


def meta_inputs(columns: list[str], cfg: QualityConfig) -> list[str]:
    """The provenance and manifest columns of ``columns`` the provenance checks read."""
    wanted = (*S.PROVENANCE_COLUMNS, cfg.submitted_at_column, cfg.country_column)
    taken = (*_INPUTS, *_SHARED_INPUTS)
    return [c for c in dict.fromkeys(wanted) if c in columns and c not in taken]


def _null_columns(df: DataFrame, names: tuple[str, ...]) -> DataFrame:
    from pyspark.sql import functions as F

    return df.select(
        *[F.col(c) for c in df.columns if c not in names],
        *[F.lit(None).cast(S.DDL[n]).alias(n) for n in names],
    )


def quality_step(cfg: QualityConfig, columns: Sequence[str]) -> Step:
    """The quality stage as a :class:`~crowdlens.spark.rows.Step`, for a table with ``columns``.

    It reads the decode stage's shared copy when ``columns`` has it, else the bytes.
    """
    return row_step(
        partial(_assess, cfg=cfg),
        _SHARED_INPUTS if S.PIXELS in columns else _INPUTS,
        QUALITY_COLUMNS,
        name="quality",
        optional=meta_inputs(list(columns), cfg),
        hint="run the decode stage first",
    )


def quality_stage(df: DataFrame, cfg: QualityConfig) -> DataFrame:
    """Add the quality measures, ``phash`` and ``quality_flags`` (see the module doc).

    Reads ``status``, ``width`` and ``height`` (the decode stage's output)
    and the decode stage's shared copy (``pixels``) when it made one, else
    decodes ``content``. With ``cfg.enabled`` false the columns are added, null.

    Example::

        out = quality_stage(decoded, QualityConfig(min_short_side=200))
        out.select("image_id", "blur_extent", "quality_flags").show()
    """
    if not cfg.enabled:
        return _null_columns(df, QUALITY_COLUMNS)
    return run_steps(df, [quality_step(cfg, df.columns)])


def duplicates_stage(df: DataFrame, cfg: QualityConfig) -> DataFrame:
    """Add ``duplicate_of`` / ``duplicate_kind``; append ``duplicate`` to ``quality_flags``.

    ``duplicate_of`` is the ``image_id`` of the first photo of the group (by
    ``cfg.order_column``, else ``image_id``); that first photo itself keeps
    nulls. ``duplicate_kind`` is ``exact`` or ``near``, suffixed with
    ``_cross_contributor`` when ``cfg.contributor_column`` exists and differs;
    then ``shared_photo`` (another contributor) or ``reused_photo`` (same
    contributor, another item) is appended too, and ``duplicate_note`` names
    both photos, their contributors and items.

    This runs Spark jobs when called (the duplicate edges are collected to
    the driver); persist ``df`` first if what comes before it is expensive,
    or it is computed again when the result is written.

    Example::

        out = duplicates_stage(quality_stage(decoded, cfg), cfg)
        out.where("duplicate_of IS NOT NULL").select("image_id", "duplicate_of").show()
    """
    from pyspark.sql import functions as F

    from crowdlens.quality.duplicates import find_duplicates
    from crowdlens.spark.rows import require

    if not (cfg.enabled and cfg.duplicates):
        return _null_columns(df, DUPLICATE_COLUMNS)
    require(
        df,
        (S.IMAGE_ID, S.STATUS, S.SHA256, S.PHASH, S.QUALITY_FLAGS),
        "duplicates",
        "run quality_stage first",
    )
    dups = find_duplicates(df, cfg)
    base = df.drop(*[c for c in DUPLICATE_COLUMNS if c in df.columns])
    # The duplicate table is small (one row per duplicate): broadcast it so
    # the photos, bytes and all, are never shuffled.
    joined = base.join(F.broadcast(dups), on=S.IMAGE_ID, how="left")
    added = F.concat(
        F.array(F.lit(S.FLAG_DUPLICATE)), F.coalesce("_dup_flags", F.array().cast("array<string>"))
    )
    # Flags of an earlier duplicate pass (incremental runs keep old rows) are
    # derived again here, never carried over: the stage is idempotent.
    kept = F.filter(S.QUALITY_FLAGS, lambda f: ~f.isin(*CROSS_PHOTO_FLAGS))
    flags = F.when(
        F.col(S.DUPLICATE_OF).isNotNull() & F.col(S.QUALITY_FLAGS).isNotNull(),
        F.concat(kept, added),
    ).otherwise(kept)
    return joined.select(
        *[F.col(c) for c in base.columns if c != S.QUALITY_FLAGS],
        flags.alias(S.QUALITY_FLAGS),
        *[F.col(c) for c in DUPLICATE_COLUMNS],
    )
