"""What a label flag means: the bundle's cross-validated figures in the report."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from crowdlens import schema as S
from crowdlens.report import write_report
from crowdlens.report.model_card import flag_meaning

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


@pytest.fixture
def bundle(tmp_path):
    folder = tmp_path / "B"
    folder.mkdir()
    metrics = {"cv": IMAGE_CV, "text_evidence": {"cv": TEXT_CV}}
    (folder / "bundle.json").write_text(json.dumps({"metrics": metrics}))
    return folder


def _results(evidence):
    return pd.DataFrame({S.IMAGE_ID: list("abc"), S.LABEL_EVIDENCE: evidence})


def test_figures_follow_how_the_photos_were_judged(bundle):
    by_text = flag_meaning(bundle, _results(["image+text", "image+text", None]))
    assert by_text["precision"] == 0.5983 and by_text["judged_by"] == "image and text"
    by_image = flag_meaning(bundle, _results(["image", "image", "image+text"]))
    assert by_image["precision"] == 0.5524 and by_image["judged_by"] == "image"
    assert by_image["reached"] is False and by_image["photos"] == 2640


def test_nothing_is_said_without_figures(bundle, tmp_path):
    assert flag_meaning(None, _results(["image"] * 3)) is None
    assert flag_meaning("efficientnet_lite0", _results(["image"] * 3)) is None  # a registry name
    (bundle / "bundle.json").write_text(json.dumps({"metrics": {"val": {"top1": 0.8}}}))
    assert flag_meaning(bundle, _results(["image"] * 3)) is None  # a head-mode bundle
    (bundle / "bundle.json").write_text("{not json")
    assert flag_meaning(bundle, _results(["image"] * 3)) is None


def test_the_report_says_what_a_flag_means(bundle, results_dir, tmp_path):
    html = write_report(
        results_dir / "results.parquet", tmp_path / "r.html", model=bundle
    ).read_text(encoding="utf-8")
    assert 'id="flag-meaning"' in html
    # The results factory's photos were judged by the image alone.
    assert "about <b>55 %</b> of the photos flagged" in html
    assert "8.5 % of correctly labelled photos are flagged too" in html
    assert "not reach the 95 % precision aimed for" in html
    without = write_report(results_dir / "results.parquet", tmp_path / "s.html").read_text()
    assert 'id="flag-meaning"' not in without
