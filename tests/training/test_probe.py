"""Linear probes, folds, out-of-fold predictions and threshold fitting (pure, no Spark)."""

from __future__ import annotations

import numpy as np
import pytest

from crowdlens.errors import CrowdlensError
from crowdlens.training.probe import (
    assign_folds,
    fit_probe,
    fold_logits,
    mean_view,
    out_of_fold_logits,
)
from crowdlens.training.thresholds import (
    claim_stats,
    fit_thresholds,
    flagged,
    sibling_table,
    simulate_claims,
)
from crowdlens.verdicts import Thresholds, decide_verdict


def _blobs(n_per: int, n_classes: int, dim: int, seed: int = 0, spread: float = 1.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (n_classes, dim))
    y = np.repeat(np.arange(n_classes), n_per)
    x = centres[y] + rng.normal(0, spread, (len(y), dim))
    return np.exp(x / 3).astype(np.float32), y  # pooled features are non-negative


def test_folds_cover_every_row_once_and_are_stratified():
    y = np.array([0] * 11 + [1] * 7 + [2] * 3)
    folds = assign_folds(y, k=5, seed=3)
    assert folds.shape == y.shape and set(folds) <= set(range(5))
    for lab in np.unique(y):
        counts = np.bincount(folds[y == lab], minlength=5)
        assert counts.max() - counts.min() <= 1  # each label spread evenly
    assert (assign_folds(y, k=5, seed=3) == folds).all()  # seeded


def test_folds_refuse_k_below_2():
    with pytest.raises(CrowdlensError, match="at least 2 folds"):
        assign_folds([0, 1], k=1)


def test_probe_learns_separable_classes_and_folds_standardisation_in():
    x, y = _blobs(30, 4, 16)
    probe = fit_probe(x * 100, y, 4)  # badly scaled features
    assert (probe.logits(x * 100).argmax(1) == y).mean() > 0.95
    assert probe.weight.shape == (4, 16) and probe.bias.shape == (4,)


def test_out_of_fold_predictions_never_come_from_a_probe_that_saw_the_row():
    # Random labels on random high-dimensional features: a probe that saw a
    # row memorises it; one that did not is at chance. So out-of-fold accuracy
    # exposes any leak of a row into its own probe.
    rng = np.random.default_rng(0)
    x = rng.random((120, 200)).astype(np.float32)
    y = rng.integers(0, 4, 120)
    seen = fit_probe(x, y, 4, l2=1e-6)
    assert (seen.logits(x).argmax(1) == y).mean() > 0.95
    folds = assign_folds(y, k=4)
    oof = out_of_fold_logits([x], y, folds, 4, l2=1e-6)
    assert (oof.argmax(1) == y).mean() < 0.5


def test_out_of_fold_runs_each_fold_once_through_map_folds():
    x, y = _blobs(10, 3, 8)
    folds = assign_folds(y, k=3)
    calls: list[list[int]] = []

    def map_folds(fn, ids):
        calls.append(list(ids))
        return [fn(i) for i in ids]

    oof = out_of_fold_logits([x, x + 0.1], y, folds, 3, map_folds=map_folds)
    assert calls == [[0, 1, 2]]
    assert oof.shape == (30, 3) and np.isfinite(oof).all()
    held, logits = fold_logits(1, [x, x + 0.1], y, folds, 3)
    assert set(held) == set(np.flatnonzero(folds == 1))
    assert np.allclose(oof[held], logits, atol=1e-4)


def test_views_are_averaged_after_normalisation_like_the_exported_network():
    x, y = _blobs(10, 3, 8)
    probe = fit_probe(np.concatenate([x, 2 * x]), np.tile(y, 2), 3)
    both = probe.logits_views([x, 2 * x])
    z = (np.sqrt(x) + np.sqrt(2 * x)) / 2
    assert np.allclose(both, z @ probe.weight.T + probe.bias, atol=1e-4)
    assert np.allclose(mean_view([x, 3 * x]), 2 * x)


def test_simulated_sibling_claims_stay_in_the_family():
    labels = ["Granny-Smith", "Pink-Lady", "Banana"]
    sib = sibling_table(labels, {"Granny-Smith": "Apple", "Pink-Lady": "Apple"})
    assert sib == [[1], [0], []]
    y = np.array([0, 1, 2] * 20)
    claims = simulate_claims(y, 3, sib, "sibling", seed=1)
    assert (claims != y).all()
    assert (claims[y == 0] == 1).all() and (claims[y == 1] == 0).all()


def test_vectorised_flags_agree_with_the_verdict_rule():
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.ones(6), size=300)
    claimed = rng.integers(0, 6, 300)
    th = Thresholds(confirm_margin=0.15, mismatch_prob=0.03, confirm_max_rank=2)
    stats = claim_stats(probs, claimed)
    fast = flagged(stats, th)
    slow = [decide_verdict(p, int(r), b, th) != "confirmed" for p, r, b in zip(*stats)]
    assert fast.tolist() == slow


def test_fitted_thresholds_flag_simulated_wrong_claims():
    x, y = _blobs(40, 6, 12, spread=2.5)
    folds = assign_folds(y, k=5)
    from crowdlens.verdicts import calibrate

    probs = calibrate(out_of_fold_logits([x], y, folds, 6), 1.0)
    labels = [f"c{i}" for i in range(6)]
    parents = {"c0": "A", "c1": "A", "c2": "B", "c3": "B"}
    th, fit = fit_thresholds(probs, y, labels, parents)
    assert 0 < th.mismatch_prob < 0.5 and 1 <= th.confirm_max_rank <= 3
    assert fit["recall_random"] > 0.8 and fit["precision"] > 0.5
    assert fit["photos"] == len(y)


def test_thresholds_put_precision_first_and_say_whether_it_was_reached():
    x, y = _blobs(40, 6, 12, spread=2.5)
    from crowdlens.verdicts import calibrate

    probs = calibrate(out_of_fold_logits([x], y, assign_folds(y, k=5), 6), 1.0)
    labels = [f"c{i}" for i in range(6)]
    parents = {"c0": "A", "c1": "A", "c2": "B", "c3": "B"}
    _, strict = fit_thresholds(probs, y, labels, parents, min_precision=0.95)
    _, loose = fit_thresholds(probs, y, labels, parents, min_precision=0.0)
    if strict["min_precision_reached"]:
        assert strict["precision"] >= 0.95
    # With no precision floor every pair qualifies: the fit finds at least as many wrong claims.
    mean = lambda f: f["recall_random"] + f["recall_sibling"]  # noqa: E731
    assert loose["min_precision_reached"] and mean(loose) >= mean(strict)
    # An unreachable floor falls back to the best F1 and says so.
    _, never = fit_thresholds(probs, y, labels, parents, min_precision=1.01)
    assert never["min_precision_reached"] is False and never["f1"] > 0
