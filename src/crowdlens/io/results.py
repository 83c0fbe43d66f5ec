"""The results table on disk: written atomically, read back by the report, review and release.

Spark writes the Parquet dataset into a hidden folder beside the target; only
when the job has succeeded is it renamed into place. A failed or killed job
leaves no half-written ``results.parquet`` (at most a hidden ``.tmp-`` folder,
removed on the next run).

Reading it back, only the columns asked for are read, and columns a run did
not produce are simply absent: the report and the UI adapt to what exists.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crowdlens.errors import CrowdlensError
from crowdlens.io.atomic import atomic_path
from crowdlens.io.fs import filesystem, is_url, join

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow.dataset as ds
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

RESULTS = "results.parquet"


def prepare_output(out_dir: str | Path, overwrite: bool, name: str = RESULTS) -> Path | str:
    """Check the output folder before any work starts; return the target path."""
    if is_url(str(out_dir)):
        return _prepare_url(str(out_dir), overwrite, name)
    out = Path(out_dir).expanduser()
    target = out / name
    if target.exists() and not overwrite:
        raise CrowdlensError(
            f"{target} already exists. Pass --incremental to add new photos to it, "
            "--overwrite to replace it, or choose another --out."
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".crowdlens-write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CrowdlensError(
            f"Cannot write to the output folder {str(out)!r} ({exc.strerror or exc}). "
            "Choose a folder you can write to with --out."
        ) from None
    for stale in out.glob(f".{name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return target


def _prepare_url(out: str, overwrite: bool, name: str) -> str:
    fs, key = filesystem(out)
    target = join(out, name)
    try:
        if fs.exists(join(key, name)) and not overwrite:
            raise CrowdlensError(
                f"{target} already exists. Pass --overwrite to replace it, or choose another --out."
            )
        probe = join(key, f".crowdlens-write-test-{uuid.uuid4().hex}")
        fs.pipe(probe, b"")
        fs.rm(probe)
    except CrowdlensError:
        raise
    except Exception as exc:
        raise CrowdlensError(
            f"Cannot write to {out!r} ({exc}). Check the bucket, the credentials "
            "(AWS_ACCESS_KEY_ID/AWS_PROFILE) and the endpoint (AWS_ENDPOINT_URL)."
        ) from None
    return target


def write_parquet_atomically(df: DataFrame, target: Path | str) -> None:
    """Write ``df`` as a Parquet dataset at ``target``, all or nothing."""
    if isinstance(target, str) and is_url(target):
        write_parquet_url(df, target)
        return
    with atomic_path(target) as tmp:
        df.write.mode("error").parquet(str(tmp))
    log.info("wrote %s", target)


def _write_partitions(batches, tmp: str):  # runs on the workers
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark import TaskContext

    fs, key = filesystem(tmp)
    # One deterministic name per partition: a retried task overwrites its own
    # object instead of adding a second copy of the rows.
    name = f"part-{TaskContext.get().partitionId():05d}.parquet"
    writer = None
    rows = 0
    try:
        for batch in batches:
            if writer is None:
                fh = fs.open(join(key, name), "wb")
                writer = pq.ParquetWriter(fh, batch.schema)
            writer.write_batch(batch)
            rows += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
            fh.close()
    if rows:
        yield pa.RecordBatch.from_pydict({"file": [name], "rows": [rows]})


def write_parquet_url(df: DataFrame, target: str) -> None:
    """Write a Parquet dataset to an object store from the workers, through fsspec.

    The parts are written under a hidden prefix, then copied into ``target``
    with ``_SUCCESS`` last. Object stores have no atomic rename: readers should
    trust a results prefix only when ``_SUCCESS`` is there (Spark's own rule).
    """
    from functools import partial

    fs, key = filesystem(target)
    parent, name = key.rsplit("/", 1)
    tmp_key = join(parent, f".{name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp = target.rsplit("/", 1)[0] + "/" + tmp_key.rsplit("/", 1)[1]
    try:
        parts = df.mapInArrow(partial(_write_partitions, tmp=tmp), "file string, rows long")
        files = sorted(r["file"] for r in parts.collect())
        if fs.exists(key):
            fs.rm(key, recursive=True)
        for f in files:
            fs.copy(join(tmp_key, f), join(key, f))
        fs.pipe(join(key, "_SUCCESS"), b"")
    finally:
        if fs.exists(tmp_key):
            fs.rm(tmp_key, recursive=True)
    log.info("wrote %s (%d parts)", target, len(files))


def results_frame(spark, target: Path | str, columns: list[str] | None = None) -> DataFrame:
    """Results as a Spark DataFrame (local: read by Spark; object store: via :func:`read_results`)."""
    if isinstance(target, str) and is_url(target):
        return spark.createDataFrame(read_results(target, columns))
    df = spark.read.parquet(str(target))
    return df.select(*columns) if columns else df


def results_path(path: str | Path) -> Path | str:
    """``DIR/results.parquet`` for an output folder, or the Parquet path itself.

    Object-store URLs (``s3://bucket/runs/r1``) stay URLs.
    """
    if is_url(str(path)):
        fs, inner = filesystem(str(path))
        if fs.exists(join(inner, RESULTS)):
            return join(str(path), RESULTS)
        if fs.exists(inner):
            return str(path)
        raise CrowdlensError(
            f"No results at {str(path)!r}: pass the folder 'crowdlens moderate --out' wrote."
        )
    p = Path(path)
    if p.is_dir() and (p / RESULTS).exists():
        return p / RESULTS
    if p.exists():
        return p
    raise CrowdlensError(
        f"No results at {str(p)!r}: pass the folder written by 'crowdlens moderate --out DIR' "
        "(it holds results.parquet) or the results.parquet path itself."
    )


def open_results(path: str | Path) -> ds.Dataset:
    import pyarrow.dataset as pads

    p = results_path(path)
    try:
        if is_url(str(p)):  # pyarrow reads through the fsspec filesystem
            fs, inner = filesystem(str(p))
            return pads.dataset(inner, format="parquet", filesystem=fs)
        return pads.dataset(str(p), format="parquet")
    except Exception as exc:  # pyarrow's errors name the file, keep them
        raise CrowdlensError(f"Cannot read the results table {str(p)!r}: {exc}") from None


def columns_of(path: str | Path) -> list[str]:
    return list(open_results(path).schema.names)


def read_results(
    path: str | Path,
    columns: Sequence[str] | None = None,
    *,
    filter: Any = None,
) -> pd.DataFrame:
    """The results table as pandas, with only the requested columns that exist.

    Example::

        df = read_results("out/run1", [S.IMAGE_ID, S.DECISION, S.REASONS])
    """
    dataset = open_results(path)
    names = set(dataset.schema.names)
    cols = None if columns is None else [c for c in dict.fromkeys(columns) if c in names]
    return dataset.to_table(columns=cols, filter=filter).to_pandas()
