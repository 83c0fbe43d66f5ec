"""``moderate``: the whole pipeline, stage after stage, one results row per photo.

    ingest -> read bytes -> decode -> quality -> model -> text -> validate
           -> (light rows, persisted) -> duplicates -> decide -> results.parquet
                                                            -> report.html

Each stage is a ``DataFrame -> DataFrame`` function; this module only chooses
which run, in which order, and writes the outputs atomically. The per-photo
stages run as steps of one Python pass (one pandas UDF, see
:func:`crowdlens.spark.rows.run_steps`): the photo bytes and the decoded copy
never leave the Python worker, and only light rows come back to Spark. The
stages that look across photos (duplicates) or only at columns (decide) run
on those light rows. An incremental run computes the per-photo
stages for new photos only, and the cross-photo stages over everything.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError
from crowdlens.io.confine import InputPolicy
from crowdlens.io.fs import is_url, join
from crowdlens.io.ingest import ingest
from crowdlens.io.results import (
    RESULTS,
    prepare_output,
    results_frame,
    write_parquet_atomically,
)
from crowdlens.pipeline_config import ModerateConfig
from crowdlens.spark.progress import SparkProgress
from crowdlens.spark.rows import Step, columns_after, run_steps
from crowdlens.stages.decode import decode_step, shared_size
from crowdlens.stages.read import hash_stage, read_step

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

REPORT = "report.html"
# Columns the cross-photo stages derive again on every run (incremental runs
# recompute them over old and new rows together).
DERIVED = (S.DUPLICATE_OF, S.DUPLICATE_KIND, S.DUPLICATE_NOTE, S.DECISION, S.REASONS)


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
    decision_counts: dict[str, int] = field(default_factory=dict)
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
        if self.decision_counts:
            lines.append(
                "  decisions: "
                + ", ".join(f"{d} {self.decision_counts.get(d, 0)}" for d in S.DECISIONS)
            )
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

    df: DataFrame  # the rows this run computes (per-photo stages applied)
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
    """The lazy per-photo results for ``input_path`` (nothing is computed yet).

    With ``previous`` (an existing results table), only photos whose
    ``(image_id, sha256)`` is not in it are processed; the rest are kept.
    """
    photos = ingest(spark, input_path, cfg.ingest, cfg.spark.photos_per_partition)
    max_bytes = int(cfg.decode.max_file_mb * 1e6)
    todo = photos.df
    kept = None
    n_expected, n_todo = photos.n_photos, None
    if previous is not None:
        todo, kept, n_expected, n_todo = _only_new(
            spark, photos.df, previous, max_bytes, photos.policy
        )
    steps = per_photo_steps(
        todo.columns, cfg, max_bytes=max_bytes, policy=photos.policy, out_dir=out_dir,
        root=photos.root,
    )  # fmt: skip
    df = run_steps(todo, steps, working=S.PER_PHOTO_ONLY)
    return Plan(df, photos.n_photos, photos.root, kept, n_expected, n_todo)


def per_photo_steps(
    columns: Sequence[str],
    cfg: ModerateConfig,
    *,
    max_bytes: int,
    policy: InputPolicy | None,
    out_dir: str | Path | None,
    root: str | None,
) -> list[Step]:
    """Read, decode, quality, model, text and validation: each photo on its own.

    They run as one Python pass (:func:`~crowdlens.spark.rows.run_steps`);
    ``columns`` are the input table's, each step is built for the columns the
    steps before it add.
    """
    steps = [
        read_step(max_bytes, policy),
        decode_step(cfg.decode, cfg.quality, share=shared_size(cfg.quality, cfg.model)),
    ]
    have = columns_after(columns_after(columns, steps[0]), steps[1])

    def add(step: Step | None) -> None:
        nonlocal have
        if step is not None:
            steps.append(step)
            have = columns_after(have, step)

    if cfg.quality.enabled:
        from crowdlens.stages.quality import quality_step

        add(quality_step(cfg.quality, have))
    if cfg.model.bundle:
        from crowdlens.stages.classify import model_step

        add(model_step(cfg.model, have))
    if cfg.text.enabled and out_dir is not None:
        from crowdlens.stages.text import text_step

        add(text_step(cfg.text, str(out_dir), root))
    if cfg.model.bundle:
        from crowdlens.config import replace
        from crowdlens.stages.validate import validate_step

        validate = cfg.validate
        if validate.bundle is None:
            validate = replace(validate, bundle=cfg.model.bundle)
        add(validate_step(validate, have, reading=cfg.text if cfg.text.enabled else None))
    return steps


def cross_photo_stages(df: DataFrame, cfg: ModerateConfig) -> DataFrame:
    """Duplicates (across all rows) and the decision (from the columns)."""
    from crowdlens.stages.decide import decide_stage

    if cfg.quality.enabled and cfg.quality.duplicates:
        from crowdlens.stages.quality import duplicates_stage

        df = duplicates_stage(df, cfg.quality)
    return decide_stage(df, cfg.policy)


def _only_new(
    spark: SparkSession,
    photos: DataFrame,
    previous: Path | str,
    max_bytes: int,
    policy: InputPolicy,
) -> tuple[DataFrame, DataFrame, int, int]:
    """Split the input into photos to process and earlier rows to keep.

    A first pass streams every file through sha256 (nothing else); photos whose
    id and hash are already in the results are not read again.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    prev = spark.read.parquet(str(previous))
    prev_keys = prev.select(S.IMAGE_ID, F.col(S.SHA256).alias("_prev_sha"))
    hashed = hash_stage(photos.select(S.IMAGE_ID, S.PATH), max_bytes, policy)
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


def _strip_derived(df: DataFrame) -> DataFrame:
    """Earlier rows without what the cross-photo stages will derive again."""
    from pyspark.sql import functions as F

    df = df.drop(*[c for c in DERIVED if c in df.columns])
    if S.QUALITY_FLAGS in df.columns:
        df = df.withColumn(S.QUALITY_FLAGS, F.array_remove(F.col(S.QUALITY_FLAGS), "duplicate"))
    # Earlier photos come first in duplicate groups: they were there first.
    return df.withColumn(S.ROW_NUMBER, F.lit(-1).cast("long"))


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
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

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

    # The photo bytes are not needed past the per-photo stages; the light rows
    # are kept (memory, then disk) for the cross-photo stages and the write.
    light = plan.df.drop(*S.PER_PHOTO_ONLY).withColumn(S.RUN_ID, F.lit(run_id))
    light = light.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with SparkProgress(spark.sparkContext, "photos"):
            light.count()
        rows = light
        if plan.previous is not None:
            rows = _strip_derived(plan.previous).unionByName(light, allowMissingColumns=True)
        rows = cross_photo_stages(rows, cfg)
        with SparkProgress(spark.sparkContext, "writing"):
            write_parquet_atomically(finalize(rows), target)
    finally:
        light.unpersist()
    summary = summarize(spark, target, plan.n_expected, time.monotonic() - start, run_id)
    cards = write_scorecards(spark, target, out_dir, cfg)
    if cards is not None:
        summary.extra["contributors"] = cards
    if cfg.write_report:
        from crowdlens.report.html import write_report

        out = join(str(out_dir), REPORT)
        html = write_report(target, out, cfg.report, quality=cfg.quality, run_cfg=cfg)
        summary.extra["report"] = str(html)
    return summary


def write_scorecards(
    spark: SparkSession, target: Path | str, out_dir: str | Path, cfg: ModerateConfig
) -> str | None:
    """``out_dir/contributors.parquet`` when the input names contributors, else None."""
    column = cfg.quality.contributor_column
    results = results_frame(spark, target)
    if column not in results.columns:
        return None
    from crowdlens.contributors import scorecards, write_contributors

    return write_contributors(scorecards(results, contributor_column=column), out_dir)


def finalize(df: DataFrame) -> DataFrame:
    """Drop the working columns; keep rows in input order; run_id last."""
    out = df.sortWithinPartitions(S.ROW_NUMBER)
    out = out.drop(*[c for c in S.INTERNAL if c in out.columns])
    return out.select(*[c for c in out.columns if c != S.RUN_ID], S.RUN_ID)


def summarize(
    spark: SparkSession, target: Path | str, n_input: int, seconds: float, run_id: str
) -> ModerateSummary:
    """Read the written results back (a few columns) and check the row count."""
    from pyspark.sql import functions as F

    table = results_frame(spark, target)
    cols = [S.STATUS, S.ERROR, S.RUN_ID, S.DECISION]
    written = table.select(
        *[F.col(c) if c in table.columns else F.lit(None).cast("string").alias(c) for c in cols]
    )
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
    decisions = {
        r[S.DECISION]: r["count"]
        for r in written.where(F.col(S.DECISION).isNotNull()).groupBy(S.DECISION).count().collect()
    }
    summary = ModerateSummary(
        results_path=target,
        n_input=n_input,
        n_rows=n_rows,
        status_counts=counts,
        top_errors=[(example[k], n) for k, n in reasons.most_common(5)],
        seconds=seconds,
        n_processed=n_processed,
        decision_counts=decisions,
    )
    if S.RELEASE_VERIFIED in table.columns:  # the text stage ran: count verified releases
        verified = {
            r[S.RELEASE_VERIFIED]: r["count"]
            for r in table.where(F.col(S.RELEASE_VERIFIED).isNotNull())
            .groupBy(S.RELEASE_VERIFIED)
            .count()
            .collect()
        }
        summary.extra["redacted releases verified"] = (
            f"{verified.get(True, 0)} (withheld, personal data still readable: "
            f"{verified.get(False, 0)})"
        )
    return summary
