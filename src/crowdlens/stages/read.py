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

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import DataFrame


def _read_batch(batch: pd.DataFrame, max_bytes: int, policy: InputPolicy | None) -> pd.DataFrame:
    import pandas as pd

    from crowdlens.decode import sha256_hex

    results = [read_file(p, max_bytes, policy) for p in batch[S.PATH]]
    data = [r[0] for r in results]
    return pd.DataFrame(
        {
            S.CONTENT: data,
            S.READ_ERROR: [r[1] for r in results],
            S.SHA256: [sha256_hex(d) if d is not None else None for d in data],
            S.FILE_SIZE: pd.array([len(d) if d is not None else None for d in data], "Int64"),
        }
    )


def read_bytes_stage(
    df: DataFrame, max_bytes: int = 200_000_000, policy: InputPolicy | None = None
) -> DataFrame:
    """Add the photo bytes and their hash (:data:`~crowdlens.schema.READ_COLUMNS`).

    The bytes are read by the workers; a file that cannot be read (or that
    ``policy`` refuses) gets a null ``content`` and a reason in ``_read_error``.
    """
    from crowdlens.spark.columns import add_columns

    return add_columns(
        df,
        partial(_read_batch, max_bytes=max_bytes, policy=policy),
        [S.PATH],
        list(S.READ_COLUMNS),
        name="read",
    )


def _hash_batch(batch: pd.DataFrame, max_bytes: int, policy: InputPolicy | None) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({S.SHA256: [file_sha256(p, max_bytes, policy) for p in batch[S.PATH]]})


def hash_stage(
    df: DataFrame, max_bytes: int = 200_000_000, policy: InputPolicy | None = None
) -> DataFrame:
    """Add only :data:`~crowdlens.schema.SHA256`, streaming each file (incremental runs)."""
    from crowdlens.spark.columns import add_columns

    return add_columns(
        df,
        partial(_hash_batch, max_bytes=max_bytes, policy=policy),
        [S.PATH],
        [S.SHA256],
        name="hash",
    )
