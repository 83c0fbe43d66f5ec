"""Contributor scorecards: per contributor, what their photos came to.

One row per contributor (the manifest's ``contributor`` column): photos,
errors, the share accepted / reviewed / rejected, label mismatches, copies
shared with another contributor (either side of the pair), own photos reused
for a different item, photos with a provenance flag, and one ``flag_<name>``
count per quality flag. An office reads it to decide whom to pay, retrain or
drop; it is written beside the results as ``contributors.parquet`` and shown
as a sortable section of the report.

The same per-contributor function runs on pandas (small tables, tests) and on
Spark (``groupBy(...).applyInPandas``: one contributor's light rows at a time,
never the photos).

Example::

    table = scorecards(pd.read_parquet("out/results.parquet"))
    write_contributors(table, "out")
    html = render_contributors_section(table)
"""

from __future__ import annotations

import html
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crowdlens import schema as S
from crowdlens.quality.flags import VOCABULARY

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import DataFrame


FLAG_COLUMNS = tuple(S.SC_FLAG_PREFIX + f for f in VOCABULARY)
COLUMNS = (
    S.CONTRIBUTOR,
    S.SC_PHOTOS,
    S.SC_ERRORS,
    S.SC_ACCEPTED,
    S.SC_REVIEWED,
    S.SC_REJECTED,
    S.SC_LABEL_MISMATCHES,
    S.SC_SHARED,
    S.SC_REUSED,
    S.SC_PROVENANCE,
    *FLAG_COLUMNS,
)
_SHARES = (S.SC_ACCEPTED, S.SC_REVIEWED, S.SC_REJECTED)
# What the per-contributor function reads; "_shared" is prepared beforehand.
_LIGHT = (S.STATUS, S.DECISION, S.QUALITY_FLAGS, S.LABEL_VERDICT)


def _ddl(contributor_column: str) -> str:
    types = [f"{c} {'double' if c in _SHARES else 'long'}" for c in COLUMNS[1:]]
    return ", ".join([f"`{contributor_column}` string", *types])


def card(group: pd.DataFrame, contributor_column: str = S.CONTRIBUTOR) -> pd.DataFrame:
    """The scorecard row of one contributor's light rows (pure pandas).

    ``group`` has the contributor column, ``status``, ``decision``,
    ``quality_flags``, ``label_verdict`` and ``_shared`` (bool).
    """
    import pandas as pd

    n = len(group)
    flags = [
        set(f) if f is not None and not isinstance(f, float) else set()
        for f in group[S.QUALITY_FLAGS]
    ]
    decisions = group[S.DECISION].tolist()
    row: dict[str, Any] = {
        contributor_column: group[contributor_column].iloc[0] if n else None,
        S.SC_PHOTOS: n,
        S.SC_ERRORS: int((group[S.STATUS] != S.STATUS_OK).sum()),
        S.SC_ACCEPTED: decisions.count(S.DECISION_ACCEPT) / n if n else 0.0,
        S.SC_REVIEWED: decisions.count(S.DECISION_REVIEW) / n if n else 0.0,
        S.SC_REJECTED: decisions.count(S.DECISION_REJECT) / n if n else 0.0,
        S.SC_LABEL_MISMATCHES: int((group[S.LABEL_VERDICT] == S.VERDICT_MISMATCH).sum()),
        S.SC_SHARED: int(group["_shared"].fillna(False).astype(bool).sum()),
        S.SC_REUSED: sum(S.FLAG_REUSED_PHOTO in f for f in flags),
        S.SC_PROVENANCE: sum(bool(f & set(S.PROVENANCE_FLAGS)) for f in flags),
    }
    for flag, column in zip(VOCABULARY, FLAG_COLUMNS, strict=True):
        row[column] = sum(flag in f for f in flags)
    out = pd.DataFrame([row], columns=[contributor_column, *COLUMNS[1:]])
    if row[contributor_column] is not None:
        out[contributor_column] = out[contributor_column].astype(str)
    return out


def _is_spark(df: Any) -> bool:
    return type(df).__module__.startswith("pyspark.")


def _require_contributor(columns: list[str], contributor_column: str) -> None:
    from crowdlens.errors import CrowdlensError

    if contributor_column not in columns:
        raise CrowdlensError(
            f"scorecards need a {contributor_column!r} column, which the results do not have: "
            "add it to the manifest (one contributor id per photo), or name the column "
            "that holds it with contributor_column=..."
        )


def scorecards(df: Any, *, contributor_column: str = S.CONTRIBUTOR) -> Any:
    """One scorecard row per contributor, from a results table (pandas or Spark).

    Returns the same kind of DataFrame it was given, sorted by rejected share
    then photos (both descending). Columns the results lack (no decide stage,
    no model) count as empty.

    >>> import pandas as pd
    >>> t = scorecards(pd.DataFrame({"contributor": ["a", "a", "b"], "status": ["ok"] * 3,
    ...     "decision": ["accept", "reject", "accept"], "quality_flags": [[], ["blurry"], []]}))
    >>> t[["contributor", "photos", "rejected_share", "flag_blurry"]].values.tolist()
    [['a', 2, 0.5, 1], ['b', 1, 0.0, 0]]
    """
    _require_contributor(list(df.columns), contributor_column)
    if _is_spark(df):
        return _spark_scorecards(df, contributor_column)
    return _pandas_scorecards(df, contributor_column)


def _pandas_scorecards(df: pd.DataFrame, contributor_column: str) -> pd.DataFrame:
    import pandas as pd

    light = pd.DataFrame(index=df.index)
    for c in (contributor_column, *_LIGHT, S.IMAGE_ID, S.DUPLICATE_OF):
        light[c] = df[c] if c in df.columns else None
    light[contributor_column] = (
        light[contributor_column].astype(object).where(light[contributor_column].notna(), None)
    )
    shares = light[S.QUALITY_FLAGS].map(
        lambda f: f is not None and not isinstance(f, float) and S.FLAG_SHARED_PHOTO in list(f)
    )
    firsts = set(light.loc[shares, S.DUPLICATE_OF].dropna())
    light["_shared"] = shares | light[S.IMAGE_ID].isin(firsts)
    groups = [
        card(g, contributor_column) for _, g in light.groupby(contributor_column, dropna=False)
    ]
    if not groups:
        return pd.DataFrame(columns=[contributor_column, *COLUMNS[1:]])
    table = pd.concat(groups, ignore_index=True)
    return table.sort_values(
        [S.SC_REJECTED, S.SC_PHOTOS], ascending=False, kind="stable"
    ).reset_index(drop=True)


def _spark_scorecards(df: DataFrame, contributor_column: str) -> DataFrame:
    from functools import partial

    from pyspark.sql import functions as F

    def col(name: str, ddl: str) -> Any:
        return F.col(name) if name in df.columns else F.lit(None).cast(ddl).alias(name)

    light = df.select(
        F.col(contributor_column).cast("string").alias(contributor_column),
        col(S.STATUS, "string"),
        col(S.DECISION, "string"),
        col(S.QUALITY_FLAGS, "array<string>"),
        col(S.LABEL_VERDICT, "string"),
        col(S.IMAGE_ID, "string"),
        col(S.DUPLICATE_OF, "string"),
    )
    is_shared = F.coalesce(F.array_contains(S.QUALITY_FLAGS, S.FLAG_SHARED_PHOTO), F.lit(False))
    firsts = (
        light.where(is_shared)
        .select(F.col(S.DUPLICATE_OF).alias(S.IMAGE_ID), F.lit(True).alias("_first"))
        .distinct()
    )
    light = light.join(F.broadcast(firsts), on=S.IMAGE_ID, how="left").withColumn(
        "_shared", is_shared | F.coalesce(F.col("_first"), F.lit(False))
    )
    fn = partial(card, contributor_column=contributor_column)
    with warnings.catch_warnings():  # a partial has no type hints to infer from; none needed
        warnings.filterwarnings("ignore", "Cannot infer the eval type", UserWarning)
        table = light.groupBy(contributor_column).applyInPandas(fn, _ddl(contributor_column))
    return table.orderBy(F.col(S.SC_REJECTED).desc(), F.col(S.SC_PHOTOS).desc())


def write_contributors(table: Any, out_dir: str | Path) -> str:
    """Write ``table`` (pandas or Spark) as ``out_dir/contributors.parquet``, all or nothing.

    Returns the path written. Spark tables go through the results writer
    (:func:`crowdlens.io.results.write_parquet_atomically`); pandas tables are
    written aside and renamed into place (one PUT on an object store).
    """
    from crowdlens.io.fs import is_url, join

    target = join(str(out_dir), S.CONTRIBUTORS_FILE)
    if _is_spark(table):
        from crowdlens.io.results import write_parquet_atomically

        write_parquet_atomically(table.coalesce(1), target)
        return target
    if is_url(target):
        from crowdlens.io.fs import filesystem

        fs, key = filesystem(target)
        fs.pipe(key, table.to_parquet(index=False))
        return target
    from crowdlens.io.atomic import atomic_path

    with atomic_path(target) as tmp:
        table.to_parquet(tmp, index=False)
    return target


# --- the report section ------------------------------------------------------------

_HEADERS = {
    S.SC_PHOTOS: "photos",
    S.SC_ERRORS: "errors",
    S.SC_ACCEPTED: "accepted",
    S.SC_REVIEWED: "reviewed",
    S.SC_REJECTED: "rejected",
    S.SC_LABEL_MISMATCHES: "label mismatches",
    S.SC_SHARED: "copies shared with others",
    S.SC_REUSED: "reused for another item",
    S.SC_PROVENANCE: "provenance flags",
}
_SORT_SCRIPT = """<script>
document.querySelectorAll("table.cl-sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, i) {
    th.style.cursor = "pointer";
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.from(body.rows);
      var dir = th.dataset.dir === "desc" ? 1 : -1;
      th.dataset.dir = dir === 1 ? "asc" : "desc";
      rows.sort(function (a, b) {
        var x = a.cells[i].dataset.sort, y = b.cells[i].dataset.sort;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return dir * c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
</script>"""


def _cell(value: Any, share: bool) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return '<td data-sort="">-</td>'
    if share:
        return f'<td data-sort="{float(value):.6f}">{100 * float(value):.0f} %</td>'
    return f'<td data-sort="{html.escape(str(value), quote=True)}">{html.escape(str(value))}</td>'


def render_contributors_section(
    table: Any, *, contributor_column: str = S.CONTRIBUTOR, max_rows: int = 500
) -> str:
    """The report's contributors section: an HTML fragment, every value escaped.

    A table sortable by clicking a header (a few lines of inline script; no
    library), one row per contributor (at most ``max_rows``, worst first), with
    only the flag columns that occur.

    >>> import pandas as pd
    >>> t = scorecards(pd.DataFrame({"contributor": ["<b>x</b>"], "status": ["ok"],
    ...     "decision": ["accept"], "quality_flags": [[]]}))
    >>> "&lt;b&gt;x&lt;/b&gt;" in render_contributors_section(t)
    True
    """
    if _is_spark(table):
        table = table.limit(max_rows).toPandas()
    shown = table.head(max_rows)
    flag_cols = [c for c in FLAG_COLUMNS if c in shown.columns and shown[c].fillna(0).sum() > 0]
    cols = [*_HEADERS, *flag_cols]
    head = "".join(
        f"<th>{html.escape(_HEADERS.get(c, c.removeprefix(S.SC_FLAG_PREFIX)))}</th>" for c in cols
    )
    body = []
    for rec in shown.to_dict("records"):
        who = rec.get(contributor_column)
        name = "(no contributor)" if who is None or who != who else str(who)
        cells = [f'<td data-sort="{html.escape(name, quote=True)}">{html.escape(name)}</td>']
        cells += [_cell(rec.get(c), c in _SHARES) for c in cols]
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = (
        f"<p>{len(table)} contributors; showing the first {len(shown)}.</p>"
        if len(table) > len(shown)
        else ""
    )
    return (
        '<section id="contributors"><h2>Contributors</h2>'
        "<p>One row per contributor, worst rejected share first; click a column to sort. "
        f"The full table is <code>{html.escape(S.CONTRIBUTORS_FILE)}</code> in the results "
        f"folder.</p>{note}"
        f'<table class="cl-sortable"><thead><tr><th>contributor</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>{_SORT_SCRIPT}</section>"
    )
