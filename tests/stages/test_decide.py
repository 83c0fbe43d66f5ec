"""Moderation decisions: the pure rules, TOML loading, and the stage on real Spark."""

from __future__ import annotations

import pytest

from crowdlens import schema as S
from crowdlens.errors import ConfigError
from crowdlens.stages.decide import Policy, decide, decide_stage, load_policy, reason_kind


def ok(**cols):
    return {S.STATUS: "ok", **cols}


def test_clean_confirmed_photo_is_accepted_without_reasons():
    assert decide(ok(label="Apple", label_verdict="confirmed"), Policy()) == ("accept", [])


def test_decode_error_rejects_and_keeps_the_error_text():
    decision, reasons = decide({S.STATUS: "error", S.ERROR: "truncated JPEG"}, Policy())
    assert decision == "reject" and reasons == ["decode error: truncated JPEG"]
    assert decide({S.STATUS: "error"}, Policy(reject_on_error=False))[0] == "review"


def test_flags_follow_the_policy_patterns():
    policy = Policy(reject_flags=("dup*",), accept_flags=("low_contrast",))
    assert decide(ok(quality_flags=["duplicate"]), policy)[0] == "reject"
    assert decide(ok(quality_flags=["low_contrast"]), policy) == (
        "accept",
        ["quality: low_contrast"],
    )
    decision, reasons = decide(ok(quality_flags=["blurry", "low_contrast"]), policy)
    assert decision == "review" and len(reasons) == 2


def test_strongest_action_wins():
    row = ok(quality_flags=["duplicate"], label="Apple", label_verdict="mismatch")
    assert decide(row, Policy(reject_flags=("duplicate",)))[0] == "reject"


def test_verdicts_give_readable_reasons():
    row = ok(label="Apple", pred_label="Pear", label_prob=0.012, label_verdict="mismatch")
    decision, reasons = decide(row, Policy())
    assert decision == "review"
    assert reasons == ["label mismatch: claimed 'Apple', looks like 'Pear' (p=0.01)"]
    row = ok(label="Apple", pred_label="Pear", label_prob=0.2, label_rank=2)
    row[S.LABEL_VERDICT] = "suspect"
    assert decide(row, Policy(suspect="accept")) == (
        "accept",
        ["label suspect: claimed 'Apple' ranked 2, looks like 'Pear' (p=0.20)"],
    )
    assert decide(ok(label=None, label_verdict="unknown"), Policy())[0] == "accept"
    assert decide(ok(label="Durian", label_verdict="unknown"), Policy())[0] == "review"


def test_pii_is_redacted_not_rejected():
    row = ok(pii_types=["PHONE_NUMBER", "EMAIL_ADDRESS"], redacted_path="redacted/a.jpg")
    decision, reasons = decide(row, Policy())
    assert decision == "accept"
    assert reasons == ["personal information: EMAIL_ADDRESS, PHONE_NUMBER (released redacted)"]
    # PII found but the redacted copy is missing: a person must look.
    assert decide(ok(pii_types=["PERSON"], redacted_path=None), Policy())[0] == "review"


def test_reason_kind():
    assert reason_kind("label mismatch: claimed 'A: B'") == "label mismatch"


def test_policy_from_toml(tmp_path):
    cfg = tmp_path / "crowdlens.toml"
    cfg.write_text('[policy]\nreject_flags = ["too_small"]\nmismatch = "reject"\n')
    policy = load_policy(cfg)
    assert policy.reject_flags == ("too_small",) and policy.mismatch == "reject"
    cfg.write_text('[policy]\nmismatch = "delete"\n')
    with pytest.raises(ConfigError, match="The 'mismatch' parameter of Policy must be one of"):
        load_policy(cfg)
    cfg.write_text("[policy]\nmismatch_action = 'reject'\n")
    with pytest.raises(ConfigError, match="Unknown setting 'mismatch_action'"):
        load_policy(cfg)


@pytest.mark.spark
def test_stage_on_spark_uses_only_columns_present(spark):
    ddl = (
        f"{S.IMAGE_ID} string, {S.STATUS} string, {S.ERROR} string, {S.LABEL} string, "
        f"{S.QUALITY_FLAGS} array<string>, {S.LABEL_VERDICT} string"
    )
    df = spark.createDataFrame(
        [
            ("a", "ok", None, "Apple", [], "confirmed"),
            ("b", "ok", None, "Apple", ["blurry"], "confirmed"),
            ("c", "error", "empty file (0 bytes)", None, None, "unknown"),
        ],
        ddl,
    )
    out = {r[S.IMAGE_ID]: r for r in decide_stage(df, Policy()).collect()}
    assert out["a"][S.DECISION] == "accept" and out["a"][S.REASONS] == []
    assert out["b"][S.DECISION] == "review" and out["b"][S.REASONS] == ["quality: blurry"]
    assert out["c"][S.DECISION] == "reject"
    assert out["c"][S.REASONS] == ["decode error: empty file (0 bytes)"]


def test_a_failed_check_sends_the_photo_to_review():
    from crowdlens.stages.decide import Policy, decide

    decision, reasons = decide(
        {"status": "ok", "quality_flags": [], "text_error": "ocr: RuntimeError: boom",
         "redacted_path": None, "pii_types": None},
        Policy(),
    )  # fmt: skip
    assert decision == "review"
    assert reasons == ["check failed: text check failed: ocr: RuntimeError: boom"]
    decision, _ = decide(
        {"status": "ok", "quality_error": "odd size"}, Policy(check_failed="reject")
    )
    assert decision == "reject"


def test_pii_still_readable_after_redaction_goes_to_review():
    import numpy as np

    row = ok(pii_types=["PERSON"], redacted_path=None, release_verified=np.False_)
    decision, reasons = decide(row, Policy())
    assert decision == "review"
    assert [reason_kind(r) for r in reasons] == [S.REASON_PII_STILL_READABLE]
    assert "no copy was released" in reasons[0]
    # Verified, or nothing to verify: released redacted as before.
    for verified in (True, None, float("nan")):
        row = ok(pii_types=["PERSON"], redacted_path="redacted/a.jpg", release_verified=verified)
        assert decide(row, Policy())[0] == "accept"
    assert decide(ok(release_verified=False), Policy()) == ("accept", [])  # no PII: no reason


def test_accidental_shots_are_rejected_and_other_new_checks_reviewed():
    assert decide(ok(quality_flags=[S.FLAG_LOW_INFORMATION]), Policy())[0] == "reject"
    for flag in (S.FLAG_GRAYSCALE, S.FLAG_ODD_ASPECT_RATIO, "stale_capture", "shared_photo"):
        assert decide(ok(quality_flags=[flag]), Policy())[0] == "review", flag


def test_a_copy_names_both_photos_in_the_reasons():
    note = "near copy of photo 'a1' (contributor 'alice', item 'Kiwi')"
    decision, reasons = decide(ok(quality_flags=["shared_photo"], duplicate_note=note), Policy())
    assert decision == "review" and f"quality: {note}" in reasons


def test_a_suspect_names_the_preferred_item_and_its_relation():
    row = ok(
        label="Granny-Smith", pred_label="Pink-Lady", label_verdict="suspect", label_rank=2,
        label_prob=0.2, label_preferred="Pink-Lady", label_relation=S.RELATION_SIBLING,
    )  # fmt: skip
    decision, reasons = decide(row, Policy())
    assert decision == "review"
    assert reasons == [
        "label suspect: claimed 'Granny-Smith' ranked 2, looks like 'Pink-Lady', a sibling (p=0.20)"
    ]


def test_a_reason_says_when_the_photos_text_was_evidence():
    row = ok(
        label="Granny-Smith", pred_label="Pink-Lady", label_verdict="suspect", label_rank=2,
        label_prob=0.2, label_preferred="Pink-Lady", label_relation=S.RELATION_SIBLING,
        label_evidence=S.EVIDENCE_IMAGE_TEXT,
    )  # fmt: skip
    _, reasons = decide(row, Policy())
    assert reasons == [
        "label suspect: claimed 'Granny-Smith' ranked 2, looks like 'Pink-Lady', a sibling "
        "(p=0.20, by image and text)"
    ]
    _, alone = decide({**row, S.LABEL_EVIDENCE: S.EVIDENCE_IMAGE}, Policy())
    assert alone[0].endswith("a sibling (p=0.20)")
