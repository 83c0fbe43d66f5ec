"""A pretrained head names real checked-in photos correctly (tests/data/imagenet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crowdlens.cli import main
from crowdlens.models.bundle import load_bundle
from crowdlens.models.predict import predict_contents

IMAGENET_PHOTOS = Path(__file__).resolve().parents[1] / "data" / "imagenet"

EXPECTED = {"orange": "orange", "lemon": "lemon", "pineapple": "pineapple"}


@pytest.mark.parametrize("which", ["lite0_bundle", "mobilenet_bundle"])
def test_pretrained_head_names_the_fruit(which, request, photo_bytes):
    bundle = load_bundle(request.getfixturevalue(which))
    names = sorted(EXPECTED)
    preds = predict_contents([photo_bytes[n] for n in names], bundle)
    for name, pred in zip(names, preds, strict=True):
        assert pred.error is None
        assert pred.label == EXPECTED[name], (name, pred.topk)
        assert pred.score > 0.3


def test_cli_classify_prints_topk(lite0_bundle, capsys):
    photos = [str(IMAGENET_PHOTOS / "orange.jpg"), str(IMAGENET_PHOTOS / "lemon.jpg")]
    assert main(["classify", *photos, "--model", str(lite0_bundle), "--topk", "3", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["topk"][0]["label"] for x in lines] == ["orange", "lemon"]
    assert all(len(x["topk"]) == 3 for x in lines)
    assert main(["classify", photos[0], "--model", str(lite0_bundle)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == photos[0] and "1. orange" in out


def test_cli_classify_reports_bad_photos(lite0_bundle, tmp_path, capsys):
    bad = tmp_path / "note.jpg"
    bad.write_text("hello")
    assert main(["classify", str(bad), "--model", str(lite0_bundle)]) == 1
    assert "text file, not a photo" in capsys.readouterr().out


def test_cli_inspect(lite0_bundle, capsys):
    assert main(["inspect", str(lite0_bundle)]) == 0
    out = capsys.readouterr().out
    assert "efficientnet_lite0" in out and "mean=[127.0, 127.0, 127.0]" in out
    assert "labels        1000" in out and "max abs diff" in out
    assert main(["inspect", str(lite0_bundle), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == "classify"


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crowdlens: error:") and "neither a bundle directory" in err
