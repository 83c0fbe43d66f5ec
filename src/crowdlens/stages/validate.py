"""Label validation: does the photo show the item it claims?

The claimed label (:data:`S.LABEL`) is compared with the classifier's
calibrated probabilities. The verdict means what it says:

* ``confirmed`` - the claimed item is what the model sees: it is the top-1
  prediction, or within ``confirm_margin`` (calibrated probability) of the
  top-1 *and* ranked no lower than ``confirm_max_rank`` (at most 3). A
  claimed item ranked 8th is therefore never confirmed, whatever its
  probability.
* ``mismatch`` - the claimed item is implausible: its calibrated probability
  is below ``mismatch_prob``.
* ``suspect`` - the model prefers another item: :data:`S.LABEL_PREFERRED`
  names it and :data:`S.LABEL_RELATION` says whether it is a ``sibling``
  (same parent: Granny-Smith vs Pink-Lady) or a ``different_kind`` of item.
  Mismatches name the preferred item too.
* ``unknown`` - no claimed label, a label the model does not know, no
  prediction, or an unusable photo (status != ok).

:data:`S.LABEL_ISSUE_SCORE` (best other probability minus the claimed one,
in [-1, 1]) ranks photos from likeliest wrong to likeliest right.

The thresholds are **fitted by cross-validation on the training data** when
a bundle is trained (:mod:`crowdlens.training.thresholds`) and stored in the
bundle (``extra.validate``), never on the photos being judged; the config
values override them. Calibration is temperature scaling, also fitted on
out-of-fold training predictions.

**Text evidence.** A bundle trained with ``[train] text_evidence`` holds a text
model of the items (:mod:`crowdlens.training.text_evidence`). Where the text
stage read the photo (:data:`S.TEXT_REGIONS` present), its lines are added
to the logits as evidence and the photo is judged with the calibration fitted
for the fused logits; :data:`S.PRED_LABEL` and :data:`S.PRED_SCORE` then give
the fused prediction (:data:`S.TOPK` stays the image model's).
:data:`S.LABEL_EVIDENCE` says which: ``image`` or ``image+text``.

Two inputs are supported, best first: :data:`S.LOGITS` (the full score vector:
exact probability and rank), else :data:`S.TOPK` (the tail mass outside the
top k is spread evenly; a claimed label there has an estimated probability
and a null rank, and is never confirmed).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from crowdlens import schema as S
from crowdlens.errors import CrowdlensError
from crowdlens.params import Interval, OrNone, Params, Satisfies, validate
from crowdlens.spark.rows import Step, row_step, run_steps
from crowdlens.verdicts import (  # noqa: F401  (re-exported: the public API of validation)
    DEFAULT_CONFIRM_MARGIN,
    DEFAULT_CONFIRM_MAX_RANK,
    DEFAULT_MISMATCH_PROB,
    MAX_CONFIRM_RANK,
    NO_JUDGEMENT,
    Judgement,
    Thresholds,
    calibrate,
    claimed_prob_rank,
    decide_verdict,
    judge,
    judge_from_topk,
    relation,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import DataFrame

    from crowdlens.text.config import TextConfig
    from crowdlens.training.text_evidence import TextFusion

log = logging.getLogger(__name__)

CONFIRMED = S.VERDICT_CONFIRMED
SUSPECT = S.VERDICT_SUSPECT
MISMATCH = S.VERDICT_MISMATCH
UNKNOWN = S.VERDICT_UNKNOWN
VERDICTS = S.VERDICTS

OUTPUTS = (
    S.LABEL_PROB,
    S.LABEL_RANK,
    S.LABEL_VERDICT,
    S.LABEL_PREFERRED,
    S.LABEL_RELATION,
    S.LABEL_ISSUE_SCORE,
)
# Added after OUTPUTS: what the verdict was judged by; the fused prediction.
EVIDENCE_OUTPUTS = (S.LABEL_EVIDENCE,)
PREDICTION = (S.PRED_LABEL, S.PRED_SCORE)


@dataclass(frozen=True)
class ValidateConfig:
    """Label validation settings (config file section ``[validate]``).

    ``bundle`` is the model bundle folder (labels, parents, fitted temperature
    and thresholds); ``temperature``, ``confirm_margin`` and ``mismatch_prob``
    override the bundle's when set.

    Example::

        cfg = ValidateConfig(confirm_margin=0.05, mismatch_prob=0.02)
    """

    bundle: str | None = None
    temperature: float | None = None
    confirm_margin: float | None = None
    mismatch_prob: float | None = None
    confirm_max_rank: int | None = None
    # Judge by image and text where the bundle has text evidence and the text stage read the
    # photo; false: by the image alone (the text stage still runs for privacy).
    text_evidence: bool = True

    _PROB: ClassVar[Satisfies] = Satisfies(
        lambda v: v is None or 0.0 <= v <= 1.0, "a float in [0, 1] (or unset to use the bundle's)"
    )
    PARAMS: ClassVar[Params] = {
        "temperature": Satisfies(
            lambda t: t is None or (math.isfinite(t) and t > 0),
            "a float > 0 (or unset to use the bundle's)",
        ),
        "confirm_margin": _PROB,
        "mismatch_prob": _PROB,
        "confirm_max_rank": OrNone(
            Interval(
                int, 1, MAX_CONFIRM_RANK, note="a claimed item ranked lower is never confirmed"
            ),
            "use the bundle's",
        ),
    }

    def __post_init__(self) -> None:
        validate(self)

    def thresholds(self, fitted: Mapping[str, Any] | None = None) -> Thresholds:
        """The thresholds in force: this config's, else ``fitted`` (the bundle's), else defaults."""
        fitted = fitted or {}

        def pick(name: str, default: float) -> float:  # the config's, the bundle's, the default
            mine = getattr(self, name)
            if mine is not None:
                return float(mine)
            return float(fitted.get(name, default))

        return Thresholds(
            confirm_margin=pick("confirm_margin", DEFAULT_CONFIRM_MARGIN),
            mismatch_prob=pick("mismatch_prob", DEFAULT_MISMATCH_PROB),
            confirm_max_rank=int(pick("confirm_max_rank", DEFAULT_CONFIRM_MAX_RANK)),
        )


def judgement_row(j: Judgement) -> dict[str, Any]:
    """The output columns of the stage for one judgement."""
    values = (j.prob, j.rank, j.verdict, j.preferred, j.relation, j.issue_score)
    return dict(zip(OUTPUTS, values, strict=True))


def judgements_frame(rows: Sequence[Judgement]) -> pd.DataFrame:
    """The output columns of the stage for a list of judgements, typed."""
    from crowdlens.spark.rows import typed_frame

    return typed_frame([judgement_row(j) for j in rows], OUTPUTS)


def validate_row(
    row: Mapping[str, Any],
    labels: Sequence[str],
    temperature: float,
    th: Thresholds,
    source: str,
    parents: Mapping[str, str] | None = None,
    fusion: TextFusion | None = None,
) -> dict[str, Any]:
    """The validation columns of one clean row (pure; no Spark).

    With ``fusion``, also the (fused, where the photo's text was read) prediction.
    """
    out = judgement_row(NO_JUDGEMENT) | {S.LABEL_EVIDENCE: None}
    if fusion is not None:
        out |= {c: row.get(c) for c in PREDICTION}
    if row.get(S.STATUS) != S.STATUS_OK or source == "none":
        return out
    label = row.get(S.LABEL)
    try:
        if source == S.LOGITS:
            logits = row.get(S.LOGITS)
            regions = row.get(S.TEXT_REGIONS)
            if fusion is not None and logits is not None and len(logits) and regions is not None:
                probs = calibrate(fusion.fuse(logits, regions), fusion.temperature)
                best = int(probs.argmax())
                return judgement_row(judge(label, probs, labels, fusion.th, parents)) | {
                    S.LABEL_EVIDENCE: S.EVIDENCE_IMAGE_TEXT,
                    S.PRED_LABEL: str(labels[best]),
                    S.PRED_SCORE: float(probs[best]),
                }
            probs = None if logits is None or not len(logits) else calibrate(logits, temperature)
            judged = judge(label, probs, labels, th, parents)
        else:  # top-k scores arrive calibrated (classify applies the bundle's T)
            topk = row.get(S.TOPK)
            pairs = None if topk is None else [(t[S.TOPK_LABEL], t[S.TOPK_SCORE]) for t in topk]
            judged = judge_from_topk(label, pairs, labels, th, parents)
        return out | judgement_row(judged) | {S.LABEL_EVIDENCE: S.EVIDENCE_IMAGE}
    except ValueError as exc:  # one malformed row must not fail the job
        log.warning("label validation failed for %s: %s", row.get(S.IMAGE_ID), exc)
        return out


# --- bundle and stage ---------------------------------------------------------


@dataclass(frozen=True)
class BundleFacts:
    """What validation reads from a model bundle."""

    labels: list[str]
    temperature: float
    parents: dict[str, str]
    fitted: dict[str, Any]
    text: TextFusion | None = None  # the bundle's text evidence, if it has one


def bundle_facts(path: str | Path, *, text: bool = True) -> BundleFacts:
    """Labels, temperature (1 when unfitted), parents and fitted thresholds of a bundle;
    its text evidence too unless ``text`` is False (then it is not even loaded)."""
    from crowdlens.models.hub import resolve_bundle

    # A bundle folder, or a registry name (its exported, cached ImageNet bundle).
    bundle = resolve_bundle(path)
    labels = list(getattr(bundle, "labels", None) or [])
    if not labels:
        raise CrowdlensError(
            f"The model bundle {str(path)!r} lists no labels; re-train it with crowdlens train."
        )
    t = getattr(bundle, "temperature", None)
    extra = dict(getattr(bundle, "extra", None) or {})
    return BundleFacts(
        labels,
        float(t) if t else 1.0,
        dict(extra.get("parents") or {}),
        dict(extra.get("validate") or {}),
        _text_fusion(bundle.path, extra.get("text_evidence"), len(labels)) if text else None,
    )


def _text_fusion(folder: Path, info: Mapping[str, Any] | None, n_labels: int) -> TextFusion | None:
    """The text evidence a bundle records in ``extra.text_evidence`` (None if unused)."""
    if not info or not info.get("used"):
        return None
    from crowdlens.training.text_evidence import TextFusion, TextModel

    fitted = dict(info.get("thresholds") or {})
    model = TextModel.load(folder, n_labels)
    th = ValidateConfig().thresholds(fitted)
    t = float(info.get("temperature") or 1.0)
    return TextFusion(model, t, fitted, th, dict(info.get("read_settings") or {}))


def _check_reading(reading: TextConfig | None, fusion: TextFusion) -> None:
    """Warn when this job reads the text otherwise than the text evidence was trained on."""
    from crowdlens.training.text_reads import read_settings

    now = read_settings(reading) if reading is not None else None
    if now is not None and fusion.read_settings and now != fusion.read_settings:
        log.warning(
            "the text is read with other settings than the bundle's text evidence was "
            "trained with (%s vs %s): label verdicts may be less accurate; give moderate "
            "the [text] settings of training, or set [validate] text_evidence = false",
            now, fusion.read_settings,
        )  # fmt: skip


def bundle_labels_temperature(path: str | Path) -> tuple[list[str], float]:
    """The label list and fitted temperature of a model bundle."""
    facts = bundle_facts(path, text=False)
    return facts.labels, facts.temperature


def validate_step(
    cfg: ValidateConfig,
    columns: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    temperature: float | None = None,
    parents: Mapping[str, str] | None = None,
    fitted: Mapping[str, Any] | None = None,
    reading: TextConfig | None = None,
) -> Step:
    """Label validation as a :class:`~crowdlens.spark.rows.Step`, for a table with ``columns``.

    See :func:`validate_stage`; ``columns`` says which classifier output there is to read.
    ``reading``: the text stage's settings in this job, checked against those the
    bundle's text evidence was trained with (a warning when they differ).
    """
    fusion = None
    if cfg.bundle and labels is None:
        facts = bundle_facts(cfg.bundle, text=cfg.text_evidence)
        labels = facts.labels
        temperature = temperature if temperature is not None else facts.temperature
        parents = parents if parents is not None else facts.parents
        fitted = fitted if fitted is not None else facts.fitted
        fusion = facts.text
    t = cfg.temperature or temperature or 1.0
    if S.LOGITS in columns:
        source = S.LOGITS
    elif S.TOPK in columns:
        source = S.TOPK
    else:
        log.warning("no classifier output in the table: every label verdict is 'unknown'")
        source = "none"
    if source != "none" and not labels:
        raise CrowdlensError(
            "Label validation needs the classifier's label list: set validate.bundle to "
            "the model bundle folder (or pass labels=...)."
        )
    outputs = OUTPUTS + EVIDENCE_OUTPUTS
    wanted = [S.IMAGE_ID, S.STATUS, S.LABEL, source]
    # fusion is None unless the bundle has text evidence and cfg.text_evidence is on.
    if fusion is not None and source == S.LOGITS and S.TEXT_REGIONS in columns:
        from dataclasses import replace

        _check_reading(reading, fusion)
        # The config's own values override the bundle's, for fused photos too.
        t_text = cfg.temperature or fusion.temperature
        fusion = replace(fusion, temperature=t_text, th=cfg.thresholds(fusion.fitted))
        wanted += [S.TEXT_REGIONS, *PREDICTION]
        outputs += PREDICTION
    else:
        fusion = None  # no text read in this job: judged by the image alone
    compute = functools.partial(
        validate_row,
        labels=list(labels or []),
        temperature=t,
        th=cfg.thresholds(fitted),
        source=source,
        parents=dict(parents or {}),
        fusion=fusion,
    )
    inputs = [c for c in wanted if c in columns]
    return row_step(compute, (), outputs, name="validate", optional=inputs)


def validate_stage(
    df: DataFrame,
    cfg: ValidateConfig,
    *,
    labels: Sequence[str] | None = None,
    temperature: float | None = None,
    parents: Mapping[str, str] | None = None,
    fitted: Mapping[str, Any] | None = None,
) -> DataFrame:
    """Add the label validation columns (:data:`OUTPUTS`).

    Reads :data:`S.LABEL`, :data:`S.STATUS` and :data:`S.LOGITS` (raw, calibrated
    here with the temperature), else :data:`S.TOPK` (already calibrated by the
    classify stage). ``labels``, ``temperature``, ``parents`` and the ``fitted``
    thresholds default to the bundle named in ``cfg.bundle``; the config's own
    values override them. Without classifier output every verdict is ``unknown``.

    Example::

        df = validate_stage(df, ValidateConfig(bundle="models/grocery"))
    """
    step = validate_step(
        cfg, df.columns, labels=labels, temperature=temperature, parents=parents, fitted=fitted
    )
    return run_steps(df, [step])
