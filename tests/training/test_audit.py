"""`crowdlens audit` end to end on real grocery photos (a small subset) and real Spark.

Checks the fold handling (every usable photo judged out-of-fold exactly once;
with ``--fold-grouping near-duplicate``, no group of near-copies split),
one row per input with error rows, that the thresholds are never fitted on
the audited photos, and that `train`'s probe and tail modes fit their
thresholds on training photos only.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crowdlens import schema as S
from crowdlens.cli import main
from crowdlens.verdicts import Thresholds

CLASSES = ("Granny-Smith", "Pink-Lady", "Banana", "Lime")
PER_CLASS = 6
FOLDS = 3


def _manifest(shared_data, tmp_path):
    from crowdlens.training.hierarchy import read_classes_csv

    parents = read_classes_csv(shared_data / "classes.csv")
    rows = []
    for cls in CLASSES:
        photos = sorted((shared_data / "train").rglob(f"{cls}/*.jpg"))[:PER_CLASS]
        rows += [(str(p), cls, parents[cls]) for p in photos]
    rows[0] = (rows[0][0], "Pink-Lady", "Apple")  # one label flipped to a sibling
    unlabelled = sorted((shared_data / "train").rglob("Banana/*.jpg"))[PER_CLASS]
    rows.append((str(unlabelled), "", ""))  # a photo that claims nothing
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    rows.append((str(broken), "Lime", "Lime"))  # a photo that cannot be decoded
    path = tmp_path / "audit.csv"
    pd.DataFrame(rows, columns=["path", "label", "group"]).to_csv(path, index=False)
    return path, len(rows)


@pytest.mark.spark
@pytest.mark.slow
def test_audit_judges_every_photo_out_of_fold_once_with_unfitted_thresholds(
    spark, shared_data, tmp_path, capsys, monkeypatch
):
    import crowdlens.training.thresholds as thresholds

    def refuse(*a, **k):
        raise AssertionError("audit must not fit thresholds on the photos it judges")

    monkeypatch.setattr(thresholds, "fit_thresholds", refuse)
    manifest, n_rows = _manifest(shared_data, tmp_path)
    out = tmp_path / "out"
    args = ["audit", str(manifest), "--out", str(out), "--folds", str(FOLDS)]
    args += ["--backbone", "efficientnet_lite0", "--parent-label-column", "group"]
    args += ["--allowed-root", str(shared_data), "--allowed-root", str(tmp_path)]  # confinement
    assert main([*args, "--master", "local[2]"]) == 0
    printed = json.loads(capsys.readouterr().out)
    df = pd.read_parquet(out / "results.parquet")
    summary = json.loads((out / "audit.json").read_text())

    assert len(df) == n_rows == printed["photos"]  # one row per input
    assert df[S.IMAGE_ID].is_unique
    bad = df[df[S.PATH].str.endswith("broken.jpg")].iloc[0]
    assert bad[S.STATUS] == "error" and bad[S.ERROR]
    assert bad[S.LABEL_VERDICT] == "unknown" and pd.isna(bad[S.AUDIT_FOLD])
    no_label = df[df[S.LABEL].isna()]
    assert len(no_label) == 1 and (no_label[S.LABEL_VERDICT] == "unknown").all()

    judged = df[df[S.STATUS].eq("ok") & df[S.LABEL].notna()]
    assert len(judged) == len(CLASSES) * PER_CLASS
    assert set(judged[S.AUDIT_FOLD]) == set(range(FOLDS))  # each photo in exactly one fold
    assert (
        judged[S.AUDIT_FOLD].value_counts().max() - judged[S.AUDIT_FOLD].value_counts().min() <= 1
    )
    assert judged[S.LABEL_VERDICT].isin(["confirmed", "suspect", "mismatch"]).all()
    assert np.isfinite(np.stack(judged[S.LOGITS].to_numpy())).all()
    # the photos' text was read and offered as evidence; used only if it agreed better
    text = summary["text_evidence"]
    assert 0 <= text["photos_with_text"] <= len(judged)
    assert text["used"] == (text["weight"] > 0)
    assert text["agreement_fused"] >= text["agreement_image"]
    assert text["used"] == (text["agreement_fused"] > text["agreement_image"])
    # and the companions' probe (the main backbone is not its own companion), likewise
    comp = summary["companions"]
    assert comp["backbones"] == ["mobilenet_v2"]
    assert comp["used"] == (comp["weight"] > 0)
    assert comp["agreement"][str(comp["weight"])] == max(comp["agreement"].values())
    assert comp["used"] == (comp["agreement"][str(comp["weight"])] > comp["agreement"]["0.0"])

    # the thresholds are the configured defaults, never fitted on the audited photos
    assert summary["thresholds"] == Thresholds().to_dict()
    # the flipped photo ranks among the likeliest wrong labels
    flipped = judged[judged[S.PATH] == judged[S.PATH].iloc[0]].iloc[0]
    assert flipped[S.LABEL] == "Pink-Lady"
    if flipped[S.LABEL_VERDICT] != "confirmed":
        assert flipped[S.LABEL_PREFERRED] == "Granny-Smith"
        assert flipped[S.LABEL_RELATION] == "sibling"


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["probe", "tail"])
def test_train_fits_thresholds_on_training_photos_only(
    spark, shared_data, tmp_path, monkeypatch, mode
):
    import crowdlens.training.thresholds as thresholds

    seen: list[int] = []
    real = thresholds.fit_thresholds

    def spy(probs, y, *a, **k):
        seen.append(len(y))
        return real(probs, y, *a, **k)

    monkeypatch.setattr(thresholds, "fit_thresholds", spy)
    val = tmp_path / "val.csv"
    rows = [
        (str(p), p.parent.name)
        for c in CLASSES
        for p in sorted((shared_data / "val").rglob(f"{c}/*.jpg"))[:2]
    ]
    pd.DataFrame(rows, columns=["path", "label"]).to_csv(val, index=False)
    out = tmp_path / "bundle"
    args = ["train", "--train", str(shared_data / "train"), "--val", str(val), "--out", str(out)]
    args += ["--classes", ",".join(CLASSES), "--max-per-class", str(PER_CLASS)]
    args += ["--backbone", "efficientnet_lite0", "--cv-folds", "3", "--master", "local[2]"]
    args += ["--mode", mode] + (["--epochs", "1"] if mode == "tail" else [])
    args += ["--allowed-root", str(shared_data)]  # the val manifest names photos outside its folder
    assert main(args) == 0
    # On the training photos only: once, and (tail) once more for the image + text
    # calibration when the text evidence is used.
    text = json.loads((out / "bundle.json").read_text())["extra"].get("text_evidence", {})
    assert seen == [len(CLASSES) * PER_CLASS] * (2 if text.get("used") else 1)
    stored = json.loads((out / "bundle.json").read_text())
    fitted = stored["extra"]["validate"]
    assert fitted["fitted_on"].startswith("training photos")
    assert 0 <= fitted["mismatch_prob"] <= 1 and 1 <= fitted["confirm_max_rank"] <= 3
    assert stored["extra"]["mode"] == mode and stored["temperature"] > 0
    cv = stored["metrics"]["cv"]  # calibration folds keep near-duplicates together
    assert cv["fold_grouping"].startswith("near-duplicate")
    assert len(CLASSES) <= cv["groups"] <= len(CLASSES) * PER_CLASS


# Look-alike items, so that photos of the same item are near-duplicates only
# within a shooting series (with 4 unlike items, each item is one group).
SERIES_CLASSES = ("Golden-Delicious", "Granny-Smith", "Pink-Lady", "Red-Delicious", "Royal-Gala")
SERIES_CLASSES += ("Arla-Standard-Milk", "Arla-Medium-Fat-Milk", "Arla-Ecological-Medium-Fat-Milk")
SERIES_CLASSES += ("Garant-Ecological-Standard-Milk",)
SERIES_PER_CLASS = 8


@pytest.mark.spark
@pytest.mark.slow
def test_near_duplicate_folds_judge_each_photo_once_and_never_split_a_group(
    spark, shared_data, tmp_path, capsys
):
    from crowdlens.training.groups import near_duplicate_groups
    from crowdlens.training.head import feature_views

    rows = [
        (str(p), cls)
        for cls in SERIES_CLASSES
        for p in sorted((shared_data / "train").rglob(f"{cls}/*.jpg"))[:SERIES_PER_CLASS]
    ]
    broken = tmp_path / "broken.jpg"  # a photo that cannot be decoded: an error row, no fold
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    manifest = tmp_path / "series.csv"
    listed = [*rows, (str(broken), SERIES_CLASSES[0])]
    pd.DataFrame(listed, columns=["path", "label"]).to_csv(manifest, index=False)
    out, cache = tmp_path / "out", tmp_path / "features"
    args = ["audit", str(manifest), "--out", str(out), "--folds", str(FOLDS)]
    args += ["--backbone", "efficientnet_lite0", "--features-cache", str(cache)]
    args += ["--fold-grouping", "near-duplicate", "--no-companions"]
    args += ["--allowed-root", str(shared_data), "--allowed-root", str(tmp_path)]  # confinement
    assert main([*args, "--master", "local[2]"]) == 0
    printed = json.loads(capsys.readouterr().out)
    df = pd.read_parquet(out / "results.parquet")
    summary = json.loads((out / "audit.json").read_text())

    assert printed["fold_grouping"] == summary["fold_grouping"] == "near-duplicate"
    assert summary["config"]["fold_grouping"] == "near-duplicate"
    assert summary["config"]["companions"] == [] and "companions" not in summary  # as asked
    assert len(df) == len(listed) and df[S.PATH].is_unique
    bad = df[df[S.PATH] == str(broken)].iloc[0]
    assert bad[S.STATUS] == "error" and bad[S.ERROR] and pd.isna(bad[S.AUDIT_FOLD])
    df = df[df[S.PATH] != str(broken)].reset_index(drop=True)
    assert len(df) == len(rows) and (df[S.STATUS] == "ok").all()
    folds = df[S.AUDIT_FOLD].to_numpy(dtype=np.int64)  # NA would raise: every photo has one
    assert set(folds) == set(range(FOLDS))
    assert np.isfinite(np.stack(df[S.LOGITS].to_numpy())).all()  # judged by a probe

    # The same groups, recomputed from the same (cached) features and claimed labels.
    views, _ = feature_views(spark, df[[S.PATH]], ["efficientnet_lite0"], cache=cache)
    y = df[S.LABEL].to_numpy()
    groups, threshold = near_duplicate_groups(views[0], y)
    assert summary["groups"] == len(np.unique(groups))
    assert summary["duplicate_similarity"] == round(threshold, 4)
    sizes = np.bincount(groups)
    assert sizes.max() > 1  # the fixture does hold series of near-copies
    checked = 0
    for g in np.flatnonzero(sizes > 1):
        label = y[groups == g][0]
        if len(np.unique(groups[y == label])) >= FOLDS:  # else group_folds must split one
            assert len(set(folds[groups == g])) == 1, f"group {g} of {label} split across folds"
            checked += 1
    assert checked >= 3  # several series were held out whole


def test_fold_grouping_is_checked_at_the_boundary(capsys):
    from crowdlens import schema as S
    from crowdlens.audit import AuditConfig
    from crowdlens.errors import ConfigError

    assert (
        S.FOLD_GROUPINGS == ("random", "near-duplicate") and AuditConfig().fold_grouping == "random"
    )
    with pytest.raises(ConfigError, match="'fold_grouping'.*one of random, near-duplicate"):
        AuditConfig(fold_grouping="groups")
    with pytest.raises(SystemExit):
        main(["audit", "photos", "--out", "o", "--fold-grouping", "groups"])
    assert "invalid choice: 'groups'" in capsys.readouterr().err


def test_audit_frame_is_one_row_per_input_with_error_rows_unknown():
    from crowdlens.audit import RESULT_COLUMNS, AuditConfig, audit_frame

    labels = ["Granny-Smith", "Pink-Lady", "Banana"]
    table = pd.DataFrame(
        {
            S.IMAGE_ID: ["a", "b", "c", "d"],
            S.PATH: ["a.jpg", "b.jpg", "c.jpg", "d.jpg"],
            S.LABEL: ["Granny-Smith", "Pink-Lady", None, "Banana"],
            S.PARENT_LABEL: ["Apple", "Apple", None, "Banana"],
            S.STATUS: ["ok", "ok", "ok", "error"],
            S.ERROR: [None, None, None, "truncated"],
        }
    )
    logits = np.array(
        [[5.0, 0.0, -5.0], [5.0, 0.5, -5.0], [np.nan] * 3, [np.nan] * 3], dtype=np.float32
    )
    folds = np.array([0, 1, -1, -1])
    # Row b: the claimed item is 2nd at p 0.011, 0.98 below the top: suspect at a 0.8 margin.
    from crowdlens.stages.validate import ValidateConfig

    cfg = AuditConfig(validate=ValidateConfig(confirm_margin=0.8, mismatch_prob=0.002))
    out = audit_frame(table, logits, folds, labels, cfg, None)
    assert list(out.columns) == list(RESULT_COLUMNS) and len(out) == 4
    assert out[S.LABEL_VERDICT].tolist() == ["confirmed", "suspect", "unknown", "unknown"]
    assert (out.loc[1, S.LABEL_PREFERRED], out.loc[1, S.LABEL_RELATION]) == (
        "Granny-Smith",
        "sibling",
    )
    assert out[S.AUDIT_FOLD].tolist()[:2] == [0, 1] and out[S.AUDIT_FOLD].isna().tolist()[2:] == [
        True,
        True,
    ]
    assert out.loc[3, S.ERROR] == "truncated" and out.loc[3, S.PRED_LABEL] is None
