"""Ingest: a folder or a manifest becomes one row per photo.

Only paths travel through the driver; the photo bytes are read by the Spark
workers (:func:`crowdlens.stages.read.read_bytes_stage`), so a missing or unreadable file becomes an
error row instead of a failed job.

* Folder: scanned recursively for photo extensions (case-insensitive); the
  label is the name of the photo's parent folder (``--no-folder-labels`` turns
  that off; photos directly in the root get no label). ``image_id`` is derived
  from the path relative to the folder, so it survives moving the folder.
* Manifest (CSV or Parquet): a ``path`` column (relative paths resolve against
  the manifest's folder), optional ``label`` (or ``IngestConfig.label_column``)
  and ``image_id``; every other column is carried through untouched.
  ``file://`` URLs become paths; which paths may be read at all is decided on
  the workers by :mod:`crowdlens.io.confine` (the input's folder tree by
  default), so a refused path is an error row, not a read.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crowdlens import schema as S
from crowdlens.config import IngestConfig
from crowdlens.decode import supported_extensions
from crowdlens.errors import CrowdlensError
from crowdlens.io.confine import InputPolicy, make_policy
from crowdlens.io.fs import filesystem, is_url, url_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".csv", ".parquet", ".pq")
ID_HEX = 20  # 80 bits of sha1: collision-free in practice for billions of photos
# Manifest columns that would collide with what crowdlens adds.
RESERVED = frozenset(S.DDL) - {S.IMAGE_ID, S.PATH, S.LABEL, S.PARENT_LABEL}


@dataclass(frozen=True)
class Ingested:
    """The photo table and what the driver learnt while building it."""

    df: DataFrame
    n_photos: int
    kind: str  # "folder" or "manifest"
    root: str  # the folder, or the manifest's folder: redacted copies mirror paths below it
    metadata_columns: tuple[str, ...]
    # What the workers may read: the input's folder tree by default (io/confine.py).
    policy: InputPolicy = field(default_factory=InputPolicy)


def path_id(relative: str) -> str:
    """Stable id for a photo from its path relative to the input root."""
    return hashlib.sha1(relative.replace(os.sep, "/").encode("utf-8")).hexdigest()[:ID_HEX]


def scan_folder(root: Path, extensions: Iterable[str]) -> tuple[list[Path], int]:
    """All photo files below ``root`` by extension, sorted; and how many other files."""
    exts = tuple(e.lower() for e in extensions)
    photos: list[Path] = []
    other = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            if name.lower().endswith(exts):
                photos.append(Path(dirpath) / name)
            else:
                other += 1
    return photos, other


def scan_url(root: str, extensions: Iterable[str]) -> tuple[list[str], int]:
    """All photo objects below a URL prefix (s3://bucket/prefix), sorted."""
    fs, base = filesystem(root)
    exts = tuple(e.lower() for e in extensions)
    photos, other = [], 0
    for key in sorted(fs.find(base)):
        name = key.rsplit("/", 1)[-1]
        if name.startswith("."):
            continue
        if name.lower().endswith(exts):
            photos.append(url_of(fs, key))
        else:
            other += 1
    return photos, other


def folder_table(root: Path | str, cfg: IngestConfig) -> pd.DataFrame:
    """The photo table of a folder or URL prefix, built on the driver (paths only)."""
    import pandas as pd

    exts = supported_extensions()
    if isinstance(root, str) and is_url(root):
        found, other = scan_url(root, exts)
        prefix = root.rstrip("/") + "/"
        pairs = [(u, u[len(prefix) :] if u.startswith(prefix) else u) for u in found]
    else:
        local, other = scan_folder(Path(root), exts)
        pairs = [(str(p.resolve()), p.relative_to(root).as_posix()) for p in local]
    if not pairs:
        raise CrowdlensError(
            f"No photos found in folder {str(root)!r} (looked recursively for "
            f"{', '.join(exts)}). Point crowdlens at a folder of photos or at a manifest."
        )
    if other:
        log.info("ignored %d files below %s that are not photos by extension", other, root)

    def label(rel: str) -> str | None:
        parts = rel.split("/")
        return parts[-2] if cfg.folder_labels and len(parts) > 1 else None

    return pd.DataFrame(
        {
            S.IMAGE_ID: [path_id(rel) for _, rel in pairs],
            S.PATH: [full for full, _ in pairs],
            S.LABEL: pd.Series([label(rel) for _, rel in pairs], dtype="object"),
            S.ROW_NUMBER: range(len(pairs)),
        }
    )


def _read_manifest(spark: SparkSession, path: Path | str) -> DataFrame:
    if is_url(str(path)):
        return _read_manifest_url(spark, str(path))
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            return spark.read.csv(str(path), header=True, inferSchema=False, multiLine=True)
        return spark.read.parquet(str(path))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CrowdlensError(f"Cannot read manifest {str(path)!r}: {first}") from None


def _read_manifest_url(spark: SparkSession, url: str) -> DataFrame:
    """A manifest in an object store, read with fsspec on the driver.

    Spark itself would need the hadoop-aws jars for s3a://; a manifest is only
    metadata, so the driver reads it and Spark distributes the rows.
    """
    import pandas as pd

    fs, key = filesystem(url)
    try:
        with fs.open(key, "rb") as fh:
            if url.lower().endswith(".csv"):
                table = pd.read_csv(fh, dtype=str, keep_default_na=False, na_values=[""])
            else:
                table = pd.read_parquet(fh)
    except Exception as exc:
        raise CrowdlensError(f"Cannot read manifest {url!r}: {exc}") from None
    if table.empty:
        raise CrowdlensError(f"Manifest {url!r} has no rows: nothing to moderate.")
    table = table.astype(object).where(table.notna(), None)
    return spark.createDataFrame(table) if len(table.columns) else spark.createDataFrame([])


def manifest_frame(
    spark: SparkSession, path: Path | str, cfg: IngestConfig
) -> tuple[DataFrame, int]:
    """The photo table of a manifest, read and normalised by Spark (never collected)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    df = _read_manifest(spark, path)
    cols = df.columns
    if S.PATH not in cols:
        raise CrowdlensError(
            f"Manifest {str(path)!r} has no {S.PATH!r} column (columns: {', '.join(cols)}). "
            "Add a 'path' column with each photo's path (relative paths resolve against "
            "the manifest's folder)."
        )
    clash = sorted(RESERVED & set(cols))
    if clash:
        raise CrowdlensError(
            f"Manifest {str(path)!r} has columns that crowdlens writes itself: "
            f"{', '.join(clash)}. Rename them (for example to manifest_{clash[0]})."
        )
    label_col = cfg.label_column
    if label_col != S.LABEL and label_col not in cols:
        raise CrowdlensError(
            f"Manifest {str(path)!r} has no label column {label_col!r} "
            f"(columns: {', '.join(cols)}); fix --label-column."
        )
    if label_col != S.LABEL and S.LABEL in cols:
        df = df.withColumnRenamed(S.LABEL, "manifest_label")
    if label_col in df.columns:
        df = df.withColumn(S.LABEL, F.col(label_col).cast("string"))
        if label_col != S.LABEL:
            df = df.drop(label_col)
    else:
        df = df.withColumn(S.LABEL, F.lit(None).cast("string"))

    df = df.withColumn(S.ROW_NUMBER, F.monotonically_increasing_id())
    df = _resolve_paths(df, path)
    n = df.count()
    if n == 0:
        raise CrowdlensError(f"Manifest {str(path)!r} has no rows: nothing to moderate.")

    if S.IMAGE_ID in cols:
        df = _check_ids(df, path, n)
    else:
        # Stable ids from the path as written; a path listed twice gets a suffix
        # so that every input row keeps its own row in the results.
        occurrence = F.row_number().over(Window.partitionBy("__raw_path").orderBy(S.ROW_NUMBER))
        base_id = F.substring(F.sha1(F.col("__raw_path")), 1, ID_HEX)
        df = df.withColumn(
            S.IMAGE_ID,
            F.when(occurrence == 1, base_id).otherwise(
                F.concat(base_id, F.lit("-"), occurrence.cast("string"))
            ),
        )
    return df.drop("__raw_path"), n


def _resolve_paths(df: DataFrame, manifest: Path | str) -> DataFrame:
    """Manifest paths as read: ``file://`` URLs become paths, relative paths are
    joined to the manifest's folder (``..`` stays: confinement judges it)."""
    from pyspark.sql import functions as F

    df = df.withColumn(S.PATH, F.trim(F.col(S.PATH).cast("string")))
    m = str(manifest)
    base = m.rsplit("/", 1)[0] if is_url(m) else str(Path(manifest).parent.resolve())
    raw = F.col(S.PATH)
    local = F.url_decode(F.regexp_replace(raw, "^(?i)file://(localhost)?", ""))
    return df.withColumn("__raw_path", F.coalesce(raw, F.lit(""))).withColumn(
        S.PATH,
        F.when(raw.isNull() | (raw == ""), F.lit(None).cast("string"))
        .when(F.lower(raw).startswith("file://"), local)
        .when(raw.startswith("/") | raw.contains("://"), raw)
        .otherwise(F.concat(F.lit(base + "/"), raw)),
    )


def _check_ids(df: DataFrame, path: Path | str, n: int) -> DataFrame:
    """The manifest's own ids as strings, refused when empty or repeated."""
    from pyspark.sql import functions as F

    df = df.withColumn(S.IMAGE_ID, F.col(S.IMAGE_ID).cast("string"))
    stats = df.agg(
        F.count(F.when(F.col(S.IMAGE_ID).isNull() | (F.col(S.IMAGE_ID) == ""), 1)).alias("null"),
        F.countDistinct(S.IMAGE_ID).alias("distinct"),
    ).first()
    if stats["null"]:
        raise CrowdlensError(
            f"Manifest {str(path)!r}: {stats['null']} rows have an empty image_id. "
            "Fill them in, or drop the image_id column to let crowdlens derive ids."
        )
    if stats["distinct"] != n:
        dup = df.groupBy(S.IMAGE_ID).count().where("count > 1").limit(3).toPandas()[S.IMAGE_ID]
        raise CrowdlensError(
            f"Manifest {str(path)!r}: image_id is not unique ({n - stats['distinct']} "
            f"repeats, e.g. {', '.join(map(str, dup))}). Make the ids unique, or drop "
            "the column to let crowdlens derive ids from the paths."
        )
    return df


def check_input(input_path: str | Path) -> Path | str:
    """Cheap checks before Spark starts: the input exists and can hold photos."""
    if is_url(str(input_path)):
        return _check_url(str(input_path))
    p = Path(input_path).expanduser()
    if not p.exists():
        raise CrowdlensError(
            f"Input {str(input_path)!r} does not exist. Pass a folder of photos or a manifest "
            "(.csv or .parquet with a 'path' column)."
        )
    if p.is_file() and p.suffix.lower() not in MANIFEST_SUFFIXES:
        raise CrowdlensError(
            f"Input {str(input_path)!r} is a file but not a manifest: pass a folder of photos, "
            "or a .csv/.parquet manifest with a 'path' column."
        )
    if p.is_dir() and p.suffix.lower() not in (".parquet", ".pq"):
        exts = supported_extensions()
        for _dirpath, _dirs, files in os.walk(p):
            if any(f.lower().endswith(exts) for f in files):
                break
        else:
            raise CrowdlensError(
                f"No photos found in folder {str(p)!r} (looked recursively for "
                f"{', '.join(exts)}). Point crowdlens at a folder of photos or at a manifest."
            )
    return p


def _check_url(url: str) -> str:
    fs, key = filesystem(url)
    try:
        exists = fs.exists(key)
    except Exception as exc:
        raise CrowdlensError(
            f"Cannot reach {url!r}: {exc}. Check the AWS credentials and endpoint "
            "(AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_ENDPOINT_URL)."
        ) from None
    if not exists:
        raise CrowdlensError(
            f"Input {url!r} does not exist. Pass a prefix holding photos or a manifest "
            "(.csv or .parquet with a 'path' column)."
        )
    if not fs.isdir(key) and not url.lower().endswith(MANIFEST_SUFFIXES):
        raise CrowdlensError(f"Input {url!r} is an object but not a .csv/.parquet manifest.")
    return url


FOLDER_SCHEMA = f"{S.IMAGE_ID} string, {S.PATH} string, {S.LABEL} string, {S.ROW_NUMBER} long"


def is_photo_folder(p: Path | str) -> bool:
    """A folder of photos (a Parquet dataset directory is a manifest)."""
    if isinstance(p, str):
        fs, key = filesystem(p)
        return bool(fs.isdir(key)) and not p.rstrip("/").lower().endswith((".parquet", ".pq"))
    return p.is_dir() and not (p.suffix.lower() in (".parquet", ".pq") and any(p.glob("*.parquet")))


def ingest(
    spark: SparkSession, input_path: str | Path, cfg: IngestConfig, per_partition: int = 64
) -> Ingested:
    """Build the photo table for a folder or a manifest.

    Example::

        photos = ingest(spark, "examples/sample/photos", IngestConfig())
        photos.df.columns  # ['image_id', 'path', 'label', '_row']
    """
    from pyspark.sql import functions as F

    from crowdlens.spark.session import default_partitions

    p = check_input(input_path)
    if is_photo_folder(p):
        table = folder_table(p, cfg)
        n = len(table)
        df = spark.createDataFrame(table, schema=FOLDER_SCHEMA)
        kind, root = "folder", str(p).rstrip("/") if isinstance(p, str) else str(p.resolve())
    else:
        df, n = manifest_frame(spark, p, cfg)
        kind = "manifest"
        root = p.rsplit("/", 1)[0] if isinstance(p, str) else str(p.parent.resolve())
    policy = make_policy(cfg.allowed_roots, cfg.allow_remote, cfg.confine_to_input, root)
    front = [S.IMAGE_ID, S.PATH, S.LABEL]
    meta = tuple(c for c in df.columns if c not in front and c not in S.INTERNAL)
    df = df.select(*front, *meta, S.ROW_NUMBER)
    parts = default_partitions(spark, n, per_partition)
    # Range partitioning on the row number keeps partitions even and in input order.
    df = df.repartitionByRange(parts, F.col(S.ROW_NUMBER)) if n > 1 else df.coalesce(1)
    log.info("ingested %d photos from %s %s in %d partitions", n, kind, p, parts)
    return Ingested(df=df, n_photos=n, kind=kind, root=root, metadata_columns=meta, policy=policy)
