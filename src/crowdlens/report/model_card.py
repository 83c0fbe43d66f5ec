"""What a label flag means, for the report: the model's own cross-validated figures.

``crowdlens train`` (probe and tail modes) fits the verdict thresholds out of
fold on its training photos and stores, in the bundle's ``metrics``, what it
expects of them when a share ``noise`` of the claims is wrong (half unrelated
items, half siblings): precision and recall of "suspect or mismatch", and the
share of correctly labelled photos flagged. A reviewer reading the report
should know that a flag is a question, not a finding, and how often it is
wrong. Figures judged by image and text (``metrics.text_evidence.cv``) are used
when most photos were judged that way, the image model's (``metrics.cv``)
otherwise. Only a bundle folder's ``bundle.json`` is read (no ONNX); a
registry name, a URL or a bundle without these figures gives nothing.

Example::

    flag_meaning("models/grocery-lite2", results)["precision"]   # 0.598
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from crowdlens import schema as S

log = logging.getLogger(__name__)

FIGURES = ("precision", "recall", "recall_random", "recall_sibling", "clean_flagged", "noise")


def _metrics(model: str | Path) -> dict[str, Any]:
    path = Path(str(model)) / "bundle.json"
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")).get("metrics") or {})
    except (OSError, ValueError, AttributeError) as exc:
        log.warning(
            "report: %s not read (%s); the report says nothing of what flags mean", path, exc
        )
        return {}


def flag_meaning(model: str | Path | None, results: pd.DataFrame) -> dict[str, Any] | None:
    """The bundle's expected precision, recalls and clean share flagged, or None."""
    if model is None:
        return None
    metrics = _metrics(model)
    judged = results.get(S.LABEL_EVIDENCE, pd.Series(dtype=object)).dropna()
    by_text = len(judged) > 0 and (judged == S.EVIDENCE_IMAGE_TEXT).mean() > 0.5
    text_cv = (metrics.get("text_evidence") or {}).get("cv") if by_text else None
    cv = text_cv or metrics.get("cv") or {}
    if not all(isinstance(cv.get(k), int | float) for k in FIGURES):
        return None
    return {
        **{k: float(cv[k]) for k in FIGURES},
        "photos": cv.get("photos"),
        "min_precision": cv.get("min_precision"),
        "reached": bool(cv.get("min_precision_reached")),
        "judged_by": "image and text" if text_cv else "image",
    }
