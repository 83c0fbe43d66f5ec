"""Writing results atomically.

Spark writes the Parquet dataset into a hidden folder beside the target; only
when the job has succeeded is it renamed into place. A failed or killed job
leaves no half-written ``results.parquet`` (at most a hidden ``.tmp-`` folder,
removed on the next run).
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from crowdlens.errors import CrowdlensError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

RESULTS = "results.parquet"


def prepare_output(out_dir: str | Path, overwrite: bool, name: str = RESULTS) -> Path:
    """Check the output folder before any work starts; return the target path."""
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


def replace_atomically(tmp: Path, target: Path) -> None:
    """Move ``tmp`` to ``target``; an existing target is swapped out, then removed."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()


def write_parquet_atomically(df: DataFrame, target: Path) -> None:
    """Write ``df`` as a Parquet dataset at ``target``, all or nothing."""
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        df.write.mode("error").parquet(str(tmp))
        replace_atomically(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("wrote %s", target)
