"""The text evidence of label validation (crowdlens.training.text_evidence): pure parts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crowdlens.errors import CrowdlensError
from crowdlens.training.text_evidence import (
    ARRAYS_FILE,
    JSON_FILE,
    TextModel,
    choose_fusion,
    document,
    fit_text_model,
)

# What OCR reads on three packs (two sibling yoghurts and a juice) and on fruit.
PACKS = {
    0: ["arla | mild | yoghurt | vanilj", "arla | yoghurt | mild", "mild vanilj | arla"],
    1: ["arla | naturell | yoghurt", "naturell | arla", "yoghurt | naturell | 3%"],
    2: ["god morgon | apple", "god | morgon | äpple", "morgon | apple | 100%"],
    3: ["", "", "4011"],
}


def corpus(copies: int = 4) -> tuple[list[str], np.ndarray]:
    docs, y = [], []
    for _ in range(copies):
        for item, texts in PACKS.items():
            docs += texts
            y += [item] * len(texts)
    return docs, np.array(y)


def test_document_keeps_confident_lines_in_lower_case():
    lines = [("Arla", 0.99), ("  ", 0.99), ("YOGHURT", 0.9), ("#@!", 0.3)]
    assert document(lines) == "arla | yoghurt"
    assert document([]) == ""


def test_the_text_model_reads_the_item_off_the_pack():
    docs, y = corpus()
    model = fit_text_model(docs, y, 5, c=3.0)  # item 4 has no photo
    lp = model.log_probs(["ARLA VANILJ".lower(), "naturell", "morgon apple", ""])
    assert list(lp[:3].argmax(1)) == [0, 1, 2]
    assert lp[:, 4].max() < -20  # never predicted: no training photo had it
    assert np.all(model.with_weight(1.0).evidence(["arla", ""])[:, 4] == 0)  # nor vetoed
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0, rtol=1e-6)
    assert lp[3].argmax() == 3  # no text at all: the item that has none
    assert np.all(model.evidence(docs[:3]) == 0)  # weight 0 until chosen


def test_a_saved_model_loads_to_the_same_evidence_without_pickle(tmp_path):
    docs, y = corpus()
    model = fit_text_model(docs, y, 4, c=3.0).with_weight(0.75)
    model.save(tmp_path)
    with np.load(tmp_path / ARRAYS_FILE, allow_pickle=False) as z:  # plain arrays only
        assert set(z.files) == {"idf", "coef", "intercept", "log_prior"}
    again = TextModel.load(tmp_path)
    assert again.weight == 0.75 and again.c == 3.0
    probe = ["arla mild", "god morgon", "", "something else"]
    np.testing.assert_allclose(again.evidence(probe), model.evidence(probe), rtol=1e-6)


def test_a_broken_text_model_is_refused_with_what_to_do(tmp_path):
    docs, y = corpus()
    fit_text_model(docs, y, 4, c=3.0).save(tmp_path)
    meta = json.loads((tmp_path / JSON_FILE).read_text())
    meta["vocabulary"] = meta["vocabulary"][:-3]
    (tmp_path / JSON_FILE).write_text(json.dumps(meta))
    with pytest.raises(CrowdlensError, match="inconsistent.*text_evidence = false"):
        TextModel.load(tmp_path)
    (tmp_path / ARRAYS_FILE).write_bytes(b"not an npz")
    with pytest.raises(CrowdlensError, match="cannot be read.*re-train the bundle"):
        TextModel.load(tmp_path)


def test_a_text_model_for_another_label_list_is_refused(tmp_path):
    docs, y = corpus()
    model = fit_text_model(docs, y, 4, c=3.0)
    model.check(tmp_path, 4)
    with pytest.raises(CrowdlensError, match="4 items, but the bundle has 5 labels"):
        model.check(tmp_path, 5)


def test_two_items_are_told_apart_too():
    # scikit-learn fits one row of weights for two classes: both items must still get theirs.
    docs = ["arla | yoghurt", "arla | mild", "god morgon", "morgon | apple"] * 3
    y = np.array([0, 0, 1, 1] * 3)
    model = fit_text_model(docs, y, 3, c=10.0)
    lp = model.log_probs(["arla yoghurt", "god morgon apple"])
    assert list(lp.argmax(1)) == [0, 1]
    assert lp[0, 0] > np.log(0.6) and lp[1, 1] > np.log(0.6)


def test_fusion_is_chosen_out_of_fold_only_when_the_text_helps():
    docs, y = corpus(copies=6)
    folds = np.arange(len(y)) % 2
    rng = np.random.default_rng(0)
    # An image model that tells the packs from fruit but confuses the two yoghurts.
    image = rng.normal(0, 0.1, (len(y), 4)).astype(np.float32)
    image[y <= 1, 0] += 2.0
    image[y <= 1, 1] += 2.0
    image[y == 2, 2] += 3.0
    image[y == 3, 3] += 3.0
    c, weight, fused, grid = choose_fusion(image, docs, y, folds)
    assert weight > 0 and c in (1.0, 3.0, 10.0)
    assert (image.argmax(1) == y).mean() < 0.8  # half the yoghurts wrong
    assert (fused.argmax(1) == y).mean() == 1.0
    assert len(grid) == 3 * 6 and max(g["top1"] for g in grid) == 1.0
    # A different lot number on every photo says nothing about the item. Fitted on the
    # photos it judges, the text model would memorise each number and seem perfect; out
    # of fold it knows none of them, so the image alone (weight 0) is kept.
    noise = [f"lot {n}" for n in rng.permutation(len(y)) + 1000]
    _, weight, fused, _ = choose_fusion(image, noise, y, folds)
    assert weight == 0.0
    np.testing.assert_array_equal(fused, image)
