"""Linear probes on cached features: one fit, K-fold out-of-fold predictions.

The probe is a multinomial logistic regression on standardised features,
fitted full-batch with L-BFGS and an L2 penalty (deterministic, seconds on
thousands of photos). Standardisation is folded into the weights, so the
result is one plain ``Linear(d, C)`` layer that exports with the backbone.

Features come in *views* (the photo, its mirror image, ...): every view of a
training photo is a training example, and a photo is predicted from the mean
of its views' features (test-time augmentation at the cost of one forward
pass per view; for a linear head the mean of features equals the mean of
logits).

Example::

    folds = assign_folds(y, k=5, seed=0)
    logits = out_of_fold_logits([x_centre, x_flip], y, folds, n_classes=81)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from crowdlens.errors import CrowdlensError

DEFAULT_L2 = 3e-4


@dataclass(frozen=True)
class LinearProbe:
    """``logits = x @ weight.T + bias`` (standardisation folded in)."""

    weight: np.ndarray  # [C, d]
    bias: np.ndarray  # [C]

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, np.float32) @ self.weight.T + self.bias


def stack_views(views: Sequence[np.ndarray], rows: np.ndarray | None = None) -> np.ndarray:
    """All views of the selected rows, one after another: ``[V * n, d]``."""
    return np.concatenate([v if rows is None else v[rows] for v in views])


def mean_view(views: Sequence[np.ndarray], rows: np.ndarray | None = None) -> np.ndarray:
    """The mean feature of the views of the selected rows: ``[n, d]``."""
    return np.mean([v if rows is None else v[rows] for v in views], axis=0)


def fit_probe(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    l2: float = DEFAULT_L2,
    max_iter: int = 150,
    threads: int = 1,
) -> LinearProbe:
    """Fit a multinomial logistic regression (L2 ``l2`` on standardised weights)."""
    import torch

    if len(y) == 0:
        raise CrowdlensError("No training photo could be decoded: nothing to train on.")
    torch.set_num_threads(max(1, threads))
    xt = torch.as_tensor(np.asarray(x, np.float32))
    yt = torch.as_tensor(np.asarray(y, np.int64))
    mu = xt.mean(0)
    sd = xt.std(0).clamp_min(1e-6)
    z = (xt - mu) / sd
    w = torch.zeros(n_classes, z.shape[1], requires_grad=True)
    b = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b], lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z @ w.T + b, yt) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        weight = w / sd
        bias = b - weight @ mu
    return LinearProbe(weight.numpy().astype(np.float32), bias.numpy().astype(np.float32))


def assign_folds(y: Sequence[int] | np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """A fold in ``[0, k)`` per row, stratified by label (each label spread over folds).

    Every row gets exactly one fold; within a label the rows are shuffled
    (seeded) and dealt round-robin, starting at a rotating fold so small
    labels do not all land in fold 0.

    >>> assign_folds([0, 0, 1, 1], k=2).tolist().count(0)
    2
    """
    if k < 2:
        raise CrowdlensError(f"Cross-validation needs at least 2 folds. Got {k}.")
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    folds = np.empty(len(y), dtype=np.int64)
    start = 0
    for lab in np.unique(y):
        rows = np.flatnonzero(y == lab)
        rows = rows[rng.permutation(len(rows))]
        folds[rows] = (start + np.arange(len(rows))) % k
        start = (start + len(rows)) % k
    return folds


def fold_logits(
    fold: int,
    views: Sequence[np.ndarray],
    y: np.ndarray,
    folds: np.ndarray,
    n_classes: int,
    l2: float = DEFAULT_L2,
) -> tuple[np.ndarray, np.ndarray]:
    """(held-out rows, their logits) from a probe trained on every other fold."""
    train = np.flatnonzero(folds != fold)
    held = np.flatnonzero(folds == fold)
    probe = fit_probe(stack_views(views, train), np.tile(y[train], len(views)), n_classes, l2=l2)
    return held, probe.logits(mean_view(views, held))


def out_of_fold_logits(
    views: Sequence[np.ndarray],
    y: np.ndarray,
    folds: np.ndarray,
    n_classes: int,
    l2: float = DEFAULT_L2,
    *,
    map_folds: Callable[[Callable[[int], tuple[np.ndarray, np.ndarray]], list[int]], list]
    | None = None,
) -> np.ndarray:
    """Logits for every row from the probe that did not see it (``[n, C]``).

    ``map_folds(fn, fold_ids)`` runs the per-fold work (default: in turn here;
    :func:`crowdlens.audit.spark_map` runs the folds as Spark tasks).
    """
    ids = sorted(int(f) for f in np.unique(folds))

    # A partial of a module-level function pickles (Spark broadcasts it).
    one = functools.partial(
        fold_logits, views=list(views), y=y, folds=folds, n_classes=n_classes, l2=l2
    )

    results = map_folds(one, ids) if map_folds else [one(f) for f in ids]
    out = np.full((len(y), n_classes), np.nan, dtype=np.float32)
    for held, logits in results:
        out[held] = logits
    if np.isnan(out).any():
        raise CrowdlensError("Some rows received no out-of-fold prediction (a fold was lost).")
    return out
