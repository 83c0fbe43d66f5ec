"""``moderate``: the whole pipeline, stage after stage, one results row per photo.

    ingest -> read bytes -> decode -> (later stages) -> results.parquet

Each stage is a ``DataFrame -> DataFrame`` function; this module only chooses
which run, in which order, and writes the outputs atomically.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crowdlens import schema as S
from crowdlens.config import ModerateConfig
from crowdlens.errors import CrowdlensError
from crowdlens.io.fs import is_url
from crowdlens.io.ingest import hash_stage, ingest, read_bytes_stage
from crowdlens.io.results import (
    RESULTS,
    prepare_output,
    read_results,
    write_parquet_atomically,
)
from crowdlens.spark.progress import SparkProgress
from crowdlens.stages.decode import decode_stage

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModerateSummary:
    """What a ``moderate`` run did, for the CLI summary and for tests."""

    results_path: Path | str
    n_input: int
    n_rows: int
    status_counts: dict[str, int]
    top_errors: list[tuple[str, int]]  # (an example message of the kind, count)
    seconds: float
    n_processed: int = 0  # rows computed by this run (the rest were kept from earlier runs)
    extra: dict[str, object] = field(default_factory=dict)

    def format(self) -> str:
        lines = [
            f"crowdlens moderate: {self.n_rows} photos -> {self.results_path} "
            f"({self.seconds:.1f} s)"
        ]
        if self.n_processed != self.n_rows:
            lines.append(
                f"  incremental: {self.n_processed} photos processed, "
                f"{self.n_rows - self.n_processed} kept from earlier runs"
            )
        for status in (S.STATUS_OK, S.STATUS_ERROR):
            lines.append(f"  {status:<6} {self.status_counts.get(status, 0):>7}")
        if self.top_errors:
            lines.append("  most common error reasons (count, an example):")
            lines.extend(f"  {n:>7}  {_clip(reason, 110)}" for reason, n in self.top_errors)
        for key, value in self.extra.items():
            lines.append(f"  {key}: {value}")
        return "\n".join(lines)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def error_kind(message: str | None) -> str:
    """Group error messages by their kind (the text before the first colon)."""
    if not message:
        return "unknown"
    head = message.split(":", 1)[0].strip()
    return head if len(head) <= 80 else head[:77] + "..."


@dataclass(frozen=True)
class Plan:
    """The lazy results of one run and what is known before it runs."""

    df: DataFrame  # the rows this run computes
    n_input: int  # photos in the input
    root: str  # the input's root folder (redacted copies mirror paths below it)
    previous: DataFrame | None  # rows of earlier runs that are kept
    n_expected: int  # rows the results must have
    n_todo: int | None = None  # photos this run processes (None: all of them)


def build_results(
    spark: SparkSession,
    input_path: str | Path,
    cfg: ModerateConfig,
    *,
    out_dir: str | Path | None = None,
    previous: Path | str | None = None,
) -> Plan:
    """The lazy results DataFrame for ``input_path`` (nothing is computed yet).

    With ``previous`` (an existing results table), only photos whose
    ``(image_id, sha256)`` is not in it are processed; the rest are kept.
    """
    photos = ingest(spark, input_path, cfg.ingest, cfg.spark.photos_per_partition)
    max_bytes = int(cfg.decode.max_file_mb * 1e6)
    todo = photos.df
    kept = None
    n_expected, n_todo = photos.n_photos, None
    if previous is not None:
        todo, kept, n_expected, n_todo = _only_new(spark, photos.df, previous, max_bytes)
    df = read_bytes_stage(todo, max_bytes=max_bytes)
    df = decode_stage(df, cfg.decode)
    return Plan(df, photos.n_photos, photos.root, kept, n_expected, n_todo)


def _only_new(
    spark: SparkSession, photos: DataFrame, previous: Path, max_bytes: int
) -> tuple[DataFrame, DataFrame, int, int]:
    """Split the input into photos to process and earlier rows to keep.

    A first pass streams every file through sha256 (nothing else); photos whose
    id and hash are already in the results are not read again.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    prev = spark.read.parquet(str(previous))
    prev_keys = prev.select(S.IMAGE_ID, F.col(S.SHA256).alias("_prev_sha"))
    hashed = hash_stage(photos.select(S.IMAGE_ID, S.PATH), max_bytes)
    todo_ids = (
        hashed.join(
            prev_keys,
            (hashed[S.IMAGE_ID] == prev_keys[S.IMAGE_ID])
            & hashed[S.SHA256].eqNullSafe(prev_keys["_prev_sha"]),
            "left_anti",
        )
        .select(S.IMAGE_ID)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    n_todo = todo_ids.count()
    kept = prev.join(todo_ids, S.IMAGE_ID, "left_anti")
    n_kept = kept.count()
    log.info("incremental: %d new or changed photos, %d earlier rows kept", n_todo, n_kept)
    todo = photos.join(F.broadcast(todo_ids), S.IMAGE_ID, "left_semi")
    return todo, kept, n_kept + n_todo, n_todo


def finalize(df: DataFrame, run_id: str) -> DataFrame:
    """Drop the working columns, stamp the run, keep rows in input order."""
    from pyspark.sql import functions as F

    # run_id is the last column: bookkeeping, after everything the stages add.
    out = df.sortWithinPartitions(S.ROW_NUMBER).withColumn(S.RUN_ID, F.lit(run_id))
    return out.drop(*[c for c in S.INTERNAL if c in out.columns])


def new_run_id() -> str:
    import uuid
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def moderate(
    spark: SparkSession,
    input_path: str | Path,
    out_dir: str | Path,
    cfg: ModerateConfig | None = None,
    *,
    overwrite: bool = False,
    incremental: bool = False,
) -> ModerateSummary:
    """Run the pipeline on a folder or manifest and write ``out_dir/results.parquet``.

    ``incremental=True`` adds to existing results: only photos that are new
    (by id and content hash) are processed, and the union is written
    atomically; a second run on the same input changes nothing.

    Example::

        summary = moderate(spark, "examples/sample/photos", "out/sample")
        print(summary.format())
    """
    cfg = cfg or ModerateConfig()
    start = time.monotonic()
    if incremental and is_url(str(out_dir)):
        raise CrowdlensError(
            "--incremental needs --out on a file system (local or shared); for an object "
            "store, write to a shared folder and copy, or run without --incremental."
        )
    target = prepare_output(out_dir, overwrite or incremental, RESULTS)
    previous = target if incremental and Path(target).exists() else None
    run_id = new_run_id()
    plan = build_results(spark, input_path, cfg, out_dir=out_dir, previous=previous)
    if plan.n_todo == 0:  # nothing new: leave the results exactly as they are
        return summarize(spark, target, plan.n_expected, time.monotonic() - start, run_id)
    df = finalize(plan.df, run_id)
    if plan.previous is not None:
        df = plan.previous.unionByName(df, allowMissingColumns=True)
    with SparkProgress(spark.sparkContext, "moderate"):
        write_parquet_atomically(df, target)
    return summarize(spark, target, plan.n_expected, time.monotonic() - start, run_id)


def summarize(
    spark: SparkSession, target: Path | str, n_input: int, seconds: float, run_id: str
) -> ModerateSummary:
    """Read the written results back (status and error only) and check the row count."""
    from pyspark.sql import functions as F

    written = read_results(spark, target, [S.STATUS, S.ERROR, S.RUN_ID])
    n_processed = written.where(F.col(S.RUN_ID) == run_id).count()
    counts = {r[S.STATUS]: r["count"] for r in written.groupBy(S.STATUS).count().collect()}
    n_rows = sum(counts.values())
    if n_rows != n_input:  # the results contract: one row per input photo, always
        raise RuntimeError(f"results have {n_rows} rows for {n_input} input photos")
    reasons: Counter[str] = Counter()
    example: dict[str, str] = {}
    errors = written.where(F.col(S.STATUS) == S.STATUS_ERROR).groupBy(S.ERROR).count()
    for r in errors.collect():
        kind = error_kind(r[S.ERROR])
        reasons[kind] += r["count"]
        example.setdefault(kind, r[S.ERROR] or "")
    return ModerateSummary(
        results_path=target,
        n_input=n_input,
        n_rows=n_rows,
        status_counts=counts,
        top_errors=[(example[k], n) for k, n in reasons.most_common(5)],
        seconds=seconds,
        n_processed=n_processed,
    )
