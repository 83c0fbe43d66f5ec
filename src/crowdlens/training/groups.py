"""Near-duplicate groups, so that cross-validation holds out photos as new as the ones judged.

Crowd photos come in bursts: a contributor takes several shots of the same
shelf, a little apart. Random folds put near-copies of a held-out photo in
the training folds, and the out-of-fold predictions are then those of
photos the model has as good as seen. Measured on the grocery training
split (EfficientNet-Lite2 features, issue #12): a training photo's nearest
neighbour shows the same item 96 % of the time, a validation photo's 55 %;
the default model's out-of-fold top-1 is 0.953 on random folds, 0.78 on
grouped folds, and 0.83 on the validation split. A temperature and verdict
thresholds fitted on random folds expect the model to be right far more
often than it is on new photos.

The rule needs no labelled validation data and no scale: two photos of the
same item are *near-duplicates* when they are more alike (cosine similarity
of centred features) than ``quantile`` of all photos are to their closest
photo of *another* item; groups are the connected components of that
relation. :func:`group_folds` then deals whole groups to folds, label by
label, so that no group straddles a training fold and its held-out fold
(unless a label has fewer groups than folds).

Example::

    groups = near_duplicate_groups(features, y)
    folds = group_folds(y, groups, k=2, seed=0)
"""

from __future__ import annotations

import numpy as np

from crowdlens.errors import CrowdlensError

#: "More alike than 90 % of photos are to any photo of another item."
DEFAULT_QUANTILE = 0.9


def unit_rows(features: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """Rows centred (on ``mean``, default their own) and scaled to unit length: cosine = dot."""
    f = np.asarray(features, dtype=np.float32)
    f = f - (f.mean(axis=0) if mean is None else mean)
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    return f / np.maximum(norms, 1e-12)


def duplicate_threshold(
    unit: np.ndarray, y: np.ndarray, quantile: float = DEFAULT_QUANTILE, chunk: int = 2048
) -> float:
    """The ``quantile`` of each row's highest similarity to a row of another label."""
    best = np.full(len(y), -1.0, dtype=np.float32)
    for s in range(0, len(y), chunk):
        sims = unit[s : s + chunk] @ unit.T
        sims[y[s : s + chunk, None] == y[None, :]] = -1.0
        best[s : s + chunk] = sims.max(axis=1)
    return float(np.quantile(best, quantile))


def near_duplicate_groups(
    features: np.ndarray, y: np.ndarray, quantile: float = DEFAULT_QUANTILE
) -> tuple[np.ndarray, float]:
    """(a group id per row, the similarity threshold used); rows ``features`` ``[n, d]``, labels ``y``.

    Only rows of the same label are ever grouped (see tests/training/test_groups.py).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        raise CrowdlensError("Near-duplicate groups need photos of at least 2 labels.")
    unit = unit_rows(features)
    threshold = duplicate_threshold(unit, y, quantile)
    rows, cols = [], []
    for lab in np.unique(y):
        idx = np.flatnonzero(y == lab)
        a, b = np.nonzero(np.triu(unit[idx] @ unit[idx].T > threshold, k=1))
        rows.append(idx[a])
        cols.append(idx[b])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r), bool), (r, c)), shape=(len(y), len(y)))
    _, groups = connected_components(graph, directed=False)
    return groups.astype(np.int64), threshold


def group_folds(y: np.ndarray, groups: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """A fold in ``[0, k)`` per row: whole groups per fold, every label in every fold.

    Per label, groups are dealt largest first to the fold holding fewest of
    that label's rows. A label held by fewer than ``k`` groups has its
    largest group split into single rows (else some fold would never see
    the label); every other group stays whole, however large.
    """
    if k < 2:
        raise CrowdlensError(f"Cross-validation needs at least 2 folds. Got {k}.")
    y, groups = np.asarray(y), np.asarray(groups)
    rng = np.random.default_rng(seed)
    folds = np.empty(len(y), dtype=np.int64)
    start = 0  # rotates, so that ties do not always go to fold 0
    for lab in np.unique(y):
        idx = np.flatnonzero(y == lab)
        units = [idx[groups[idx] == g] for g in rng.permutation(np.unique(groups[idx]))]
        units.sort(key=len, reverse=True)  # stable: equal sizes keep the shuffled order
        if len(units) < k:
            units = [m[None] for m in rng.permutation(units[0])] + units[1:]
        load = np.zeros(k, dtype=np.int64)
        for unit in units:
            f = min(range(k), key=lambda j: (load[j], (j - start) % k))
            folds[unit] = f
            load[f] += len(unit)
        start = (start + len(idx)) % k
    return folds


def calibration_folds(
    features: np.ndarray, y: np.ndarray, k: int, seed: int = 0
) -> tuple[np.ndarray, dict[str, float | int | str]]:
    """Folds for the cross-validation that fits the temperature and verdict thresholds.

    Returns the folds and what to record about them (threshold, groups).
    """
    groups, threshold = near_duplicate_groups(features, y)
    info = {
        "fold_grouping": "near-duplicate groups (training/groups.py)",
        "duplicate_similarity": round(threshold, 4),
        "groups": len(np.unique(groups)),
    }
    return group_folds(y, groups, k, seed), info
