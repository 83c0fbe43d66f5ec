"""The text of training photos, read on Spark as the text stage reads it (for the text evidence).

Each photo is decoded and read with the text stage's own gate and OCR engine
(:func:`crowdlens.text.photo.read_lines`, the settings of ``[text]``), so
the text model learns from what ``moderate`` will hand it. The documents are
cached beside the features (``--features-cache``), keyed by the photos and
the reading settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crowdlens import schema as S
from crowdlens.text.config import TextConfig
from crowdlens.training.text_evidence import MIN_CONFIDENCE, document

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# The reading settings that change what is read (the rest: PII, redaction, previews).
READ_SETTINGS = (
    "gate", "gate_max_side", "gate_box_threshold", "det_int8", "read_gate_boxes",
    "ocr_max_side", "text_score", "det_box_threshold",
)  # fmt: skip


def document_rows(rows: Sequence[Mapping[str, Any]], cfg: TextConfig) -> list[dict[str, Any]]:
    """Pure per-batch helper: rows with a photo ``path`` -> its text document ("" if none).

    A photo that cannot be read or decoded gets an empty document: training
    leaves such photos out anyway (their features fail too).
    """
    from crowdlens.decode import decode_pixels
    from crowdlens.stages.text import reading_parts
    from crowdlens.text.photo import read_lines

    ocr, gate = reading_parts(cfg)
    out = []
    for row in rows:
        doc = ""
        try:
            with open(row[S.PATH], "rb") as f:
                pixels = decode_pixels(f.read())
            lines = read_lines(pixels, cfg, ocr, gate) or []
            doc = document(((ln.text, ln.confidence) for ln in lines), MIN_CONFIDENCE)
        except Exception as exc:  # one bad photo never fails the job
            log.warning("no text read from %s: %s: %s", row[S.PATH], type(exc).__name__, exc)
        out.append({S.TEXT_DOCUMENT: doc})
    return out


def read_settings(cfg: TextConfig) -> dict[str, Any]:
    """The settings of ``cfg`` that change what is read (a bundle records them)."""
    return {k: v for k, v in asdict(cfg).items() if k in READ_SETTINGS}


def reading_config(settings: Mapping[str, Any] | None) -> TextConfig:
    """The text settings a bundle's text model was trained with (defaults elsewhere)."""
    return TextConfig(**{k: v for k, v in (settings or {}).items() if k in READ_SETTINGS})


def _cache_key(paths: Sequence[str], cfg: TextConfig) -> str:
    key = ["text", sorted(paths), read_settings(cfg), MIN_CONFIDENCE]
    return hashlib.sha256(json.dumps(key, default=str).encode("utf-8")).hexdigest()[:16]


def read_documents(
    spark: SparkSession,
    table: pd.DataFrame,
    cfg: TextConfig | None = None,
    *,
    cache: str | Path | None = None,
    photos_per_partition: int = 16,
) -> list[str]:
    """The text document of each row of ``table`` (a ``path`` column), in order."""
    import pandas as pd

    from crowdlens.spark.rows import map_batches
    from crowdlens.training.head import collected

    cfg = cfg or TextConfig()
    photos = table[[S.PATH]].drop_duplicates()
    target = None
    if cache is not None:
        target = Path(cache) / f"text-{_cache_key(list(photos[S.PATH]), cfg)}.parquet"
    if target is not None and target.exists():
        log.info("photo text from cache %s", target)
        result = pd.read_parquet(target)
    else:
        log.info("reading the text of %d photos (text evidence)", len(photos))
        parts = max(2, -(-len(photos) // photos_per_partition))
        df = spark.createDataFrame(photos).repartition(parts)
        step = partial(document_rows, cfg=cfg)
        df = map_batches(df, step, [S.PATH], [S.TEXT_DOCUMENT], name="train_text")
        result = collected(df, target)
    docs = table[[S.PATH]].merge(result, on=S.PATH, how="left")[S.TEXT_DOCUMENT]
    return [d if isinstance(d, str) else "" for d in docs]
