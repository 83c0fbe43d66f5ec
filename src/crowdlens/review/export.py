"""``crowdlens review export``: the final table, the training manifests and the audit trail.

The results table is never modified. The export writes (to ``--out``, by
default the folder holding ``review.sqlite``):

* ``final.parquet`` - every results row plus the reviewers' outcome
  (:data:`S.REVIEW_ACTION`, :data:`S.REVIEW_LABEL`, :data:`S.REVIEWED_AT`,
  :data:`S.REVIEWER`) and the result (:data:`S.FINAL_DECISION`,
  :data:`S.FINAL_LABEL`); a photo whose reviewers disagree is ``review`` (never released)
  with ``review_action = conflict``;
* ``train_manifest.csv`` - the corrected training set: ``path,label`` (plus
  ``image_id``, ``claimed_label``, ``review_action`` and the metadata) for
  every readable photo finally accepted with a label, relabels applied,
  rejected and still-doubtful photos left out. ``crowdlens train --train
  DIR/train_manifest.csv --allowed-root PHOTOS`` retrains on it in one
  command (the paths name the originals, outside DIR: training confines
  its input as ``moderate`` does);
* ``relabel_manifest.csv`` - ``path,label`` of the relabelled photos only;
* ``review_audit.csv`` - every decision: reviewer, time, action, label and
  the reviewer's previous value.

Every CSV cell goes through :func:`crowdlens.review.csvsafe.csv_cell`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crowdlens import schema as S
from crowdlens.io.atomic import atomic_path, replace_atomically, temp_path
from crowdlens.io.outputs import local_path
from crowdlens.review.agreement import photo_state
from crowdlens.review.csvsafe import csv_cell
from crowdlens.review.location import results_folder, state_folder
from crowdlens.review.store import DB_NAME, DecisionStore

FINAL_NAME = "final.parquet"
MANIFEST_NAME = "relabel_manifest.csv"
TRAIN_NAME = "train_manifest.csv"
AUDIT_NAME = "review_audit.csv"
REVIEW_COLUMNS = (
    S.REVIEW_ACTION,
    S.REVIEW_LABEL,
    S.REVIEWED_AT,
    S.REVIEWER,
    S.FINAL_DECISION,
    S.FINAL_LABEL,
)
AUDIT_COLUMNS = (
    "seq",
    S.REVIEW_BATCH,
    "decided_at",
    S.REVIEWER,
    S.IMAGE_ID,
    "action",
    S.LABEL,
    S.REVIEW_PREV_ACTION,
    S.REVIEW_PREV_LABEL,
)
TRAIN_META = (S.COUNTRY, S.CONTRIBUTOR)


@dataclass(frozen=True)
class Exported:
    final_table: Path
    manifest: Path
    train_manifest: Path
    audit: Path
    rows: int
    reviewed: int
    relabelled: int
    conflicts: int
    train_rows: int


def outcome(per: Mapping[str, Any], decision: Any, label: Any) -> dict[str, Any]:
    """The review columns of one photo from its live decisions by reviewer."""
    if not per:
        return {S.FINAL_DECISION: decision, S.FINAL_LABEL: label}
    latest = max(per.values(), key=lambda d: d.seq)
    base = {S.REVIEWED_AT: latest.decided_at, S.REVIEWER: ",".join(sorted(per))}
    if photo_state(per) == S.REVIEW_CONFLICT:
        # Undecided, whatever the pipeline said: `crowdlens release` must not
        # publish a photo that one reviewer rejected.
        return {
            **base,
            S.REVIEW_ACTION: S.REVIEW_CONFLICT,
            S.FINAL_DECISION: S.DECISION_REVIEW,
            S.FINAL_LABEL: label,
        }
    relabel = latest.action == S.REVIEW_RELABEL
    return {
        **base,
        S.REVIEW_ACTION: latest.action,
        S.REVIEW_LABEL: latest.label if relabel else None,
        S.FINAL_DECISION: S.DECISION_REJECT
        if latest.action == S.DECISION_REJECT
        else S.DECISION_ACCEPT,
        S.FINAL_LABEL: latest.label if relabel else label,
    }


def audit_lines(store: DecisionStore) -> Iterator[str]:
    """The decision log as CSV text, header first."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(AUDIT_COLUMNS)
    for d in store.history():
        row = (d.seq, d.batch, d.decided_at, d.reviewer, d.image_id, d.action, d.label)
        writer.writerow([csv_cell(v) for v in (*row, d.prev_action, d.prev_label)])
        if buf.tell() > 65_536:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _atomic_text(path: Path, lines: Iterator[str]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        fh.writelines(lines)


def export_reviewed(
    results_dir: str | Path, out_dir: str | Path | None = None, *, state_dir: str | None = None
) -> Exported:
    """Join the results with the reviewers' decisions; write the table, manifests and audit.

    Streams the results batch by batch, so it works on tables larger than
    memory, and on results in an object store (``s3://...``; the decisions
    and the outputs are then in a local folder, see
    :func:`crowdlens.review.location.state_folder`).

    Example::

        done = export_reviewed("out/run1")
        print(done.train_manifest, done.relabelled)
    """
    from crowdlens.io.results import open_results

    src, base = results_folder(results_dir)
    state = state_folder(str(base), state_dir)
    out = Path(out_dir) if out_dir else state
    out.mkdir(parents=True, exist_ok=True)
    live: dict[str, dict[str, Any]] = {}
    if (state / DB_NAME).exists():
        store = DecisionStore(state / DB_NAME)
        live = store.current()
        _atomic_text(out / AUDIT_NAME, audit_lines(store))
        store.close()
    else:
        _atomic_text(out / AUDIT_NAME, iter([",".join(AUDIT_COLUMNS) + "\n"]))
    counts = _write_tables(open_results(src), live, out)
    return Exported(
        out / FINAL_NAME, out / MANIFEST_NAME, out / TRAIN_NAME, out / AUDIT_NAME, **counts
    )


def _write_tables(dataset: Any, live: Mapping[str, Any], out: Path) -> dict[str, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    keep = [c for c in dataset.schema.names if c not in REVIEW_COLUMNS]
    schema = pa.schema(
        [dataset.schema.field(c) for c in keep] + [pa.field(c, pa.string()) for c in REVIEW_COLUMNS]
    )
    meta = [c for c in TRAIN_META if c in keep]
    paths = {n: out / n for n in (FINAL_NAME, MANIFEST_NAME, TRAIN_NAME)}
    tmp = {n: temp_path(p) for n, p in paths.items()}
    counts = dict.fromkeys(("rows", "reviewed", "relabelled", "conflicts", "train_rows"), 0)
    with (
        pq.ParquetWriter(tmp[FINAL_NAME], schema) as writer,
        tmp[MANIFEST_NAME].open("w", newline="", encoding="utf-8") as fr,
        tmp[TRAIN_NAME].open("w", newline="", encoding="utf-8") as ft,
    ):
        relabels, train = csv.writer(fr), csv.writer(ft)
        relabels.writerow([S.PATH, S.LABEL])
        train.writerow([S.PATH, S.LABEL, S.IMAGE_ID, S.CLAIMED_LABEL, S.REVIEW_ACTION, *meta])
        for batch in dataset.to_batches(columns=keep):
            cols = batch.to_pydict()
            n = batch.num_rows

            def col(name: str, cols: dict = cols, n: int = n) -> list[Any]:
                return cols.get(name) or [None] * n

            extra: dict[str, list[Any]] = {c: [] for c in REVIEW_COLUMNS}
            for i in range(n):
                per = live.get(str(col(S.IMAGE_ID)[i])) or {}
                got = outcome(per, col(S.DECISION)[i], col(S.LABEL)[i])
                for c in REVIEW_COLUMNS:
                    extra[c].append(got.get(c))
                action = got.get(S.REVIEW_ACTION)
                counts["reviewed"] += bool(per)
                counts["conflicts"] += action == S.REVIEW_CONFLICT
                path = local_path(str(col(S.PATH)[i])) if col(S.PATH)[i] else None
                if action == S.REVIEW_RELABEL and path:
                    counts["relabelled"] += 1
                    relabels.writerow([csv_cell(path), csv_cell(got[S.FINAL_LABEL])])
                ok = col(S.STATUS)[i] in (None, S.STATUS_OK)
                if (
                    ok
                    and path
                    and got[S.FINAL_DECISION] == S.DECISION_ACCEPT
                    and got[S.FINAL_LABEL]
                ):
                    counts["train_rows"] += 1
                    row = [path, got[S.FINAL_LABEL], col(S.IMAGE_ID)[i], col(S.LABEL)[i], action]
                    train.writerow([csv_cell(v) for v in row + [col(m)[i] for m in meta]])
            arrays = [batch.column(c) for c in keep] + [
                pa.array([None if v is None else str(v) for v in extra[c]], pa.string())
                for c in REVIEW_COLUMNS
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            counts["rows"] += n
    for name, path in paths.items():
        replace_atomically(tmp[name], path)
    return counts
