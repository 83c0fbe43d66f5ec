"""Optimisers (SGD with momentum, AdamW) and learning-rate schedules.

Optimisers are small frozen configs that build a ``torch.optim`` optimiser;
schedules are pure functions of the iteration (``factor(it, total, per_epoch)``
multiplies the base learning rate). Because a schedule holds no state, resume
only needs the iteration number to set exactly the same learning rate.

Example::

    opt = SGD(lr=0.05, momentum=0.9, weight_decay=1e-4)
    schedule = Warmup(epochs=1, then=Cosine())
    schedule.factor(it=10, total=100, per_epoch=20)   # 0.5: half-way through warm-up
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crowdlens.config import check
from crowdlens.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

# A parameter group may carry "lr_scale": its learning rate is base lr x scale
# (a lower rate for a pretrained backbone than for the new head).
LR_SCALE = "lr_scale"


def _groups(params: Iterable[Any]) -> list[dict[str, Any]]:
    params = list(params)
    if params and isinstance(params[0], dict):
        return [dict(g) for g in params]
    return [{"params": params}]


@dataclass(frozen=True)
class SGD:
    """SGD with (Nesterov) momentum and decoupled-free L2 weight decay."""

    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    nesterov: bool = True

    def __post_init__(self) -> None:
        check(self, "lr", self.lr > 0, "a float > 0")
        check(self, "momentum", 0 <= self.momentum < 1, "a float in [0, 1)")
        check(self, "weight_decay", self.weight_decay >= 0, "a float >= 0")

    def build(self, params: Iterable[Any]) -> torch.optim.Optimizer:
        import torch

        return torch.optim.SGD(
            _groups(params),
            lr=self.lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            nesterov=self.nesterov and self.momentum > 0,
        )


@dataclass(frozen=True)
class AdamW:
    """AdamW (decoupled weight decay)."""

    lr: float = 1e-3
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999

    def __post_init__(self) -> None:
        check(self, "lr", self.lr > 0, "a float > 0")
        check(self, "weight_decay", self.weight_decay >= 0, "a float >= 0")
        check(self, "beta1", 0 <= self.beta1 < 1, "a float in [0, 1)")
        check(self, "beta2", 0 <= self.beta2 < 1, "a float in [0, 1)")

    def build(self, params: Iterable[Any]) -> torch.optim.Optimizer:
        import torch

        return torch.optim.AdamW(
            _groups(params),
            lr=self.lr,
            weight_decay=self.weight_decay,
            betas=(self.beta1, self.beta2),
        )


OptimMethod = SGD | AdamW


class Schedule:
    """Base class: ``factor(it, total, per_epoch)`` scales the base learning rate."""

    needs_total = False

    def factor(self, it: int, total: int | None, per_epoch: int) -> float:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(Schedule):
    """The base learning rate throughout."""

    def factor(self, it: int, total: int | None, per_epoch: int) -> float:
        return 1.0


@dataclass(frozen=True)
class Poly(Schedule):
    """BigDL's Poly: ``(1 - it / total) ** power``."""

    power: float = 0.9
    needs_total = True

    def factor(self, it: int, total: int | None, per_epoch: int) -> float:
        assert total
        return max(0.0, 1.0 - it / total) ** self.power


@dataclass(frozen=True)
class Step(Schedule):
    """Multiply by ``gamma`` every ``epochs`` epochs."""

    epochs: int = 10
    gamma: float = 0.1

    def __post_init__(self) -> None:
        check(self, "epochs", self.epochs >= 1, "an int >= 1")
        check(self, "gamma", 0 < self.gamma <= 1, "a float in (0, 1]")

    def factor(self, it: int, total: int | None, per_epoch: int) -> float:
        return self.gamma ** (it // max(1, per_epoch) // self.epochs)


@dataclass(frozen=True)
class Cosine(Schedule):
    """Cosine decay from the base rate to ``min_factor`` x base at the last iteration."""

    min_factor: float = 0.0
    needs_total = True

    def factor(self, it: int, total: int | None, per_epoch: int) -> float:
        assert total
        t = min(1.0, it / total)
        return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * t))


@dataclass(frozen=True)
class Warmup(Schedule):
    """Linear warm-up over ``epochs`` epochs, then ``then`` on the remaining steps."""

    epochs: float = 1.0
    then: Schedule = Constant()

    def __post_init__(self) -> None:
        check(self, "epochs", self.epochs >= 0, "a float >= 0")

    @property
    def needs_total(self) -> bool:  # type: ignore[override]
        return self.then.needs_total

    def factor(self, it: int, total: int | None, per_epoch: int) -> float:
        warm = round(self.epochs * per_epoch)
        if it < warm:
            return (it + 1) / warm
        rest_total = None if total is None else max(1, total - warm)
        return self.then.factor(it - warm, rest_total, per_epoch)


SCHEDULES = ("constant", "poly", "step", "cosine")
OPTIMIZERS = ("sgd", "adamw")


def make_schedule(name: str, warmup_epochs: float = 0.0, **kwargs: Any) -> Schedule:
    """A schedule by name (``constant``, ``poly``, ``step``, ``cosine``), with warm-up."""
    classes: dict[str, type[Schedule]] = {
        "constant": Constant,
        "poly": Poly,
        "step": Step,
        "cosine": Cosine,
    }
    if name not in classes:
        raise ConfigError(
            f"Unknown learning-rate schedule {name!r}. Valid schedules: {', '.join(SCHEDULES)}."
        )
    base = classes[name](**kwargs)
    return Warmup(warmup_epochs, base) if warmup_epochs > 0 else base


def make_optimizer(name: str, lr: float, weight_decay: float, momentum: float = 0.9) -> OptimMethod:
    """An optimiser config by name (``sgd`` or ``adamw``)."""
    if name == "sgd":
        return SGD(lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adamw":
        return AdamW(lr=lr, weight_decay=weight_decay)
    raise ConfigError(f"Unknown optimizer {name!r}. Valid optimizers: {', '.join(OPTIMIZERS)}.")


def set_lr(optimizer: torch.optim.Optimizer, base_lr: float, factor: float) -> float:
    """Set every group's rate to base x group scale x factor; return the base group's."""
    for group in optimizer.param_groups:
        group["lr"] = base_lr * group.get(LR_SCALE, 1.0) * factor
    return base_lr * factor
