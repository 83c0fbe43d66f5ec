"""Where a review reads its results and keeps its decisions (local folder or object store)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from crowdlens.io.fs import is_url
from crowdlens.io.results import results_path


def state_folder(results_dir: str, state_dir: str | None) -> Path:
    """Where ``review.sqlite`` lives: ``state_dir``, else the results folder if local.

    Results in an object store are read-only here: their decisions go to a
    local folder named after the URL (``./review-<last part>-<hash>``).
    """
    if state_dir:
        return Path(state_dir)
    if not is_url(results_dir):
        return Path(results_dir)
    tail = results_dir.rstrip("/").rsplit("/", 1)[-1] or "results"
    digest = hashlib.sha256(results_dir.encode()).hexdigest()[:8]
    return Path(f"review-{re.sub(r'[^A-Za-z0-9_.-]', '_', tail)}-{digest}")


def results_folder(results_dir: str | Path) -> tuple[str | Path, str | Path]:
    """``(results table, results folder)``; local folders resolved, URLs kept as URLs."""
    src = results_path(results_dir)
    if is_url(str(src)):
        s = str(src)
        return s, s.rsplit("/", 1)[0] if s.endswith(".parquet") else s
    src = Path(src)
    return src, (src.parent if src.name.endswith(".parquet") else src).resolve()
