"""Verdict thresholds chosen by cross-validation on the training data.

Out-of-fold probabilities of the training photos (each photo predicted by a
probe that never saw it) stand in for "new photos judged by this model".
Because the model's output does not depend on the label a photo claims, a
wrong claim can be *simulated* on them exactly: the claimed item's
probability is read off the same vector. Two kinds of wrong claims are
simulated, as crowds make them: a random other item, and a sibling (same
parent) where one exists.

* ``mismatch_prob`` (implausible claim): a low quantile of the claimed
  probability over correctly labelled photos, so only that share of right
  labels is ever called a mismatch (the share is searched with the rest).
* ``confirm_margin`` and ``confirm_max_rank`` (how far below the top-1 a
  claim may be and still be confirmed): among the pairs whose expected
  precision of "flagged = suspect or mismatch" at ``noise`` share of wrong
  claims (half random, half sibling) reaches ``min_precision``, the one that
  finds most wrong claims; when no pair reaches it, the pair of best F1.
  A flag should be worth a reviewer's time: precision comes first (#12).

None of this sees the photos that will be judged.

Example::

    th, fit = fit_thresholds(oof_probs, y, labels, parents)
    th.confirm_margin, fit["f1"]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from crowdlens import schema as S
from crowdlens.verdicts import MAX_CONFIRM_RANK, Thresholds

# Shares of right labels that may be called a mismatch (the implausibility cut).
QUANTILES = (0.0, 0.001, 0.002, 0.005, 0.01)
# At most 0.9: "within a margin of the top-1" must keep a meaning. Left free, the
# precision-first fit chose 1.0, which confirmed a claim ranked 2nd at p 0.011
# under a top-1 at 0.98: a reviewer reads `confirmed` as "the model sees it".
# (Measured on the train audit, issue #12: cap 0.5 costs 5-8 points of precision,
# cap 0.9 about 1; docs/benchmarks.md.)
MAX_CONFIRM_MARGIN = 0.9
MARGINS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, MAX_CONFIRM_MARGIN)
RANKS = tuple(range(1, MAX_CONFIRM_RANK + 1))


def sibling_table(labels: Sequence[str], parents: Mapping[str, str] | None) -> list[list[int]]:
    """For each label index, the indices of its siblings (same parent, not itself)."""
    parents = parents or {}
    par = [parents.get(lab, lab) for lab in labels]
    return [
        [j for j in range(len(labels)) if j != i and par[j] == par[i]] for i in range(len(labels))
    ]


def simulate_claims(
    y: np.ndarray, n_classes: int, siblings: list[list[int]], kind: str, seed: int = 0
) -> np.ndarray:
    """A wrong claimed label per row: ``random`` (any other item) or ``sibling``
    (a random sibling, or any other item when the label has none)."""
    rng = np.random.default_rng(seed)
    out = np.empty(len(y), dtype=np.int64)
    for r, t in enumerate(y):
        pool = siblings[t] if kind == S.RELATION_SIBLING and siblings[t] else None
        if pool:
            out[r] = pool[rng.integers(len(pool))]
        else:
            c = int(rng.integers(n_classes - 1))
            out[r] = c + (c >= t)
    return out


def claim_stats(probs: np.ndarray, claimed: np.ndarray) -> tuple[np.ndarray, ...]:
    """(claimed probability, rank, best other probability) per row."""
    rows = np.arange(len(claimed))
    p = probs[rows, claimed]
    rank = (probs > p[:, None]).sum(1) + 1
    other = probs.copy()
    other[rows, claimed] = -1.0
    return p, rank, other.max(1)


def flagged(stats: tuple[np.ndarray, ...], th: Thresholds) -> np.ndarray:
    """Rows whose verdict would be suspect or mismatch (vectorised ``decide_verdict``)."""
    p, rank, best = stats
    confirmed = (rank == 1) | ((rank <= th.confirm_max_rank) & (best - p <= th.confirm_margin))
    return (p < th.mismatch_prob) | ~confirmed


def score(
    clean: tuple[np.ndarray, ...], wrong: list[tuple[np.ndarray, ...]], th: Thresholds, noise: float
) -> dict[str, float]:
    """Expected precision, recalls, F1 and clean share flagged of ``th`` at ``noise`` wrong claims."""
    fpr = float(flagged(clean, th).mean())
    recalls = [float(flagged(w, th).mean()) for w in wrong]
    recall = float(np.mean(recalls))
    tp = noise * recall
    precision = tp / (tp + (1 - noise) * fpr) if tp + fpr > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "recall_random": round(recalls[0], 4),
        "recall_sibling": round(recalls[1], 4),
        "clean_flagged": round(fpr, 4),
        "f1": round(f1, 4),
    }


def fit_thresholds(
    probs: np.ndarray,
    y: np.ndarray,
    labels: Sequence[str],
    parents: Mapping[str, str] | None = None,
    *,
    noise: float = 0.1,
    clean_quantile: float | None = None,
    min_precision: float = 0.95,
    seed: int = 0,
) -> tuple[Thresholds, dict[str, Any]]:
    """Thresholds from out-of-fold ``probs`` ``[n, C]`` of correctly labelled rows ``y``.

    ``clean_quantile`` fixes the share of right labels called a mismatch
    (default: the best of :data:`QUANTILES`). Returns the thresholds and what
    the fit expects of them at that noise level (precision, recall, F1, share
    of clean photos flagged, whether ``min_precision`` was reached).
    """
    y = np.asarray(y)
    sib = sibling_table(labels, parents)
    clean = claim_stats(probs, y)
    wrong = [
        claim_stats(probs, simulate_claims(y, len(labels), sib, k, seed))
        for k in ("random", "sibling")
    ]
    quantiles = QUANTILES if clean_quantile is None else (clean_quantile,)
    # (reaches min_precision, recall if it does else F1, thresholds, fit)
    best: tuple[bool, float, Thresholds, dict[str, Any]] | None = None
    for q, rank, margin in itertools.product(quantiles, RANKS, MARGINS):
        th = Thresholds(
            confirm_margin=margin,
            mismatch_prob=float(np.quantile(clean[0], q)),
            confirm_max_rank=rank,
        )
        fit = score(clean, wrong, th, noise) | {"clean_quantile": q}
        ok = fit["precision"] >= min_precision
        key = (ok, fit["recall"] if ok else fit["f1"])
        if best is None or key[0] > best[0] or (key[0] == best[0] and key[1] > best[1] + 1e-12):
            best = (*key, th, fit)
    assert best is not None
    th, fit = best[2], best[3] | {"min_precision_reached": best[0]}
    return th, fit | {"noise": noise, "min_precision": min_precision, "photos": len(y)}


def fit_calibration(
    oof: np.ndarray,
    y: np.ndarray,
    labels: Sequence[str],
    parents: Mapping[str, str] | None,
    *,
    folds: int,
    seed: int = 0,
) -> dict[str, Any]:
    """Temperature and verdict thresholds from out-of-fold logits ``oof`` of the training photos.

    What ``probe`` and ``tail`` mode store in a bundle: ``temperature``,
    ``thresholds`` and ``cv`` (the fit's expectations, folds, out-of-fold top-1).
    """
    from crowdlens.training.evaluate import fit_temperature
    from crowdlens.verdicts import calibrate

    temperature = fit_temperature(oof, y)
    th, fit = fit_thresholds(calibrate(oof, temperature), y, labels, parents, seed=seed)
    return {
        "temperature": temperature,
        "thresholds": th.to_dict(),
        "cv": fit | {"folds": folds, "top1": float((oof.argmax(1) == y).mean())},
    }
