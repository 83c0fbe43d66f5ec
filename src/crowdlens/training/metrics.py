"""Validation methods (BigDL's ``Top1Accuracy``, ``Top5Accuracy``, ``Loss``).

A method accumulates sums over batches (``update``) and turns them into one
number (``result``). Keeping raw sums, not averages, lets data-parallel ranks
add their sums with one all-reduce and get exactly the single-process result.

Example::

    top1 = Top1Accuracy()
    top1.update(logits, targets)
    top1.result()  # fraction of rows whose highest logit is the target
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch


class ValidationMethod:
    """Base class: sums in :attr:`sums`, ``name``, ``update`` and ``result``."""

    name = "metric"
    higher_is_better = True

    def __init__(self) -> None:
        self.sums: list[float] = [0.0, 0.0]

    def reset(self) -> None:
        self.sums = [0.0] * len(self.sums)

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:  # pragma: no cover
        raise NotImplementedError

    def result(self) -> float:
        total, n = self.sums
        return total / n if n else float("nan")


class TopKAccuracy(ValidationMethod):
    """Fraction of rows whose target is among the ``k`` highest logits."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k
        self.name = f"top{k}"

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        k = min(self.k, logits.shape[1])
        top = logits.topk(k, dim=1).indices
        self.sums[0] += float((top == target.view(-1, 1)).any(dim=1).sum())
        self.sums[1] += float(target.numel())


class Top1Accuracy(TopKAccuracy):
    """Top-1 accuracy."""

    def __init__(self) -> None:
        super().__init__(1)


class Top5Accuracy(TopKAccuracy):
    """Top-5 accuracy (top-k with k = number of classes when there are fewer)."""

    def __init__(self) -> None:
        super().__init__(5)


class Loss(ValidationMethod):
    """Mean cross-entropy of the logits against the targets."""

    name = "loss"
    higher_is_better = False

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        import torch.nn.functional as F

        self.sums[0] += float(F.cross_entropy(logits.float(), target, reduction="sum"))
        self.sums[1] += float(target.numel())


def all_reduce_sums(methods: list[ValidationMethod]) -> None:
    """Add every rank's sums (no-op outside a process group)."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    flat = torch.tensor([s for m in methods for s in m.sums], dtype=torch.float64)
    dist.all_reduce(flat)
    i = 0
    for m in methods:
        m.sums = flat[i : i + len(m.sums)].tolist()
        i += len(m.sums)
