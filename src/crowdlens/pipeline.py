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
from crowdlens.io.ingest import ingest, read_bytes_stage
from crowdlens.io.results import RESULTS, prepare_output, write_parquet_atomically
from crowdlens.spark.progress import SparkProgress
from crowdlens.stages.decode import decode_stage

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModerateSummary:
    """What a ``moderate`` run did, for the CLI summary and for tests."""

    results_path: Path
    n_input: int
    n_rows: int
    status_counts: dict[str, int]
    top_errors: list[tuple[str, int]]  # (an example message of the kind, count)
    seconds: float
    extra: dict[str, object] = field(default_factory=dict)

    def format(self) -> str:
        lines = [
            f"crowdlens moderate: {self.n_rows} photos -> {self.results_path} "
            f"({self.seconds:.1f} s)"
        ]
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


def build_results(
    spark: SparkSession, input_path: str | Path, cfg: ModerateConfig
) -> tuple[DataFrame, int, str]:
    """The lazy results DataFrame for ``input_path`` (nothing runs yet)."""
    photos = ingest(spark, input_path, cfg.ingest, cfg.spark.photos_per_partition)
    df = read_bytes_stage(photos.df, max_bytes=int(cfg.decode.max_file_mb * 1e6))
    df = decode_stage(df, cfg.decode)
    return df, photos.n_photos, photos.root


def finalize(df: DataFrame) -> DataFrame:
    """Drop the working columns and order rows by input position."""
    out = df.sortWithinPartitions(S.ROW_NUMBER)
    return out.drop(*[c for c in S.INTERNAL if c in out.columns])


def moderate(
    spark: SparkSession,
    input_path: str | Path,
    out_dir: str | Path,
    cfg: ModerateConfig | None = None,
    *,
    overwrite: bool = False,
) -> ModerateSummary:
    """Run the pipeline on a folder or manifest and write ``out_dir/results.parquet``.

    Example::

        summary = moderate(spark, "examples/sample/photos", "out/sample")
        print(summary.format())
    """
    cfg = cfg or ModerateConfig()
    start = time.monotonic()
    target = prepare_output(out_dir, overwrite, RESULTS)
    df, n_input, _root = build_results(spark, input_path, cfg)
    with SparkProgress(spark.sparkContext, "moderate"):
        write_parquet_atomically(finalize(df), target)

    return summarize(spark, target, n_input, time.monotonic() - start)


def summarize(spark: SparkSession, target: Path, n_input: int, seconds: float) -> ModerateSummary:
    """Read the written results back (status and error only) and check the row count."""
    from pyspark.sql import functions as F

    written = spark.read.parquet(str(target)).select(S.STATUS, S.ERROR)
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
    )
