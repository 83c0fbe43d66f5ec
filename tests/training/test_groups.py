"""Near-duplicate groups and the folds built from them (issue #12: calibration folds)."""

from __future__ import annotations

import numpy as np
import pytest

from crowdlens.errors import CrowdlensError
from crowdlens.training.groups import group_folds, near_duplicate_groups


def _bursts(labels=4, bursts=5, shots=3, dim=32, seed=0):
    """Features of ``bursts`` separate objects per label, ``shots`` near-copies each."""
    rng = np.random.default_rng(seed)
    feats, y, burst = [], [], []
    for lab in range(labels):
        for b in range(bursts):
            centre = rng.normal(size=dim)
            for _ in range(shots):
                feats.append(centre + 0.01 * rng.normal(size=dim))
                y.append(lab)
                burst.append(lab * bursts + b)
    return np.array(feats), np.array(y), np.array(burst)


def test_groups_are_the_bursts_and_never_cross_labels():
    feats, y, burst = _bursts()
    groups, threshold = near_duplicate_groups(feats, y)
    assert 0 < threshold < 1
    # same burst <=> same group (the shots of one object, nothing else)
    same_burst = burst[:, None] == burst[None, :]
    assert np.array_equal(groups[:, None] == groups[None, :], same_burst)


def test_a_near_copy_of_another_label_is_not_grouped_with_it():
    feats, y, _ = _bursts(labels=2, bursts=4)
    feats = np.vstack([feats, feats[0] + 1e-3])  # a copy of photo 0 claimed as label 1
    y = np.append(y, 1)
    groups, _ = near_duplicate_groups(feats, y)
    assert groups[-1] != groups[0]


def test_group_folds_keep_groups_whole_and_every_label_in_every_fold():
    feats, y, _ = _bursts(labels=5, bursts=6, shots=4)
    groups, _ = near_duplicate_groups(feats, y)
    folds = group_folds(y, groups, k=3, seed=1)
    assert folds.shape == y.shape and set(folds) == {0, 1, 2}  # every row exactly one fold
    for g in np.unique(groups):
        assert len(set(folds[groups == g])) == 1  # no group straddles folds
    for lab in np.unique(y):
        counts = np.bincount(folds[y == lab], minlength=3)
        assert counts.min() >= 4 and counts.max() - counts.min() <= 4  # whole bursts of 4


def test_large_groups_stay_whole_unless_a_label_has_fewer_groups_than_folds():
    y = np.array([0] * 10 + [1] * 10)
    groups = np.array([0] * 10 + [1] * 8 + [2, 3])  # label 0: one group; label 1: 8 + 1 + 1
    folds = group_folds(y, groups, k=2)
    assert np.bincount(folds[y == 0], minlength=2).tolist() == [5, 5]  # split: else a fold lacks it
    assert len(set(folds[groups == 1])) == 1  # 8 of 10 photos, still one fold
    assert set(folds[y == 1]) == {0, 1}


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(CrowdlensError, match="at least 2 folds"):
        group_folds(np.zeros(4, int), np.arange(4), k=1)
    with pytest.raises(CrowdlensError, match="at least 2 labels"):
        near_duplicate_groups(np.eye(3), np.zeros(3, int))
