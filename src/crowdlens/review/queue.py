"""The review queue: the ``review`` photos of a results table, most uncertain first.

Pure helpers over plain dicts (JSON-ready), no Spark and no HTTP.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from crowdlens import schema as S
from crowdlens.report.results import columns_of, read_results
from crowdlens.stages.decide import reason_kind

MEASURES = S.QUALITY_MEASURES
COLUMNS = (
    S.IMAGE_ID,
    S.PATH,
    S.LABEL,
    S.COUNTRY,
    S.CONTRIBUTOR,
    S.STATUS,
    S.ERROR,
    S.WIDTH,
    S.HEIGHT,
    *MEASURES,
    S.QUALITY_FLAGS,
    S.DUPLICATE_OF,
    S.PRED_LABEL,
    S.PRED_SCORE,
    S.TOPK,
    S.LABEL_PROB,
    S.LABEL_RANK,
    S.LABEL_VERDICT,
    S.TEXT_REGIONS,
    S.PII_TYPES,
    S.REDACTED_PATH,
    S.DECISION,
    S.REASONS,
)


def _clean(value: Any) -> Any:
    """JSON-safe plain Python: numpy arrays/scalars become lists/numbers, NaN becomes None."""
    if value is None:
        return None
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, bytes):
        return None
    return value


def uncertainty(item: Mapping[str, Any]) -> float:
    """How unsure the pipeline is about a photo, in [0, 1] (1 = a coin toss).

    A claimed-label probability near 0.5 is the most uncertain; near 0 (a
    clear mismatch) or 1 it is easy. Without it, 1 - the top prediction score.

    >>> uncertainty({"label_prob": 0.5})
    1.0
    >>> round(uncertainty({"label_prob": 0.01}), 2)
    0.02
    """
    p = item.get(S.LABEL_PROB)
    if isinstance(p, int | float) and math.isfinite(p):
        return 1.0 - abs(2.0 * float(p) - 1.0)
    s = item.get(S.PRED_SCORE)
    if isinstance(s, int | float) and math.isfinite(s):
        return 1.0 - float(s)
    return 0.5


def load_queue(results: str | Path) -> list[dict[str, Any]]:
    """The ``review`` rows of a results table as dicts, most uncertain first."""
    import pyarrow.dataset as pads

    names = set(columns_of(results))
    if S.DECISION not in names:
        return []
    df = read_results(results, COLUMNS, filter=pads.field(S.DECISION) == "review")
    items = [{k: _clean(v) for k, v in rec.items()} for rec in df.to_dict("records")]
    for it in items:
        it["uncertainty"] = round(uncertainty(it), 4)
        it["reason_kinds"] = sorted({reason_kind(r) for r in it.get(S.REASONS) or []})
    items.sort(key=lambda it: (-it["uncertainty"], str(it.get(S.IMAGE_ID))))
    return items


def matches(
    item: Mapping[str, Any], *, label: str = "", reason: str = "", country: str = ""
) -> bool:
    """Whether an item passes the UI's filters (empty filter = any).

    ``label`` matches the claimed or predicted label, ``reason`` a reason
    kind, ``country`` the country column; all case-insensitively.
    """
    if label:
        want = label.casefold()
        if want not in {
            str(item.get(S.LABEL) or "").casefold(),
            str(item.get(S.PRED_LABEL) or "").casefold(),
        }:
            return False
    if reason and reason.casefold() not in {k.casefold() for k in item.get("reason_kinds") or []}:
        return False
    return not (country and str(item.get(S.COUNTRY) or "").casefold() != country.casefold())


def facets(items: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The distinct labels, reason kinds and countries, for the filter menus."""
    labels: set[str] = set()
    reasons: set[str] = set()
    countries: set[str] = set()
    for it in items:
        labels.update(str(x) for x in (it.get(S.LABEL), it.get(S.PRED_LABEL)) if x)
        reasons.update(it.get("reason_kinds") or [])
        if it.get(S.COUNTRY):
            countries.add(str(it[S.COUNTRY]))
    return {"labels": sorted(labels), "reasons": sorted(reasons), "countries": sorted(countries)}


def known_labels(items: Sequence[Mapping[str, Any]]) -> list[str]:
    """Labels a reviewer may pick when relabelling: every claimed, predicted or top-k label."""
    out: set[str] = set()
    for it in items:
        out.update(str(x) for x in (it.get(S.LABEL), it.get(S.PRED_LABEL)) if x)
        out.update(str(t.get("label")) for t in it.get(S.TOPK) or [] if t and t.get("label"))
    return sorted(out)
