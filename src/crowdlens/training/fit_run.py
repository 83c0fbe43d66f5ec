"""One ``Trainer.fit`` call's working state, and saving / restoring it exactly.

A checkpoint holds the weights, the optimiser, the position (:class:`TrainState`)
and every rank's random streams and partial epoch loss: everything needed for
a resumed run to continue as if it had never stopped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from crowdlens.training.callbacks import Callback
from crowdlens.training.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from crowdlens.training.ranks import is_distributed
from crowdlens.training.triggers import TrainState

log = logging.getLogger(__name__)


@dataclass
class FitRun:
    """What the steps of one ``fit`` share."""

    data: Any
    rank: int
    size: int
    per_rank: int
    per_epoch: int
    total: int | None
    model: Any
    optimizer: Any
    base_lr: float
    net: Any = None  # the module steps call: ``model``, or DDP around it
    state: TrainState = field(default_factory=TrainState)
    epoch_loss: list[float] = field(default_factory=lambda: [0.0, 0.0])  # sum, count (this rank)
    callbacks: list[Callback] = field(default_factory=list)
    example: Any = None  # one input row, for a step whose photos all failed to decode
    last_ckpt: str | None = None
    batches: list[list[int]] = field(default_factory=list)
    seen_epoch: int = 0
    t_epoch: float = 0.0


def restore_run(run: FitRun, resume: str) -> None:
    """Weights, optimiser, position, random streams and partial epoch loss from ``resume``."""
    ckpt = load_checkpoint(resume)
    run.model.load_state_dict(ckpt["model"])
    run.optimizer.load_state_dict(ckpt["optimizer"])
    run.state = ckpt["state"]
    rngs = ckpt["rng"]
    if len(rngs) != run.size:
        log.warning(
            "checkpoint was written by %d processes, resuming with %d: "
            "random streams (augmentation order is unaffected) will differ",
            len(rngs),
            run.size,
        )
    mine = rngs[run.rank % len(rngs)]
    set_rng_state(mine)
    run.epoch_loss = list(mine["epoch_loss"])
    log.info(
        "resumed from %s at epoch %d, iteration %d", resume, run.state.epoch, run.state.iteration
    )


def save_run(run: FitRun, path: str, keep: int) -> str:
    """Rank 0 writes the checkpoint (every rank takes part); returns its path ('' elsewhere)."""
    import torch.distributed as dist

    state = run.state
    # Each rank's random streams and partial epoch loss: all needed for exact resume.
    rngs = [rng_state() | {"epoch_loss": list(run.epoch_loss)}]
    if is_distributed():
        gathered: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, rngs[0])
        rngs = gathered
    out = ""
    if run.rank == 0:
        out = save_checkpoint(
            path,
            {
                "model": run.model.state_dict(),
                "optimizer": run.optimizer.state_dict(),
                "state": state,
                "rng": rngs,
                "iteration": state.iteration,
            },
            keep=keep,
        )
    if is_distributed():
        dist.barrier()
    return out
