"""The read and hash stages: each photo's bytes (or its hash alone) added by the workers.

Every read passes :func:`crowdlens.io.read.read_file`, which confines the path
first (:mod:`crowdlens.io.confine`); a file that cannot be read, or is
refused, becomes a reason in ``_read_error``, never a failed job.

Example::

    photos = ingest(spark, "examples/sample/photos", IngestConfig())
    df = read_bytes_stage(photos.df, policy=photos.policy)   # + content, sha256, file_size
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from crowdlens import schema as S
from crowdlens.io.confine import InputPolicy
from crowdlens.io.read import file_sha256, read_file
from crowdlens.spark.rows import Step, row_step, run_steps

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame


def read_row(row: dict, max_bytes: int, policy: InputPolicy | None) -> dict:
    """The read columns of one photo (pure; no Spark): bytes, reason, hash and size."""
    from crowdlens.decode import sha256_hex

    data, error = read_file(row[S.PATH], max_bytes, policy)
    return {
        S.CONTENT: data,
        S.READ_ERROR: error,
        S.SHA256: sha256_hex(data) if data is not None else None,
        S.FILE_SIZE: len(data) if data is not None else None,
    }


def read_step(max_bytes: int = 200_000_000, policy: InputPolicy | None = None) -> Step:
    """The read stage as a :class:`~crowdlens.spark.rows.Step` (see :func:`read_bytes_stage`)."""
    return row_step(
        partial(read_row, max_bytes=max_bytes, policy=policy),
        [S.PATH],
        S.READ_COLUMNS,
        name="read",
        hint="ingest the photos first (crowdlens.io.ingest.ingest)",
    )


def read_bytes_stage(
    df: DataFrame, max_bytes: int = 200_000_000, policy: InputPolicy | None = None
) -> DataFrame:
    """Add the photo bytes and their hash (:data:`~crowdlens.schema.READ_COLUMNS`).

    The bytes are read by the workers; a file that cannot be read (or that
    ``policy`` refuses) gets a null ``content`` and a reason in ``_read_error``.
    """
    return run_steps(df, [read_step(max_bytes, policy)])


def _hash_row(row: dict, max_bytes: int, policy: InputPolicy | None) -> dict:
    return {S.SHA256: file_sha256(row[S.PATH], max_bytes, policy)}


def hash_stage(
    df: DataFrame, max_bytes: int = 200_000_000, policy: InputPolicy | None = None
) -> DataFrame:
    """Add only :data:`~crowdlens.schema.SHA256`, streaming each file (incremental runs)."""
    step = row_step(partial(_hash_row, max_bytes=max_bytes, policy=policy), [S.PATH], [S.SHA256],
                    name="hash", hint="ingest the photos first (crowdlens.io.ingest.ingest)")  # fmt: skip
    return run_steps(df, [step])
