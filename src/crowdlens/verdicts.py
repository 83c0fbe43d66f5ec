"""The verdict rules of label validation, pure (numpy in, verdict out; no Spark).

See :mod:`crowdlens.stages.validate` for what each verdict means; this module
holds the rules so that the stage, ``crowdlens audit`` and the threshold
fitting (:mod:`crowdlens.training.thresholds`) share one definition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from crowdlens import schema as S

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

CONFIRMED = S.VERDICT_CONFIRMED
SUSPECT = S.VERDICT_SUSPECT
MISMATCH = S.VERDICT_MISMATCH
UNKNOWN = S.VERDICT_UNKNOWN

# Used only when neither the config nor the bundle sets a value (an imported
# bundle, crowdlens audit): the values the precision-first fit
# (crowdlens.training.thresholds, min precision 0.95) picked by 5-fold
# cross-validation of the Lite2 probe on the grocery training split, rounded
# (docs/training.md, issue #12), with the margin capped at 0.9: the uncapped fit
# chose 1.0, i.e. any item in the top 3 above the implausibility cut confirmed,
# however far below the top-1 (crowdlens.training.thresholds.MAX_CONFIRM_MARGIN).
DEFAULT_CONFIRM_MARGIN = 0.9
DEFAULT_MISMATCH_PROB = 0.002
DEFAULT_CONFIRM_MAX_RANK = 3
MAX_CONFIRM_RANK = 3


@dataclass(frozen=True)
class Thresholds:
    """Resolved verdict thresholds (see the module docstring)."""

    confirm_margin: float = DEFAULT_CONFIRM_MARGIN
    mismatch_prob: float = DEFAULT_MISMATCH_PROB
    confirm_max_rank: int = DEFAULT_CONFIRM_MAX_RANK

    def to_dict(self) -> dict[str, Any]:
        return {
            "confirm_margin": self.confirm_margin,
            "mismatch_prob": self.mismatch_prob,
            "confirm_max_rank": self.confirm_max_rank,
        }


class Judgement(NamedTuple):
    """One photo's label verdict and what it is based on."""

    verdict: str
    prob: float | None = None
    rank: int | None = None
    preferred: str | None = None
    relation: str | None = None
    issue_score: float | None = None


NO_JUDGEMENT = Judgement(UNKNOWN)


# --- pure helpers -------------------------------------------------------------


def calibrate(logits: Sequence[float] | np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Calibrated probabilities ``softmax(logits / temperature)``, numerically stable.

    >>> calibrate([0.0, 0.0]).tolist()
    [0.5, 0.5]
    """
    import numpy as np

    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


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


def relation(claimed: str, preferred: str, parents: Mapping[str, str] | None) -> str:
    """``sibling`` when both items share a parent, else ``different_kind``.

    A label missing from ``parents`` is its own parent.

    >>> relation("Granny-Smith", "Pink-Lady", {"Granny-Smith": "Apple", "Pink-Lady": "Apple"})
    'sibling'
    """
    parents = parents or {}
    same = parents.get(claimed, claimed) == parents.get(preferred, preferred)
    return S.RELATION_SIBLING if same else S.RELATION_DIFFERENT


def decide_verdict(prob: float, rank: int | None, best_other: float, th: Thresholds) -> str:
    """The verdict from the claimed item's probability and rank and the best other item's.

    ``rank`` None means "outside the known top k": never confirmed.
    """
    if prob < th.mismatch_prob:
        return MISMATCH
    if rank == 1:
        return CONFIRMED
    if rank is not None and rank <= th.confirm_max_rank and best_other - prob <= th.confirm_margin:
        return CONFIRMED
    return SUSPECT


def judge(
    label: str | None,
    probs: Sequence[float] | np.ndarray | None,
    labels: Sequence[str],
    th: Thresholds,
    parents: Mapping[str, str] | None = None,
) -> Judgement:
    """The :class:`Judgement` of one photo from calibrated ``probs`` aligned with ``labels``.

    >>> th = Thresholds(confirm_margin=0.1, mismatch_prob=0.02)
    >>> judge("apple", [0.9, 0.1], ["apple", "pear"], th).verdict
    'confirmed'
    >>> j = judge("pear", [0.99, 0.01], ["apple", "pear"], th)
    >>> j.verdict, j.preferred, j.relation
    ('mismatch', 'apple', 'different_kind')
    """
    import numpy as np

    if not label or probs is None or len(probs) == 0:
        return NO_JUDGEMENT
    if len(probs) != len(labels):
        raise ValueError(
            f"{len(probs)} probabilities for {len(labels)} labels: the classifier output "
            "does not match the bundle's label list (was the bundle replaced mid-run?)"
        )
    found = claimed_prob_rank(label, probs, labels)
    if found is None:
        return NO_JUDGEMENT
    prob, rank = found
    p = np.asarray(probs, dtype=np.float64).copy()
    i = list(labels).index(label)
    p[i] = -1.0
    j = int(p.argmax())
    best_other = float(p[j]) if len(p) > 1 else 0.0
    v = decide_verdict(prob, rank, best_other, th)
    preferred, rel = None, None
    if v != CONFIRMED and len(p) > 1:
        preferred = str(labels[j])
        rel = relation(label, preferred, parents)
    return Judgement(v, prob, rank, preferred, rel, best_other - prob)


def judge_from_topk(
    label: str | None,
    topk: Sequence[Any] | None,
    labels: Sequence[str],
    th: Thresholds,
    parents: Mapping[str, str] | None = None,
) -> Judgement:
    """Like :func:`judge` from calibrated top-k ``(label, score)`` pairs only.

    The tail mass ``1 - sum(scores)`` is spread evenly over the labels outside
    the top k; a claimed label there gets that estimated probability and rank None.

    >>> j = judge_from_topk("pear", [("apple", 0.98), ("kiwi", 0.01)],
    ...                     ["apple", "kiwi", "pear", "fig"], Thresholds(mismatch_prob=0.02))
    >>> j.verdict, round(j.prob, 4), j.rank, j.preferred
    ('mismatch', 0.005, None, 'apple')
    """
    if not label or topk is None or len(topk) == 0 or label not in set(labels):
        return NO_JUDGEMENT
    pairs = [_pair(t) for t in topk]
    pairs = [(lab, max(score, 0.0)) for lab, score in pairs if lab is not None]
    if not pairs:
        return NO_JUDGEMENT
    n_other = max(len(labels) - len(pairs), 0)
    each = max(1.0 - sum(s for _, s in pairs), 0.0) / n_other if n_other else 0.0
    scores = dict(pairs)
    if label in scores:
        prob = scores[label]
        rank: int | None = 1 + sum(s > prob for _, s in pairs)
    else:
        prob, rank = each, None
    others = [(lab, s) for lab, s in pairs if lab != label]
    pref, best_other = max(others, key=lambda t: t[1]) if others else (None, 0.0)
    v = decide_verdict(prob, rank, best_other, th)
    preferred = pref if v != CONFIRMED else None
    rel = relation(label, preferred, parents) if preferred else None
    return Judgement(v, float(prob), rank, preferred, rel, best_other - prob)


def _pair(t: Any) -> tuple[str | None, float]:
    """A top-k entry as (label, score): Spark rows arrive as dicts or tuples."""
    if isinstance(t, dict):
        return t.get(S.TOPK_LABEL), float(t.get(S.TOPK_SCORE) or 0.0)
    lab, score = t[0], t[1]
    return lab, float(score or 0.0)
