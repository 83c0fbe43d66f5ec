"""Per-item figures of label validation (pure pandas)."""

from __future__ import annotations

import pandas as pd

from crowdlens import schema as S
from crowdlens.report.items import item_figures


def _rows():
    rows = [
        # item, status, verdict, predicted, preferred
        ("Pink-Lady", "ok", "confirmed", "Pink-Lady", None),
        ("Pink-Lady", "ok", "suspect", "Granny-Smith", "Granny-Smith"),
        ("Pink-Lady", "ok", "suspect", "Granny-Smith", "Granny-Smith"),
        ("Pink-Lady", "ok", "mismatch", "Oat-Milk", "Oat-Milk"),
        ("Pink-Lady", "error", "unknown", None, None),
        ("Banana", "ok", "confirmed", "Banana", None),
        ("Banana", "ok", "confirmed", "Lime", None),  # rank-2 confirmation: still a confusion
        (None, "ok", "unknown", "Banana", None),
    ]
    cols = [S.LABEL, S.STATUS, S.LABEL_VERDICT, S.PRED_LABEL, S.LABEL_PREFERRED]
    return pd.DataFrame(rows, columns=cols)


def test_per_item_counts_agreement_and_confusions():
    figures = {r["item"]: r for r in item_figures(_rows())}
    assert set(figures) == {"Pink-Lady", "Banana"}  # unlabelled photos claim no item
    pink = figures["Pink-Lady"]
    assert (pink["photos"], pink["judged"], pink["suspects"], pink["mismatches"]) == (5, 4, 2, 1)
    assert pink["agreement"] == 0.25
    assert pink["confused_with"] == [("Granny-Smith", 2), ("Oat-Milk", 1)]
    banana = figures["Banana"]
    assert banana["agreement"] == 0.5 and banana["confused_with"] == [("Lime", 1)]


def test_most_problematic_item_first_and_top_limits_confusions():
    rows = item_figures(_rows(), top=1)
    assert [r["item"] for r in rows] == ["Pink-Lady", "Banana"]
    assert rows[0]["confused_with"] == [("Granny-Smith", 2)]


def test_without_validation_columns_the_counts_are_empty_not_wrong():
    df = pd.DataFrame({S.LABEL: ["Banana", "Banana"], S.STATUS: ["ok", "ok"]})
    (row,) = item_figures(df)
    assert row["photos"] == 2 and row["judged"] == 0 and row["agreement"] is None
    assert item_figures(pd.DataFrame()) == []
