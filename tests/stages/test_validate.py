"""Label validation: pure verdict rules, then the stage on real Spark."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from crowdlens import schema as S
from crowdlens.errors import ConfigError
from crowdlens.stages.validate import (
    Thresholds,
    ValidateConfig,
    calibrate,
    judge,
    judge_from_topk,
    validate_stage,
)

LABELS = ["Granny-Smith", "Pink-Lady", "Banana", "Oat-Milk"]
PARENTS = {"Granny-Smith": "Apple", "Pink-Lady": "Apple"}
TH = Thresholds(confirm_margin=0.1, mismatch_prob=0.02, confirm_max_rank=2)


def test_calibrate_temperature_flattens_and_sharpens():
    logits = [4.0, 1.0, 0.0, -1.0]
    p1 = calibrate(logits, 1.0)
    hot = calibrate(logits, 3.0)
    cold = calibrate(logits, 0.5)
    assert math.isclose(p1.sum(), 1.0) and math.isclose(hot.sum(), 1.0)
    assert hot[0] < p1[0] < cold[0]
    assert np.argmax(hot) == np.argmax(p1) == 0  # temperature never changes the ranking


def test_calibrate_is_stable_for_huge_logits():
    p = calibrate([1000.0, 999.0])
    assert np.all(np.isfinite(p)) and p[0] > p[1]


@pytest.mark.parametrize(
    ("label", "probs", "expected"),
    [
        # top-1, even when unsure: the claimed item is what the model sees
        ("Granny-Smith", [0.30, 0.29, 0.21, 0.20], ("confirmed", 1, None, None)),
        # rank 2 within the margin of the top-1
        ("Pink-Lady", [0.45, 0.40, 0.10, 0.05], ("confirmed", 2, None, None)),
        # rank 2 but the model clearly prefers a sibling
        ("Pink-Lady", [0.70, 0.25, 0.03, 0.02], ("suspect", 2, "Granny-Smith", "sibling")),
        # plausible but another kind of item preferred
        ("Oat-Milk", [0.05, 0.03, 0.80, 0.12], ("suspect", 2, "Banana", "different_kind")),
        # implausible
        ("Oat-Milk", [0.97, 0.015, 0.01, 0.005], ("mismatch", 4, "Granny-Smith", "different_kind")),
    ],
)
def test_verdict_rules(label, probs, expected):
    j = judge(label, probs, LABELS, TH, PARENTS)
    assert (j.verdict, j.rank, j.preferred, j.relation) == expected
    assert j.prob == pytest.approx(probs[LABELS.index(label)])
    best_other = max(p for lab, p in zip(LABELS, probs) if lab != label)
    assert j.issue_score == pytest.approx(best_other - j.prob)


def test_issue_score_ranks_a_likely_wrong_label_first():
    right = judge("Banana", [0.05, 0.05, 0.85, 0.05], LABELS, TH, PARENTS)
    wrong = judge("Pink-Lady", [0.85, 0.05, 0.05, 0.05], LABELS, TH, PARENTS)
    assert wrong.issue_score > 0 > right.issue_score


def test_the_issue_case_rank_8_at_p_0007_is_never_confirmed():
    # Issue #12: claimed p = 0.007, rank 8, another item at 0.86 was 'confirmed'.
    labels = [f"item{i}" for i in range(81)]
    probs = np.full(81, (1 - 0.86 - 0.007 - 6 * 0.015) / 73)
    probs[0], probs[1:7], probs[7] = 0.86, 0.015, 0.007
    for cfg in (ValidateConfig(), ValidateConfig(confirm_margin=1.0, mismatch_prob=0.0)):
        for fitted in (None, {"confirm_margin": 1.0, "mismatch_prob": 0.0}):
            j = judge("item7", probs, labels, cfg.thresholds(fitted))
            assert j.rank == 8 and j.verdict != "confirmed" and j.preferred == "item0"


def test_rank_8_is_never_confirmed_under_any_allowed_thresholds():
    rng = np.random.default_rng(0)
    labels = [f"item{i}" for i in range(20)]
    seen = 0
    for _ in range(400):
        # flat and peaked distributions alike
        probs = rng.dirichlet(np.full(20, rng.choice([0.1, 1.0, 50.0])))
        claimed = labels[int(np.argsort(-probs)[7])]
        for rank in (1, 2, 3):
            for margin in (0.0, 0.5, 1.0):
                th = ValidateConfig(
                    confirm_margin=margin, mismatch_prob=0.0, confirm_max_rank=rank
                ).thresholds()
                j = judge(claimed, probs, labels, th)
                assert j.rank == 8 and j.verdict in ("suspect", "mismatch")
                seen += 1
    assert seen == 400 * 9


def test_confirm_max_rank_cannot_reach_rank_8():
    with pytest.raises(ConfigError, match=re.escape("must be an int in [1, 3]")):
        ValidateConfig(confirm_max_rank=8)


@pytest.mark.parametrize("label", [None, "", "Durian"])
def test_verdict_unknown_for_missing_or_unknown_label(label):
    assert judge(label, [0.25] * 4, LABELS, TH).verdict == "unknown"


def test_verdict_unknown_without_prediction():
    assert judge("Banana", None, LABELS, TH).verdict == "unknown"


def test_verdict_refuses_misaligned_probabilities():
    with pytest.raises(ValueError, match="3 probabilities for 4 labels"):
        judge("Banana", [0.5, 0.3, 0.2], LABELS, TH)


def test_config_overrides_bundle_which_overrides_defaults():
    fitted = {"confirm_margin": 0.3, "mismatch_prob": 0.004}
    assert ValidateConfig().thresholds(fitted).confirm_margin == 0.3
    assert ValidateConfig(confirm_margin=0.05).thresholds(fitted).confirm_margin == 0.05
    assert ValidateConfig().thresholds(None) == Thresholds()


def test_topk_matches_full_vector_when_label_is_in_topk():
    logits = np.array([3.0, 2.0, 0.5, -1.0])
    p = calibrate(logits, 1.0)
    full = judge("Pink-Lady", p, LABELS, TH, PARENTS)
    topk = [{"label": LABELS[i], "score": float(p[i])} for i in (0, 1, 2)]
    approx = judge_from_topk("Pink-Lady", topk, LABELS, TH, PARENTS)
    assert approx[:4] == full[:4] and approx[0] == "suspect"
    assert approx.prob == pytest.approx(full.prob)
    assert approx.issue_score == pytest.approx(full.issue_score)


def test_topk_label_outside_topk_has_no_rank_and_is_never_confirmed():
    topk = [("Granny-Smith", 0.50), ("Pink-Lady", 0.45)]
    j = judge_from_topk("Banana", topk, LABELS, Thresholds(confirm_margin=1.0, mismatch_prob=0.0))
    assert (j.verdict, j.rank, j.preferred) == ("suspect", None, "Granny-Smith")
    assert j.prob == pytest.approx(0.025)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": 0.0}, "The 'temperature' parameter of ValidateConfig must be a float > 0"),
        ({"confirm_margin": 1.5}, "The 'confirm_margin' parameter of ValidateConfig"),
        ({"mismatch_prob": -0.1}, "must be a float in [0, 1] (or unset to use the bundle's)"),
        ({"confirm_max_rank": 0}, "must be an int in [1, 3]"),
    ],
)
def test_config_messages(kwargs, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        ValidateConfig(**kwargs)


def _table(spark, with_logits: bool):
    logits = [3.0, 0.0, -1.0, -4.0]  # a confident "Granny-Smith"
    p = calibrate(logits)
    rows = [
        ("a", "ok", "Granny-Smith"),
        ("b", "ok", "Oat-Milk"),
        ("c", "ok", None),
        ("d", "error", "Banana"),
        ("e", "ok", "Durian"),
        ("f", "ok", "Pink-Lady"),
    ]
    topk = [{"label": LABELS[i], "score": float(p[i])} for i in range(3)]
    data = []
    for image_id, status, label in rows:
        ok = status == "ok"
        data.append((image_id, status, label, logits if ok else None, topk if ok else None))
    ddl = (
        f"{S.IMAGE_ID} string, {S.STATUS} string, {S.LABEL} string, "
        f"{S.LOGITS} array<float>, {S.TOPK} {S.DDL[S.TOPK]}"
    )
    df = spark.createDataFrame(data, ddl)
    return df if with_logits else df.drop(S.LOGITS)


@pytest.mark.spark
@pytest.mark.parametrize("with_logits", [True, False])
def test_stage_on_spark(spark, with_logits):
    df = _table(spark, with_logits)
    cfg = ValidateConfig(confirm_margin=0.1, mismatch_prob=0.02)
    out = validate_stage(df, cfg, labels=LABELS, temperature=1.0, parents=PARENTS)
    got = {r[S.IMAGE_ID]: r for r in out.collect()}
    assert got["a"][S.LABEL_VERDICT] == "confirmed" and got["a"][S.LABEL_RANK] == 1
    assert got["a"][S.LABEL_PREFERRED] is None
    assert got["b"][S.LABEL_VERDICT] == "mismatch"
    assert got["b"][S.LABEL_RANK] == (4 if with_logits else None)
    assert got["f"][S.LABEL_VERDICT] == "suspect"
    assert (got["f"][S.LABEL_PREFERRED], got["f"][S.LABEL_RELATION]) == ("Granny-Smith", "sibling")
    assert got["f"][S.LABEL_ISSUE_SCORE] > 0
    for unknown in ("c", "d", "e"):
        assert got[unknown][S.LABEL_VERDICT] == "unknown"
        assert got[unknown][S.LABEL_PROB] is None
    assert set(out.columns) >= {S.LABEL_PROB, S.LABEL_RANK, S.LABEL_VERDICT, S.TOPK}


@pytest.mark.spark
def test_stage_without_classifier_output_is_all_unknown(spark):
    df = _table(spark, with_logits=False).drop(S.TOPK)
    out = validate_stage(df, ValidateConfig())
    assert {r[S.LABEL_VERDICT] for r in out.collect()} == {"unknown"}


def _fusion(weight: float = 1.0):
    from crowdlens.training.text_evidence import TextFusion, fit_text_model

    docs = ["granny smith | sweden", "granny | smith", "pink lady | 1", "pink | lady"]
    docs += ["", "", "oatly | oat drink", "oatly | the original"]
    y = np.array([0, 0, 1, 1, 2, 2, 3, 3] * 3)
    model = fit_text_model(docs * 3, y, len(LABELS), c=10.0).with_weight(weight)
    return TextFusion(model, temperature=1.0, fitted={}, th=TH)


def _regions(*texts: str) -> list[dict]:
    return [{S.REGION_TEXT: t, S.REGION_CONFIDENCE: 0.95, S.REGION_POLYGON: []} for t in texts]


def test_the_photos_text_is_evidence_for_the_item_it_names():
    from crowdlens.stages.validate import validate_row

    # The image model prefers Pink-Lady a little; the sticker reads "Granny Smith".
    row = {S.STATUS: S.STATUS_OK, S.LABEL: "Granny-Smith", S.LOGITS: [1.0, 2.0, -3.0, -3.0]}
    row |= {S.PRED_LABEL: "Pink-Lady", S.PRED_SCORE: 0.7, S.TEXT_REGIONS: _regions("GRANNY SMITH")}
    kw = {"labels": LABELS, "temperature": 1.0, "th": TH, "source": S.LOGITS, "parents": PARENTS}
    fused = validate_row(row, fusion=_fusion(), **kw)
    assert fused[S.LABEL_EVIDENCE] == "image+text"
    assert fused[S.LABEL_VERDICT] == "confirmed" and fused[S.PRED_LABEL] == "Granny-Smith"
    assert fused[S.PRED_SCORE] == pytest.approx(fused[S.LABEL_PROB])
    # The same photo judged without its text (text stage off): the image alone.
    alone = validate_row({**row, S.TEXT_REGIONS: None}, fusion=_fusion(), **kw)
    assert alone[S.LABEL_EVIDENCE] == "image" and alone[S.LABEL_VERDICT] == "suspect"
    assert (alone[S.PRED_LABEL], alone[S.PRED_SCORE]) == ("Pink-Lady", 0.7)  # classify's, kept
    # A sticker naming another item makes a wrong claim stand out more, not less.
    wrong = validate_row({**row, S.TEXT_REGIONS: _regions("Pink Lady")}, fusion=_fusion(), **kw)
    assert wrong[S.LABEL_VERDICT] in ("suspect", "mismatch")
    assert wrong[S.LABEL_PREFERRED] == "Pink-Lady"
    assert wrong[S.LABEL_ISSUE_SCORE] > alone[S.LABEL_ISSUE_SCORE]
    # Without a bundle text model nothing changes, and no prediction column is touched.
    plain = validate_row(row, **kw)
    assert plain[S.LABEL_EVIDENCE] == "image" and S.PRED_LABEL not in plain
    assert plain[S.LABEL_VERDICT] == alone[S.LABEL_VERDICT]


def test_text_evidence_never_confirms_a_claim_ranked_8th():
    from crowdlens.stages.validate import validate_row

    labels = [f"item-{i}" for i in range(10)]
    fusion = _fusion()
    fusion = type(fusion)(fusion.model, 1.0, {}, Thresholds(0.9, 0.0, 3))
    # Four text classes only: the model's evidence covers items 0-3; item-9 is ranked 8th+.
    logits = [5.0, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0, 1.0, 0.5, 1.5]
    row = {S.STATUS: S.STATUS_OK, S.LABEL: "item-9", S.LOGITS: logits}
    row |= {S.TEXT_REGIONS: _regions(""), S.PRED_LABEL: "item-0", S.PRED_SCORE: 0.3}
    model = fusion.model
    padded = type(model)(
        model.vocabulary, model.idf, np.vstack([model.coef, np.zeros((6, model.coef.shape[1]))]),
        np.concatenate([model.intercept, np.full(6, -30.0)]),
        np.concatenate([model.log_prior, np.full(6, -30.0)]), model.c, model.weight,
    )  # fmt: skip
    fusion = type(fusion)(padded, 1.0, {}, fusion.th)
    out = validate_row(row, labels, 1.0, fusion.th, S.LOGITS, {}, fusion=fusion)
    assert out[S.LABEL_EVIDENCE] == "image+text"
    assert out[S.LABEL_RANK] >= 8 and out[S.LABEL_VERDICT] != "confirmed"


def test_a_photo_without_text_is_judged_with_the_no_text_evidence_and_errors_pass_through():
    from crowdlens.stages.validate import validate_row

    kw = {"labels": LABELS, "temperature": 1.0, "th": TH, "source": S.LOGITS, "parents": PARENTS}
    row = {S.STATUS: S.STATUS_OK, S.LABEL: "Banana", S.LOGITS: [0.0, 0.0, 2.0, 1.9]}
    row |= {S.PRED_LABEL: "Banana", S.PRED_SCORE: 0.4, S.TEXT_REGIONS: []}  # gate saw no text
    out = validate_row(row, fusion=_fusion(), **kw)
    # No text at all is (mild) evidence for the item that carries none: the banana, not the pack.
    assert out[S.LABEL_EVIDENCE] == "image+text" and out[S.PRED_LABEL] == "Banana"
    assert out[S.LABEL_VERDICT] == "confirmed"
    bad = validate_row({**row, S.STATUS: S.STATUS_ERROR}, fusion=_fusion(), **kw)
    assert bad[S.LABEL_VERDICT] == "unknown" and bad[S.LABEL_EVIDENCE] is None
    assert (bad[S.PRED_LABEL], bad[S.PRED_SCORE]) == ("Banana", 0.4)  # classify's, untouched
