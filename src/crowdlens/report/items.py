"""Per-item figures of label validation, for the report (pure pandas, no Spark).

For every claimed item: how many photos claim it, the share the model agrees
with (predicted item == claimed item), how many are suspect and mismatch,
and the items its photos are most often taken for. An office reads it to
find an item specification that confuses contributors (many suspects, all
pointing at one sibling).

Example::

    rows = item_figures(pd.read_parquet("out/run/results.parquet"), top=3)
    rows[0]["item"], rows[0]["confused_with"]   # [("Pink-Lady", 4), ...]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crowdlens import schema as S

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def item_figures(df: pd.DataFrame, top: int = 3) -> list[dict[str, Any]]:
    """One dict per claimed item, most problematic first (suspects + mismatches, then photos).

    Keys: ``item``, ``photos`` (rows claiming it, error rows included),
    ``judged`` (rows with a verdict other than unknown), ``agreement``
    (share of judged rows whose predicted item is the claimed one, or None),
    ``suspects``, ``mismatches``, ``confused_with`` (up to ``top``
    ``(item, count)`` pairs: the preferred item of suspects/mismatches, else
    the predicted item when it differs from the claim).
    """
    if S.LABEL not in df.columns or df.empty:
        return []
    verdict = df[S.LABEL_VERDICT] if S.LABEL_VERDICT in df.columns else None
    pred = df[S.PRED_LABEL] if S.PRED_LABEL in df.columns else None
    preferred = df[S.LABEL_PREFERRED] if S.LABEL_PREFERRED in df.columns else None
    out: list[dict[str, Any]] = []
    for item, rows in df.groupby(df[S.LABEL].dropna().astype(str)):
        idx = rows.index
        v = verdict.loc[idx] if verdict is not None else None
        judged = (
            v.isin([S.VERDICT_CONFIRMED, S.VERDICT_SUSPECT, S.VERDICT_MISMATCH])
            if v is not None
            else None
        )
        n_judged = int(judged.sum()) if judged is not None else 0
        agree = None
        if pred is not None and n_judged:
            agree = round(float((pred.loc[idx][judged] == item).mean()), 4)
        other = preferred.loc[idx] if preferred is not None else None
        if pred is not None:
            p = pred.loc[idx].where(pred.loc[idx] != item)
            other = p if other is None else other.where(other.notna(), p)
        confused = (
            [(str(k), int(c)) for k, c in other.dropna().value_counts().head(top).items()]
            if other is not None
            else []
        )
        out.append(
            {
                "item": str(item),
                "photos": len(idx),
                "judged": n_judged,
                "agreement": agree,
                "suspects": int((v == S.VERDICT_SUSPECT).sum()) if v is not None else 0,
                "mismatches": int((v == S.VERDICT_MISMATCH).sum()) if v is not None else 0,
                "confused_with": confused,
            }
        )
    out.sort(key=lambda r: (-(r["suspects"] + r["mismatches"]), -r["photos"], r["item"]))
    return out
