"""Which rows each rank trains on: the epoch's shuffled, sharded batches, and fetching them.

Data sets are map-style: ``len(ds)`` and ``ds[i] -> (x, y)``, or ``None`` for
a photo that could not be decoded (it is skipped and counted). A data set
may offer ``get_batch(indices)``, a faster path for in-memory tensors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def fetch(data: Any, indices: Sequence[int]) -> tuple[list[Any], list[int], int]:
    """Items of ``data`` at ``indices``: (xs, ys, number skipped as undecodable)."""
    if hasattr(data, "get_batch"):
        return data.get_batch(indices)
    xs, ys, skipped = [], [], 0
    for i in indices:
        item = data[int(i)]
        if item is None:
            skipped += 1
            continue
        x, y = item
        xs.append(x)
        ys.append(int(y))
    return xs, ys, skipped


def epoch_batches(
    seed: int, n: int, epoch: int, rank: int, size: int, per_rank: int
) -> list[list[int]]:
    """This rank's batches for ``epoch``: a pure function of (seed, epoch)."""
    import torch

    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=g).tolist()
    # Like DistributedSampler: pad by wrapping so every rank gets as many rows.
    total = math.ceil(n / size) * size
    order = (order * math.ceil(total / max(n, 1)))[:total]
    shard = order[rank::size]
    return [shard[i : i + per_rank] for i in range(0, len(shard), per_rank)]


def batches_per_epoch(n: int, batch_size: int, size: int) -> int:
    """Steps per epoch when ``size`` ranks share a global ``batch_size`` over ``n`` rows."""
    per_rank = max(1, batch_size // size)
    return math.ceil(math.ceil(n / size) / per_rank)
