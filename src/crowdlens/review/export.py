"""``crowdlens review export``: the final table and the relabel manifest.

The results table is never modified. The export writes, next to it:

* ``final.parquet`` - every results row plus the reviewer's latest decision
  (:data:`S.REVIEW_ACTION`, :data:`S.REVIEW_LABEL`, :data:`S.REVIEWED_AT`) and
  the outcome (:data:`S.FINAL_DECISION`, :data:`S.FINAL_LABEL`);
* ``relabel_manifest.csv`` - ``path,label`` for every relabelled photo, a
  manifest ``crowdlens train`` takes as extra training data.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from crowdlens import schema as S
from crowdlens.report.results import open_results, results_path
from crowdlens.review.store import DB_NAME, DecisionStore

FINAL_NAME = "final.parquet"
MANIFEST_NAME = "relabel_manifest.csv"
REVIEW_COLUMNS = (S.REVIEW_ACTION, S.REVIEW_LABEL, S.REVIEWED_AT, S.FINAL_DECISION, S.FINAL_LABEL)


@dataclass(frozen=True)
class Exported:
    final_table: Path
    manifest: Path
    rows: int
    reviewed: int
    relabelled: int


def export_reviewed(results_dir: str | Path, out_dir: str | Path | None = None) -> Exported:
    """Join the results with the reviewers' decisions; write the table and the manifest.

    Streams the results batch by batch, so it works on tables larger than memory.

    Example::

        done = export_reviewed("out/run1")
        print(done.final_table, done.relabelled)
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = results_path(results_dir)
    base = src.parent if src.name.endswith(".parquet") else src
    out = Path(out_dir) if out_dir else base
    out.mkdir(parents=True, exist_ok=True)
    db = base / DB_NAME
    latest = DecisionStore(db).latest() if db.exists() else {}

    dataset = open_results(src)
    keep = [c for c in dataset.schema.names if c not in REVIEW_COLUMNS]
    schema = pa.schema(
        [dataset.schema.field(c) for c in keep] + [pa.field(c, pa.string()) for c in REVIEW_COLUMNS]
    )
    final_path, manifest_path = out / FINAL_NAME, out / MANIFEST_NAME
    tmp_final = final_path.with_name(final_path.name + ".tmp")
    tmp_manifest = manifest_path.with_name(manifest_path.name + ".tmp")
    rows = reviewed = relabelled = 0
    with (
        pq.ParquetWriter(tmp_final, schema) as writer,
        tmp_manifest.open("w", newline="", encoding="utf-8") as fh,
    ):
        manifest = csv.writer(fh)
        manifest.writerow([S.PATH, S.LABEL])
        for batch in dataset.to_batches(columns=keep):
            cols = batch.to_pydict()
            n = batch.num_rows
            ids = cols.get(S.IMAGE_ID, [None] * n)
            decisions = cols.get(S.DECISION, [None] * n)
            labels = cols.get(S.LABEL, [None] * n)
            paths = cols.get(S.PATH, [None] * n)
            extra: dict[str, list[str | None]] = {c: [] for c in REVIEW_COLUMNS}
            for i in range(n):
                d = latest.get(str(ids[i]))
                extra[S.REVIEW_ACTION].append(d.action if d else None)
                extra[S.REVIEW_LABEL].append(d.label if d else None)
                extra[S.REVIEWED_AT].append(d.decided_at if d else None)
                if d is None:
                    extra[S.FINAL_DECISION].append(decisions[i])
                    extra[S.FINAL_LABEL].append(labels[i])
                    continue
                reviewed += 1
                extra[S.FINAL_DECISION].append("reject" if d.action == "reject" else "accept")
                extra[S.FINAL_LABEL].append(d.label if d.action == "relabel" else labels[i])
                if d.action == "relabel" and paths[i]:
                    relabelled += 1
                    manifest.writerow([paths[i], d.label])
            arrays = [batch.column(c) for c in keep] + [
                pa.array(extra[c], pa.string()) for c in REVIEW_COLUMNS
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            rows += n
    tmp_final.replace(final_path)
    tmp_manifest.replace(manifest_path)
    return Exported(final_path, manifest_path, rows, reviewed, relabelled)
