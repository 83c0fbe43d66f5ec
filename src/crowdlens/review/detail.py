"""One photo's details for the review detail view, read from the results table on demand.

The queue keeps only light columns in memory; everything the detail view
shows (top-k, text regions, quality measures) is read here when a photo is
opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crowdlens import schema as S
from crowdlens.io.results import open_results
from crowdlens.review.queue import json_safe, uncertainty

#: The measures the detail view lists, in order (app.js reads them from the session).
MEASURES = (*S.QUALITY_MEASURES, *S.CHECK_MEASURES, S.WIDTH, S.HEIGHT)

DETAIL = (
    S.IMAGE_ID,
    S.PATH,
    S.LABEL,
    S.COUNTRY,
    S.CONTRIBUTOR,
    S.STATUS,
    S.ERROR,
    *MEASURES,
    S.QUALITY_FLAGS,
    S.DUPLICATE_OF,
    S.PRED_LABEL,
    S.PRED_SCORE,
    S.TOPK,
    S.LABEL_PROB,
    S.LABEL_RANK,
    S.LABEL_VERDICT,
    S.LABEL_EVIDENCE,
    S.TEXT_REGIONS,
    S.PII_TYPES,
    S.REDACTED_PATH,
    S.DECISION,
    S.REASONS,
)


def read_detail(results: str | Path, image_id: str) -> dict[str, Any] | None:
    """Every column the detail view shows, for one photo (read from the table)."""
    import pyarrow.dataset as pads

    dataset = open_results(results)
    cols = [c for c in DETAIL if c in dataset.schema.names]
    table = dataset.to_table(columns=cols, filter=pads.field(S.IMAGE_ID) == image_id)
    if table.num_rows == 0:
        return None
    rec = {k: json_safe(v[0]) for k, v in table.slice(0, 1).to_pydict().items()}
    rec["uncertainty"] = round(uncertainty(rec), 4)
    return rec
