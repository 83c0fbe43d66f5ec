"""Label validation: does the photo show the item it claims?

The claimed label (:data:`S.LABEL`) is compared with the classifier's
calibrated probabilities. The verdict is one of:

* ``confirmed`` - the claimed label has calibrated probability >=
  ``confirm_prob`` (and, if ``confirm_rank`` is set, is among that many top
  predictions);
* ``mismatch`` - the claimed label's probability is below ``mismatch_prob``:
  the model is confident the photo shows something else;
* ``suspect`` - anything in between: a person should look;
* ``unknown`` - no claimed label, a label the model does not know, no
  prediction, or an unusable photo (status != ok).

Calibration is temperature scaling: ``softmax(logits / T)`` with ``T`` fitted
on the val split and stored in the model bundle, so that "p = 0.02" means
what it says and the thresholds transfer between models.

Two inputs are supported, best first:

1. :data:`S.LOGITS` (the full score vector over the bundle's labels): exact
   probability and rank of the claimed label.
2. :data:`S.TOPK` only: the classify stage already calibrates these scores
   with the bundle's temperature, so they are used as they are. The
   probability mass outside the top k is known only in total, so it is
   spread evenly over the other labels. A claimed label outside the top k then gets an *estimated*
   probability and a null rank (we only know it is > k). With k >= 5 and
   ``mismatch_prob`` well below the k-th score this rarely changes a verdict.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crowdlens import schema as S
from crowdlens.config import check
from crowdlens.errors import CrowdlensError
from crowdlens.spark.columns import add_columns

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

CONFIRMED = "confirmed"
SUSPECT = "suspect"
MISMATCH = "mismatch"
UNKNOWN = "unknown"
VERDICTS = (CONFIRMED, SUSPECT, MISMATCH, UNKNOWN)

OUTPUTS = (S.LABEL_PROB, S.LABEL_RANK, S.LABEL_VERDICT)


@dataclass(frozen=True)
class ValidateConfig:
    """Thresholds of label validation (config file section ``[validate]``).

    ``bundle`` is the model bundle folder (its labels and fitted temperature);
    ``temperature`` overrides the bundle's.

    Example::

        cfg = ValidateConfig(confirm_prob=0.4, mismatch_prob=0.02)
    """

    bundle: str | None = None
    temperature: float | None = None
    # Defaults from benchmarks/noisy_labels.py (docs/review.md): with a classifier
    # far from perfect, a rank requirement sends a third of the clean photos to
    # review, while the calibrated probability alone separates wrong labels well.
    confirm_prob: float = 0.002
    confirm_rank: int | None = None
    mismatch_prob: float = 0.001

    def __post_init__(self) -> None:
        check(
            self,
            "temperature",
            self.temperature is None or (math.isfinite(self.temperature) and self.temperature > 0),
            "a float > 0 (or unset to use the bundle's)",
        )
        check(self, "confirm_prob", 0.0 <= self.confirm_prob <= 1.0, "a float in [0, 1]")
        check(self, "mismatch_prob", 0.0 <= self.mismatch_prob <= 1.0, "a float in [0, 1]")
        check(
            self,
            "mismatch_prob",
            self.mismatch_prob <= self.confirm_prob,
            f"a float <= confirm_prob ({self.confirm_prob})",
        )
        check(
            self,
            "confirm_rank",
            self.confirm_rank is None or self.confirm_rank >= 1,
            "an int >= 1 (or unset: any rank)",
        )


# --- pure helpers -------------------------------------------------------------


def calibrate(logits: Sequence[float] | np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Calibrated probabilities ``softmax(logits / temperature)``, numerically stable.

    >>> calibrate([0.0, 0.0]).tolist()
    [0.5, 0.5]
    """
    import numpy as np

    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


def claimed_prob_rank(
    label: str, probs: Sequence[float] | np.ndarray, labels: Sequence[str]
) -> tuple[float, int] | None:
    """The claimed label's probability and rank (1 = top), or None if unknown to the model.

    Ties share the better rank, so a label tied for first is rank 1.
    """
    import numpy as np

    try:
        i = list(labels).index(label)
    except ValueError:
        return None
    p = np.asarray(probs, dtype=np.float64)
    prob = float(p[i])
    return prob, int((p > prob).sum()) + 1


def verdict(
    label: str | None,
    probs: Sequence[float] | np.ndarray | None,
    labels: Sequence[str],
    cfg: ValidateConfig,
) -> tuple[str, float | None, int | None]:
    """``(verdict, label_prob, label_rank)`` for one photo.

    ``probs`` are calibrated probabilities aligned with ``labels`` (or None
    when the classifier produced nothing for this photo).

    >>> strict = ValidateConfig(confirm_prob=0.4, confirm_rank=1, mismatch_prob=0.02)
    >>> verdict("apple", [0.9, 0.1], ["apple", "pear"], strict)
    ('confirmed', 0.9, 1)
    >>> verdict("pear", [0.99, 0.01], ["apple", "pear"], strict)
    ('mismatch', 0.01, 2)
    """
    if not label or probs is None or len(probs) == 0:
        return UNKNOWN, None, None
    if len(probs) != len(labels):
        raise ValueError(
            f"{len(probs)} probabilities for {len(labels)} labels: the classifier output "
            "does not match the bundle's label list (was the bundle replaced mid-run?)"
        )
    found = claimed_prob_rank(label, probs, labels)
    if found is None:
        return UNKNOWN, None, None
    prob, rank = found
    return _classify(prob, rank, cfg), prob, rank


def _classify(prob: float, rank: int | None, cfg: ValidateConfig) -> str:
    if prob < cfg.mismatch_prob:
        return MISMATCH
    rank_ok = cfg.confirm_rank is None or (rank is not None and rank <= cfg.confirm_rank)
    if rank_ok and prob >= cfg.confirm_prob:
        return CONFIRMED
    return SUSPECT


def verdict_from_topk(
    label: str | None,
    topk: Sequence[Any] | None,
    labels: Sequence[str],
    cfg: ValidateConfig,
    temperature: float = 1.0,
) -> tuple[str, float | None, int | None]:
    """Like :func:`verdict` from top-k ``(label, score)`` pairs only (softmax scores at T = 1).

    The tail mass ``1 - sum(scores)`` is spread evenly over the labels
    outside the top k; a claimed label there gets that estimated probability
    and rank None. See the module docstring for what this loses.

    >>> v, p, rank = verdict_from_topk("pear", [("apple", 0.98), ("kiwi", 0.01)],
    ...                                ["apple", "kiwi", "pear", "fig"],
    ...                                ValidateConfig(mismatch_prob=0.02, confirm_prob=0.4))
    >>> v, round(p, 4), rank
    ('mismatch', 0.005, None)
    """
    if not label or topk is None or len(topk) == 0:
        return UNKNOWN, None, None
    known = set(labels)
    if label not in known:
        return UNKNOWN, None, None
    pairs = [_pair(t) for t in topk]
    pairs = [(lab, max(score, 0.0)) for lab, score in pairs if lab is not None]
    if not pairs:
        return UNKNOWN, None, None
    n_other = max(len(known) - len(pairs), 0)
    tail = max(1.0 - sum(s for _, s in pairs), 0.0)
    each = tail / n_other if n_other else 0.0
    # Re-temper: p_i ∝ softmax-score_i ** (1/T) is exact for scores from one softmax.
    inv_t = 1.0 / float(temperature)
    weights = [s**inv_t if s > 0 else 0.0 for _, s in pairs]
    w_tail = each**inv_t if each > 0 else 0.0
    z = sum(weights) + n_other * w_tail
    if z <= 0:
        return UNKNOWN, None, None
    probs = [w / z for w in weights]
    for rank, ((lab, _), p) in enumerate(zip(pairs, probs), start=1):
        if lab == label:
            return _classify(p, rank, cfg), float(p), rank
    p_tail = w_tail / z
    return _classify(p_tail, None, cfg), float(p_tail), None


def _pair(t: Any) -> tuple[str | None, float]:
    """A top-k entry as (label, score): Spark rows arrive as dicts or tuples."""
    if isinstance(t, dict):
        return t.get("label"), float(t.get("score") or 0.0)
    lab, score = t[0], t[1]
    return lab, float(score or 0.0)


def validate_batch(
    batch: pd.DataFrame,
    labels: Sequence[str],
    temperature: float,
    cfg: ValidateConfig,
    source: str,
) -> pd.DataFrame:
    """The per-batch work of :func:`validate_stage` (pure pandas, no Spark)."""
    import pandas as pd

    rows: list[tuple[str, float | None, int | None]] = []
    for rec in batch.to_dict("records"):
        if rec.get(S.STATUS) != S.STATUS_OK or source == "none":
            rows.append((UNKNOWN, None, None))
            continue
        label = rec.get(S.LABEL)
        try:
            if source == S.LOGITS:
                logits = rec.get(S.LOGITS)
                probs = (
                    None if logits is None or len(logits) == 0 else calibrate(logits, temperature)
                )
                rows.append(verdict(label, probs, labels, cfg))
            else:
                # Top-k scores arrive calibrated (classify applies the bundle's T).
                rows.append(verdict_from_topk(label, rec.get(S.TOPK), labels, cfg, 1.0))
        except ValueError as exc:  # one malformed row must not fail the job
            log.warning("label validation failed for %s: %s", rec.get(S.IMAGE_ID), exc)
            rows.append((UNKNOWN, None, None))
    out = pd.DataFrame(rows, columns=[S.LABEL_VERDICT, S.LABEL_PROB, S.LABEL_RANK])
    out[S.LABEL_PROB] = out[S.LABEL_PROB].astype("float64")
    out[S.LABEL_RANK] = out[S.LABEL_RANK].astype("Int64")
    return out


# --- bundle and stage ---------------------------------------------------------


def bundle_labels_temperature(path: str | Path) -> tuple[list[str], float]:
    """The label list and fitted temperature of a model bundle.

    The bundle format belongs to :mod:`crowdlens.models.bundle`; a bundle
    without a fitted temperature is used uncalibrated (T = 1).
    """
    from crowdlens.models.bundle import resolve_bundle

    # A bundle folder, or a registry name (its exported, cached ImageNet bundle).
    bundle = resolve_bundle(path)
    labels = list(getattr(bundle, "labels", None) or [])
    if not labels:
        raise CrowdlensError(
            f"The model bundle {str(path)!r} lists no labels; re-train it with crowdlens train."
        )
    t = getattr(bundle, "temperature", None)
    return labels, float(t) if t else 1.0


def validate_stage(
    df: DataFrame,
    cfg: ValidateConfig,
    *,
    labels: Sequence[str] | None = None,
    temperature: float | None = None,
) -> DataFrame:
    """Add :data:`S.LABEL_PROB`, :data:`S.LABEL_RANK`, :data:`S.LABEL_VERDICT`.

    Reads :data:`S.LABEL`, :data:`S.STATUS` and :data:`S.LOGITS` (raw, calibrated
    here with the temperature), else :data:`S.TOPK` (already calibrated by the
    classify stage, used as is). ``labels``/``temperature`` default to the bundle named in
    ``cfg.bundle``; ``cfg.temperature`` overrides both. When the classifier did
    not run (neither column exists) every verdict is ``unknown``.

    Example::

        df = validate_stage(df, ValidateConfig(bundle="models/grocery"))
    """
    if cfg.bundle and labels is None:
        labels, bundle_t = bundle_labels_temperature(cfg.bundle)
        temperature = temperature if temperature is not None else bundle_t
    t = cfg.temperature or temperature or 1.0
    if S.LOGITS in df.columns:
        source = S.LOGITS
    elif S.TOPK in df.columns:
        source = S.TOPK
    else:
        log.warning("no classifier output in the table: every label verdict is 'unknown'")
        source = "none"
    if source != "none" and not labels:
        raise CrowdlensError(
            "Label validation needs the classifier's label list: set validate.bundle to "
            "the model bundle folder (or pass labels=...)."
        )
    inputs = [c for c in (S.IMAGE_ID, S.STATUS, S.LABEL, source) if c in df.columns]
    compute = functools.partial(
        validate_batch, labels=list(labels or []), temperature=t, cfg=cfg, source=source
    )
    return add_columns(df, compute, inputs, OUTPUTS, name="validate")
