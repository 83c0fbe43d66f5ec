"""What a label flag means, for the report: the model's own cross-validated figures.

``crowdlens train`` (probe and tail modes) fits the verdict thresholds out of
fold on its training photos and stores, in the bundle's ``metrics``, what it
expects of them when a share ``noise`` of the claims is wrong, half of them
filed under a random other item and half under a sibling item
(``training/thresholds.py``): precision and recall of "suspect or mismatch",
the recall of each kind, and the share of correctly labelled photos flagged.
A reviewer reading the report should know that a flag is a question, not a
finding, and how often it is wrong.

The figures follow the verdicts actually made: those judged by image and text
(``metrics.text_evidence.cv``) and by the image alone (``metrics.cv``), each
with the number of photos it covers, from the bundle that judged them
(``[validate] bundle``, else ``[model] bundle``). When ``[validate]`` overrides
the fitted thresholds or the temperature, the figures describe other verdicts
and the report says so instead. Only a bundle folder's ``bundle.json`` is read
(no ONNX); a registry name, a URL, a bundle without these figures or a
malformed one gives nothing (the report is never stopped by it).

Example::

    flag_meaning(cfg, results)   # cfg: the ModerateConfig of the run
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd

from crowdlens import schema as S

log = logging.getLogger(__name__)

FIGURES = ("precision", "recall", "recall_random", "recall_sibling", "clean_flagged", "noise")
OVERRIDES = ("temperature", "confirm_margin", "mismatch_prob", "confirm_max_rank")
JUDGED = {S.EVIDENCE_IMAGE_TEXT: "image and text", S.EVIDENCE_IMAGE: "image"}


def _metrics(model: str | Path) -> dict[str, Any]:
    path = Path(str(model)) / "bundle.json"
    if not path.is_file():
        return {}
    try:
        metrics = json.loads(path.read_text(encoding="utf-8")).get("metrics")
    except (OSError, ValueError, AttributeError) as exc:
        log.warning("report: %s not read (%s); it says nothing of what flags mean", path, exc)
        return {}
    return metrics if isinstance(metrics, dict) else {}


def _share(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok and math.isfinite(value) and 0 <= value <= 1 else None


def figures(cv: Any) -> dict[str, Any] | None:
    """The expected figures of one cross-validation record, or None if any is unusable."""
    if not isinstance(cv, dict):
        return None
    shares = {k: _share(cv.get(k)) for k in FIGURES}
    if any(v is None for v in shares.values()):
        return None
    photos, target = cv.get("photos"), _share(cv.get("min_precision"))
    return {
        **shares,
        "training_photos": photos if isinstance(photos, int) and photos > 0 else None,
        "min_precision": target,
        "reached": cv.get("min_precision_reached") is True,
    }


def flag_meaning(run_cfg: Any, results: pd.DataFrame) -> dict[str, Any] | None:
    """What the report says of label flags: ``{"overridden": [...]}`` or ``{"kinds": [...]}``.

    ``run_cfg`` has ``.model.bundle`` and ``.validate`` (a ``ModerateConfig``).
    """
    validate, model = getattr(run_cfg, "validate", None), getattr(run_cfg, "model", None)
    bundle = getattr(validate, "bundle", None) or getattr(model, "bundle", None)
    if not bundle or S.LABEL_EVIDENCE not in results:
        return None
    judged = results[S.LABEL_EVIDENCE].dropna().value_counts()
    if judged.empty:
        return None
    overridden = [k for k in OVERRIDES if getattr(validate, k, None) is not None]
    if overridden:
        return {"overridden": [f"{k} = {getattr(validate, k)}" for k in overridden]}
    metrics = _metrics(bundle)
    text = metrics.get("text_evidence")
    text_cv = text.get("cv") if isinstance(text, dict) else None
    records = {S.EVIDENCE_IMAGE_TEXT: text_cv, S.EVIDENCE_IMAGE: metrics.get("cv")}
    kinds = []
    for evidence, n in judged.items():
        found = figures(records.get(str(evidence)))
        if found is not None:
            kinds.append({**found, "judged_by": JUDGED[str(evidence)], "photos": int(n)})
    return {"kinds": kinds} if kinds else None
