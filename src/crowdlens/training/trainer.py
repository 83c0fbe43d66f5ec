"""The training loop, with BigDL's concepts in Python style.

One :class:`Trainer` runs in a plain process, under ``torchrun`` or under
``TorchDistributor``: it reads ``RANK`` / ``WORLD_SIZE`` from the environment
and, when there is more than one process, joins a gloo process group, wraps
the model in DDP and gives each rank its shard of every epoch. Only rank 0
writes checkpoints and runs callbacks (unless a callback asks for all ranks).

Data sets are map-style: ``len(ds)`` and ``ds[i] -> (x, y)`` (or ``None`` for
a photo that could not be decoded: it is skipped and counted). A data set may
offer ``set_epoch(epoch)`` (epoch-dependent augmentation) and
``get_batch(indices)`` (a faster path for in-memory tensors).

Example::

    trainer = Trainer(model, optim=SGD(lr=0.05), schedule=Cosine(),
                      end_trigger=MaxEpoch(5), batch_size=32,
                      validation=Validation(EveryEpoch(), val_set),
                      checkpoint=Checkpoint(EveryEpoch(), "ckpts"),
                      callbacks=[TensorBoard("runs/x")])
    result = trainer.fit(train_set)           # or trainer.fit(train_set, resume="ckpts")
    result.metrics                            # {"top1": ..., "top5": ..., "loss": ...}
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crowdlens.config import check
from crowdlens.errors import CrowdlensError
from crowdlens.training.callbacks import Callback
from crowdlens.training.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from crowdlens.training.metrics import (
    Loss,
    Top1Accuracy,
    Top5Accuracy,
    ValidationMethod,
    all_reduce_sums,
)
from crowdlens.training.optim import SGD, Constant, OptimMethod, Schedule, set_lr
from crowdlens.training.triggers import MaxEpoch, TrainState, Trigger

if TYPE_CHECKING:  # pragma: no cover
    import torch

log = logging.getLogger(__name__)


def world() -> tuple[int, int]:
    """(rank, world size) from the environment; (0, 1) in a plain process."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def init_process_group() -> tuple[int, int]:
    """Join the gloo process group torchrun / TorchDistributor describe, if any."""
    import torch.distributed as dist

    rank, size = world()
    if size > 1 and not dist.is_initialized():
        dist.init_process_group("gloo", rank=rank, world_size=size)
    return rank, size


def _distributed() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def default_methods() -> list[ValidationMethod]:
    return [Top1Accuracy(), Top5Accuracy(), Loss()]


@dataclass
class Validation:
    """When to validate, on what, with which methods (the first one is the score)."""

    trigger: Trigger
    data: Any
    methods: list[ValidationMethod] = field(default_factory=default_methods)
    batch_size: int | None = None


@dataclass(frozen=True)
class Checkpoint:
    """When and where rank 0 writes checkpoints; ``keep`` newest files are kept."""

    trigger: Trigger
    path: str
    keep: int = 2


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns."""

    model: Any
    state: TrainState
    metrics: dict[str, float]
    history: list[dict[str, Any]]
    checkpoint: str | None = None


def _fetch(data: Any, indices: Sequence[int]) -> tuple[list[Any], list[int], int]:
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


class Trainer:
    """Train a torch module (BigDL's ``Optimizer``); see the module docstring.

    ``batch_size`` is the global batch: each of N processes takes
    ``batch_size // N`` rows per step, so 1 and 2 processes do the same work.
    ``param_groups`` (optional) are torch parameter groups, each may carry
    ``lr_scale``; by default all trainable parameters share the base rate.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        criterion: Any = None,
        optim: OptimMethod | None = None,
        *,
        schedule: Schedule | None = None,
        end_trigger: Trigger | None = None,
        batch_size: int = 32,
        validation: Validation | None = None,
        checkpoint: Checkpoint | None = None,
        callbacks: Sequence[Callback] = (),
        grad_clip_norm: float = 0.0,
        seed: int = 0,
        param_groups: list[dict[str, Any]] | None = None,
        channels_last: bool = False,
    ) -> None:
        import torch

        self.model = model
        self.criterion = criterion or torch.nn.CrossEntropyLoss()
        self.optim = optim or SGD()
        self.schedule = schedule or Constant()
        self.end_trigger = end_trigger or MaxEpoch(1)
        self.batch_size = batch_size
        self.validation = validation
        self.checkpoint = checkpoint
        self.callbacks = list(callbacks)
        self.grad_clip_norm = grad_clip_norm
        self.seed = seed
        self.param_groups = param_groups
        self.channels_last = channels_last
        self._epoch_logs: dict[str, float] = {}
        check(self, "batch_size", isinstance(batch_size, int) and batch_size >= 1, "an int >= 1")
        check(self, "grad_clip_norm", grad_clip_norm >= 0, "a float >= 0 (0 = no clipping)")

    # -- helpers ---------------------------------------------------------------
    def _callbacks(self, rank: int) -> list[Callback]:
        return [c for c in self.callbacks if rank == 0 or c.all_ranks]

    def _to_input(self, xs: list[Any]) -> torch.Tensor:
        import torch

        x = torch.stack([torch.as_tensor(v) for v in xs])
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _epoch_order(
        self, n: int, epoch: int, rank: int, size: int, per_rank: int
    ) -> list[list[int]]:
        """This rank's batches for ``epoch``: a pure function of (seed, epoch)."""
        import torch

        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(n, generator=g).tolist()
        # Like DistributedSampler: pad by wrapping so every rank gets as many rows.
        total = math.ceil(n / size) * size
        order = (order * math.ceil(total / max(n, 1)))[:total]
        shard = order[rank::size]
        return [shard[i : i + per_rank] for i in range(0, len(shard), per_rank)]

    def iterations_per_epoch(self, n: int) -> int:
        _, size = world()
        per_rank = max(1, self.batch_size // size)
        return math.ceil(math.ceil(n / size) / per_rank)

    # -- validation ------------------------------------------------------------
    def validate(
        self, data: Any, methods: list[ValidationMethod] | None = None
    ) -> dict[str, float]:
        """Run the validation methods over ``data`` (sharded over ranks; sums all-reduced)."""
        import torch

        methods = methods if methods is not None else default_methods()
        rank, size = world()
        model = self.model
        bs = (self.validation.batch_size if self.validation else None) or self.batch_size
        was_training = model.training
        model.eval()
        for m in methods:
            m.reset()
        indices = list(range(rank, len(data), size))
        with torch.no_grad():
            for i in range(0, len(indices), bs):
                xs, ys, _ = _fetch(data, indices[i : i + bs])
                if not xs:
                    continue
                logits = model(self._to_input(xs))
                target = torch.as_tensor(ys, dtype=torch.long)
                for m in methods:
                    m.update(logits, target)
        all_reduce_sums(methods)
        model.train(was_training)
        return {m.name: m.result() for m in methods}

    # -- the loop --------------------------------------------------------------
    def fit(self, train_data: Any, resume: str | None = None) -> TrainResult:
        """Train until the end trigger fires; resume from a checkpoint file or folder."""
        import torch

        rank, size = init_process_group()
        n = len(train_data)
        if n == 0:
            raise CrowdlensError(
                "The training set is empty: no labelled photos were found. Check --train "
                "(a folder with one sub-folder per label, or a manifest with path and label)."
            )
        per_rank = max(1, self.batch_size // size)
        per_epoch = self.iterations_per_epoch(n)
        total = self.end_trigger.max_iterations(per_epoch)
        if self.schedule.needs_total and total is None:
            raise CrowdlensError(
                f"The {type(self.schedule).__name__} schedule needs to know when training ends: "
                "use a MaxEpoch or MaxIteration end trigger, or the constant/step schedule."
            )

        model = self.model
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        params = self.param_groups or [p for p in model.parameters() if p.requires_grad]
        optimizer = self.optim.build(params)
        base_lr = self.optim.lr
        state = TrainState()
        epoch_loss = [0.0, 0.0]  # sum, count over this epoch (this rank)
        if resume:
            ckpt = load_checkpoint(resume)
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            state = ckpt["state"]
            rngs = ckpt["rng"]
            if len(rngs) != size:
                log.warning(
                    "checkpoint was written by %d processes, resuming with %d: "
                    "random streams (augmentation order is unaffected) will differ",
                    len(rngs),
                    size,
                )
            mine = rngs[rank % len(rngs)]
            set_rng_state(mine)
            epoch_loss = list(mine["epoch_loss"])
            log.info(
                "resumed from %s at epoch %d, iteration %d", resume, state.epoch, state.iteration
            )
        else:
            import random

            import numpy as np

            torch.manual_seed(self.seed + rank)
            np.random.seed(self.seed + rank)
            random.seed(self.seed + rank)

        net: torch.nn.Module = model
        if size > 1:
            from torch.nn.parallel import DistributedDataParallel

            net = DistributedDataParallel(model)
        callbacks = self._callbacks(rank)
        for c in callbacks:
            c.on_train_begin(state)
        example: torch.Tensor | None = None
        last_ckpt: str | None = None
        net.train()
        try:
            while not self.end_trigger(state):
                if hasattr(train_data, "set_epoch"):
                    train_data.set_epoch(state.epoch)
                batches = self._epoch_order(n, state.epoch, rank, size, per_rank)
                if state.batch_in_epoch == 0:
                    for c in callbacks:
                        c.on_epoch_begin(state)
                t_epoch = time.perf_counter()
                seen_epoch = 0
                for idx in batches[state.batch_in_epoch :]:
                    t0 = time.perf_counter()
                    xs, ys, skipped = _fetch(train_data, idx)
                    state.skipped += skipped
                    lr = set_lr(
                        optimizer, base_lr, self.schedule.factor(state.iteration, total, per_epoch)
                    )
                    if xs:
                        x = self._to_input(xs)
                        example = x[:1]
                        target = torch.as_tensor(ys, dtype=torch.long)
                        loss = self.criterion(net(x), target)
                    elif example is not None:
                        # Every photo of this rank's batch failed to decode: take part in
                        # the gradient all-reduce with a zero contribution, so ranks stay in step.
                        loss = net(torch.zeros_like(example)).sum() * 0.0
                    else:
                        raise CrowdlensError(
                            "The first training batch has no decodable photo; "
                            "check the input files."
                        )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if self.grad_clip_norm > 0:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip_norm)
                    optimizer.step()

                    loss_value = float(loss.detach())
                    epoch_loss[0] += loss_value * len(xs)
                    epoch_loss[1] += len(xs)
                    state.iteration += 1
                    state.batch_in_epoch += 1
                    state.loss = loss_value
                    state.photos_seen += len(xs) * size
                    seen_epoch += len(xs) * size
                    state.epoch_end = state.batch_in_epoch == len(batches)
                    if state.epoch_end:
                        state.epoch += 1
                        state.batch_in_epoch = 0
                    dt = time.perf_counter() - t0
                    logs = {
                        "loss": loss_value,
                        "lr": lr,
                        "photos_per_s": len(xs) * size / dt if dt > 0 else 0.0,
                        "batch_size": float(len(xs) * size),
                    }
                    for c in callbacks:
                        c.on_batch_end(state, logs)
                    self._after_iteration(state, epoch_loss, callbacks, seen_epoch, t_epoch)
                    if state.epoch_end:
                        epoch_loss = [0.0, 0.0]
                    if self.checkpoint and self.checkpoint.trigger(state):
                        last_ckpt = self._save(state, model, optimizer, epoch_loss, rank)
                        for c in callbacks:
                            c.on_checkpoint(state, last_ckpt)
                    if state.epoch_end:
                        for c in callbacks:
                            c.on_epoch_end(state, self._epoch_logs)
                    state.epoch_end = False
                    if self.end_trigger(state):
                        break
        finally:
            for c in callbacks:
                c.on_train_end(state)
        total_skipped = self._sum_over_ranks(state.skipped)
        state.skipped = total_skipped
        return TrainResult(
            model=model,
            state=state,
            metrics=dict(state.metrics),
            history=list(state.history),
            checkpoint=last_ckpt,
        )

    # Alias in BigDL's vocabulary: ``Optimizer(...).optimize(data)``.
    def optimize(self, train_data: Any, resume: str | None = None) -> TrainResult:
        return self.fit(train_data, resume=resume)

    def _after_iteration(
        self,
        state: TrainState,
        epoch_loss: list[float],
        callbacks: list[Callback],
        seen_epoch: int,
        t_epoch: float,
    ) -> None:
        """Validation and epoch bookkeeping after a step (every rank takes part)."""
        if self.validation and self.validation.trigger(state):
            metrics = self.validate(self.validation.data, self.validation.methods)
            state.metrics = metrics
            state.score = next(iter(metrics.values()))
            for c in callbacks:
                c.on_validation_end(state, metrics)
        if state.epoch_end:
            import torch
            import torch.distributed as dist

            sums = torch.tensor(epoch_loss, dtype=torch.float64)
            if _distributed():
                dist.all_reduce(sums)
            dt = time.perf_counter() - t_epoch
            logs = {
                "train_loss": float(sums[0] / sums[1]) if sums[1] else float("nan"),
                "photos_per_s": seen_epoch / dt if dt > 0 else 0.0,
            }
            logs.update({f"val_{k}": v for k, v in state.metrics.items()})
            self._epoch_logs = logs
            # Wall-clock throughput differs between runs; the history keeps what is exact.
            state.history.append(
                {
                    "epoch": state.epoch,
                    "iteration": state.iteration,
                    "train_loss": logs["train_loss"],
                }
                | {f"val_{k}": v for k, v in state.metrics.items()}
            )

    def _save(
        self,
        state: TrainState,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        epoch_loss: list[float],
        rank: int,
    ) -> str:
        import torch.distributed as dist

        # Each rank's random streams and partial epoch loss: all needed for exact resume.
        rngs = [rng_state() | {"epoch_loss": list(epoch_loss)}]
        if _distributed():
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, rngs[0])
            rngs = gathered
        path = ""
        if rank == 0:
            assert self.checkpoint is not None
            path = save_checkpoint(
                self.checkpoint.path,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "state": state,
                    "rng": rngs,
                    "iteration": state.iteration,
                },
                keep=self.checkpoint.keep,
            )
        if _distributed():
            dist.barrier()
        return path

    @staticmethod
    def _sum_over_ranks(value: int) -> int:
        if not _distributed():
            return value
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.long)
        dist.all_reduce(t)
        return int(t.item())


Optimizer = Trainer
