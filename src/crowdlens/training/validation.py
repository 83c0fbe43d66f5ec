"""Validation during training: when, on what, with which methods; and the sharded pass itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crowdlens.training.batches import fetch
from crowdlens.training.metrics import (
    Loss,
    Top1Accuracy,
    Top5Accuracy,
    ValidationMethod,
    all_reduce_sums,
)
from crowdlens.training.ranks import world
from crowdlens.training.triggers import Trigger

if TYPE_CHECKING:  # pragma: no cover
    import torch


def default_methods() -> list[ValidationMethod]:
    return [Top1Accuracy(), Top5Accuracy(), Loss()]


@dataclass
class Validation:
    """When to validate, on what, with which methods (the first one is the score)."""

    trigger: Trigger
    data: Any
    methods: list[ValidationMethod] = field(default_factory=default_methods)
    batch_size: int | None = None


def run_validation(
    model: torch.nn.Module,
    data: Any,
    methods: list[ValidationMethod] | None,
    batch_size: int,
    to_input: Callable[[list[Any]], torch.Tensor],
) -> dict[str, float]:
    """The methods' results over ``data``: each rank takes every size-th row; sums all-reduced."""
    import torch

    methods = methods if methods is not None else default_methods()
    rank, size = world()
    was_training = model.training
    model.eval()
    for m in methods:
        m.reset()
    indices = list(range(rank, len(data), size))
    with torch.no_grad():
        for i in range(0, len(indices), batch_size):
            xs, ys, _ = fetch(data, indices[i : i + batch_size])
            if not xs:
                continue
            logits = model(to_input(xs))
            target = torch.as_tensor(ys, dtype=torch.long)
            for m in methods:
                m.update(logits, target)
    all_reduce_sums(methods)
    model.train(was_training)
    return {m.name: m.result() for m in methods}
