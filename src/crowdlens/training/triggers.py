"""Triggers: when to stop, when to validate, when to checkpoint (BigDL's concept).

A trigger is a plain object with ``__call__(state) -> bool``; the trainer asks
it after every iteration. End triggers may also say how many iterations the
run will take (``max_iterations``), which the learning-rate schedules need.

Example::

    end = MaxEpoch(20) | MaxScore(0.9)   # stop at epoch 20, or earlier at 90 % top-1
    every = SeveralIteration(100)        # validate / checkpoint every 100 steps
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crowdlens.config import check


@dataclass
class TrainState:
    """Where a run is; what triggers and callbacks look at.

    ``epoch`` counts completed epochs; ``epoch_end`` is true on the last
    iteration of an epoch; ``score`` is the first validation method's last
    result (None before the first validation).
    """

    epoch: int = 0
    iteration: int = 0
    batch_in_epoch: int = 0
    epoch_end: bool = False
    loss: float = float("nan")
    score: float | None = None
    photos_seen: int = 0
    skipped: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)


class Trigger:
    """Base class: ``trigger(state) -> bool``; ``a | b`` fires when either does."""

    def __call__(self, state: TrainState) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def max_iterations(self, iters_per_epoch: int) -> int | None:
        """The iteration at which this trigger surely fires, if known."""
        return None

    def __or__(self, other: Trigger) -> Trigger:
        return AnyOf((self, other))


@dataclass(frozen=True)
class AnyOf(Trigger):
    """Fires when any of ``triggers`` fires."""

    triggers: tuple[Trigger, ...]

    def __call__(self, state: TrainState) -> bool:
        return any(t(state) for t in self.triggers)

    def max_iterations(self, iters_per_epoch: int) -> int | None:
        known = [t.max_iterations(iters_per_epoch) for t in self.triggers]
        known = [k for k in known if k is not None]
        return min(known) if known else None


@dataclass(frozen=True)
class MaxEpoch(Trigger):
    """End after ``n`` epochs."""

    n: int

    def __post_init__(self) -> None:
        check(self, "n", isinstance(self.n, int) and self.n >= 1, "an int >= 1")

    def __call__(self, state: TrainState) -> bool:
        return state.epoch >= self.n

    def max_iterations(self, iters_per_epoch: int) -> int | None:
        return self.n * iters_per_epoch


@dataclass(frozen=True)
class MaxIteration(Trigger):
    """End after ``n`` optimiser steps."""

    n: int

    def __post_init__(self) -> None:
        check(self, "n", isinstance(self.n, int) and self.n >= 1, "an int >= 1")

    def __call__(self, state: TrainState) -> bool:
        return state.iteration >= self.n

    def max_iterations(self, iters_per_epoch: int) -> int | None:
        return self.n


@dataclass(frozen=True)
class MinLoss(Trigger):
    """End when the training loss of the last iteration drops below ``loss``."""

    loss: float

    def __post_init__(self) -> None:
        check(self, "loss", self.loss >= 0, "a float >= 0")

    def __call__(self, state: TrainState) -> bool:
        return state.loss == state.loss and state.loss < self.loss  # nan never fires


@dataclass(frozen=True)
class MaxScore(Trigger):
    """End when the validation score (first validation method) exceeds ``score``."""

    score: float

    def __call__(self, state: TrainState) -> bool:
        return state.score is not None and state.score > self.score


@dataclass(frozen=True)
class EveryEpoch(Trigger):
    """Fires on the last iteration of every epoch."""

    def __call__(self, state: TrainState) -> bool:
        return state.epoch_end


@dataclass(frozen=True)
class SeveralIteration(Trigger):
    """Fires every ``n`` iterations."""

    n: int

    def __post_init__(self) -> None:
        check(self, "n", isinstance(self.n, int) and self.n >= 1, "an int >= 1")

    def __call__(self, state: TrainState) -> bool:
        return state.iteration > 0 and state.iteration % self.n == 0
