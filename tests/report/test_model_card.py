"""What a label flag means: the bundle's cross-validated figures in the report."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest

from crowdlens import schema as S
from crowdlens.report import write_report
from crowdlens.report.model_card import flag_meaning
from crowdlens.stages.validate import ValidateConfig

IMAGE_CV = {
    "precision": 0.5524,
    "recall": 0.9424,
    "recall_random": 0.9909,
    "recall_sibling": 0.8939,
    "clean_flagged": 0.0848,
    "noise": 0.1,
    "photos": 2640,
    "min_precision": 0.95,
    "min_precision_reached": False,
}
TEXT_CV = IMAGE_CV | {"precision": 0.5983, "clean_flagged": 0.0705}


def _write(folder, metrics):
    folder.mkdir(exist_ok=True)
    (folder / "bundle.json").write_text(json.dumps({"metrics": metrics}))
    return folder


@pytest.fixture
def bundle(tmp_path):
    return _write(tmp_path / "B", {"cv": IMAGE_CV, "text_evidence": {"cv": TEXT_CV}})


def run(model, **validate):
    """A run's configuration as moderate hands it to the report."""
    return SimpleNamespace(
        model=SimpleNamespace(bundle=str(model)), validate=ValidateConfig(**validate)
    )


def _results(*evidence):
    return pd.DataFrame(
        {S.IMAGE_ID: [str(i) for i in range(len(evidence))], S.LABEL_EVIDENCE: evidence}
    )


def test_each_way_of_judging_gets_its_own_figures(bundle):
    kinds = flag_meaning(run(bundle), _results("image+text", "image+text", "image", None))["kinds"]
    assert [(k["judged_by"], k["photos"], k["precision"]) for k in kinds] == [
        ("image and text", 2, 0.5983),
        ("image", 1, 0.5524),
    ]
    assert kinds[0]["reached"] is False and kinds[0]["training_photos"] == 2640


def test_the_validate_bundle_is_the_one_that_judged(bundle, tmp_path):
    other = _write(tmp_path / "other", {"cv": IMAGE_CV | {"precision": 0.91}})
    cfg = run(bundle, bundle=str(other))
    assert flag_meaning(cfg, _results("image"))["kinds"][0]["precision"] == 0.91


def test_overridden_thresholds_are_said_not_described(bundle):
    said = flag_meaning(run(bundle, confirm_margin=0.5), _results("image"))
    assert said == {"overridden": ["confirm_margin = 0.5"]}


@pytest.mark.parametrize(
    "metrics",
    [
        {"val": {"top1": 0.8}},  # a head-mode bundle: no cross-validation
        {"cv": "broken"},
        {"cv": IMAGE_CV | {"precision": float("nan")}},
        {"cv": IMAGE_CV | {"recall": True}},
        {"cv": IMAGE_CV | {"clean_flagged": 7.0}},  # not a share
        "not a table",
    ],
)
def test_unusable_figures_give_nothing(tmp_path, metrics):
    folder = _write(tmp_path / "B", metrics)
    assert flag_meaning(run(folder), _results("image")) is None


def test_nothing_is_read_without_a_bundle_folder(tmp_path):
    assert flag_meaning(None, _results("image")) is None
    assert flag_meaning(run(tmp_path / "no-such-folder"), _results("image")) is None
    (tmp_path / "B").mkdir()
    (tmp_path / "B" / "bundle.json").write_text("{not json")
    assert flag_meaning(run(tmp_path / "B"), _results("image")) is None


def test_optional_fields_may_be_missing(tmp_path):
    cv = {k: v for k, v in IMAGE_CV.items() if k not in ("photos", "min_precision")}
    folder = _write(tmp_path / "B", {"cv": cv | {"min_precision_reached": True}})
    kind = flag_meaning(run(folder), _results("image"))["kinds"][0]
    assert kind["training_photos"] is None and kind["min_precision"] is None


def _report(results_dir, tmp_path, cfg, evidence="image+text"):
    df = pd.read_parquet(results_dir / "results.parquet")
    df[S.LABEL_EVIDENCE] = evidence
    src = tmp_path / "results.parquet"
    df.to_parquet(src)
    return write_report(src, tmp_path / "r.html", run_cfg=cfg).read_text(encoding="utf-8")


def test_the_report_says_what_a_flag_means(bundle, results_dir, tmp_path):
    html = _report(results_dir, tmp_path, run(bundle))
    assert 'id="flag-meaning"' in html and "judged by image and text" in html
    assert "about <b>60 %</b> of the photos flagged" in html
    assert "7.0 % of correctly labelled photos are flagged too" in html
    assert "not reach the 95 % precision aimed for" in html
    html = _report(results_dir, tmp_path, run(bundle, mismatch_prob=0.01))
    assert "mismatch_prob = 0.01" in html and "do not describe them" in html
    assert "about <b>" not in html
    assert 'id="flag-meaning"' not in _report(results_dir, tmp_path, None)
