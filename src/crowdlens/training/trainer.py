"""The training loop, with BigDL's concepts in Python style.

One :class:`Trainer` runs in a plain process, under ``torchrun`` or under
``TorchDistributor``: it reads ``RANK`` / ``WORLD_SIZE`` from the environment
and, when there is more than one process, joins a gloo process group, wraps
the model in DDP and gives each rank its shard of every epoch. Only rank 0
writes checkpoints and runs callbacks (unless a callback asks for all ranks).

Data sets are map-style (see :mod:`crowdlens.training.batches`); a data set
may offer ``set_epoch(epoch)`` (epoch-dependent augmentation).

``fit`` reads as Lightning's loop: restore (or seed) -> for each step
(``_train_step``, ``_after_step``) -> finish.

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

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crowdlens.config import check
from crowdlens.errors import CrowdlensError
from crowdlens.training.batches import batches_per_epoch, epoch_batches, fetch
from crowdlens.training.callbacks import Callback
from crowdlens.training.fit_run import FitRun, restore_run, save_run
from crowdlens.training.metrics import ValidationMethod
from crowdlens.training.optim import SGD, Constant, OptimMethod, Schedule, set_lr
from crowdlens.training.ranks import init_process_group, is_distributed, sum_over_ranks, world
from crowdlens.training.triggers import MaxEpoch, TrainState, Trigger
from crowdlens.training.validation import Validation, run_validation

if TYPE_CHECKING:  # pragma: no cover
    import torch


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


class Trainer:
    """Train a torch module (what BigDL calls an ``Optimizer``); see the module docstring.

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

    def iterations_per_epoch(self, n: int) -> int:
        return batches_per_epoch(n, self.batch_size, world()[1])

    # -- validation ------------------------------------------------------------
    def validate(
        self, data: Any, methods: list[ValidationMethod] | None = None
    ) -> dict[str, float]:
        """Run the validation methods over ``data`` (sharded over ranks; sums all-reduced)."""
        bs = (self.validation.batch_size if self.validation else None) or self.batch_size
        return run_validation(self.model, data, methods, bs, self._to_input)

    # -- the loop --------------------------------------------------------------
    def fit(self, train_data: Any, resume: str | None = None) -> TrainResult:
        """Train until the end trigger fires; resume from a checkpoint file or folder."""
        run = self._start(train_data)
        if resume:
            restore_run(run, resume)
        else:
            self._seed(run.rank)
        run.net = _wrap(run.model, run.size)
        state = run.state
        run.callbacks = self._callbacks(run.rank)
        for c in run.callbacks:
            c.on_train_begin(state)
        run.net.train()
        try:
            while not self.end_trigger(state):
                self._begin_epoch(run)
                for idx in run.batches[state.batch_in_epoch :]:
                    logs = self._train_step(run, idx)
                    self._after_step(run, logs)
                    if self.end_trigger(state):
                        break
        finally:
            for c in run.callbacks:
                c.on_train_end(state)
        return self._finish(run)

    def _start(self, train_data: Any) -> FitRun:
        """Join the process group, check the run can be planned, build the optimiser."""
        import torch

        rank, size = init_process_group()
        n = len(train_data)
        if n == 0:
            raise CrowdlensError(
                "The training set is empty: no labelled photos were found. Check --train "
                "(a folder with one sub-folder per label, or a manifest with path and label)."
            )
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
        return FitRun(
            data=train_data,
            rank=rank,
            size=size,
            per_rank=max(1, self.batch_size // size),
            per_epoch=per_epoch,
            total=total,
            model=model,
            optimizer=self.optim.build(params),
            base_lr=self.optim.lr,
        )

    def _seed(self, rank: int) -> None:
        import random

        import numpy as np
        import torch

        torch.manual_seed(self.seed + rank)
        np.random.seed(self.seed + rank)
        random.seed(self.seed + rank)

    def _begin_epoch(self, run: FitRun) -> None:
        state = run.state
        if hasattr(run.data, "set_epoch"):
            run.data.set_epoch(state.epoch)
        n = len(run.data)
        run.batches = epoch_batches(self.seed, n, state.epoch, run.rank, run.size, run.per_rank)
        if state.batch_in_epoch == 0:
            for c in run.callbacks:
                c.on_epoch_begin(state)
        run.t_epoch = time.perf_counter()
        run.seen_epoch = 0

    def _train_step(self, run: FitRun, idx: list[int]) -> dict[str, float]:
        """One optimiser step on this rank's batch ``idx``; returns the batch logs."""
        import torch

        state = run.state
        t0 = time.perf_counter()
        xs, ys, skipped = fetch(run.data, idx)
        state.skipped += skipped
        factor = self.schedule.factor(state.iteration, run.total, run.per_epoch)
        lr = set_lr(run.optimizer, run.base_lr, factor)
        if xs:
            x = self._to_input(xs)
            run.example = x[:1]
            loss = self.criterion(run.net(x), torch.as_tensor(ys, dtype=torch.long))
        elif run.example is not None:
            # Every photo of this rank's batch failed to decode: take part in
            # the gradient all-reduce with a zero contribution, so ranks stay in step.
            loss = run.net(torch.zeros_like(run.example)).sum() * 0.0
        else:
            raise CrowdlensError(
                "The first training batch has no decodable photo; check the input files."
            )
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(run.model.parameters(), self.grad_clip_norm)
        run.optimizer.step()

        loss_value = float(loss.detach())
        rows = len(xs) * run.size
        run.epoch_loss[0] += loss_value * len(xs)
        run.epoch_loss[1] += len(xs)
        state.iteration += 1
        state.batch_in_epoch += 1
        state.loss = loss_value
        state.photos_seen += rows
        run.seen_epoch += rows
        state.epoch_end = state.batch_in_epoch == len(run.batches)
        if state.epoch_end:
            state.epoch += 1
            state.batch_in_epoch = 0
        dt = time.perf_counter() - t0
        return {
            "loss": loss_value,
            "lr": lr,
            "photos_per_s": rows / dt if dt > 0 else 0.0,
            "batch_size": float(rows),
        }

    def _after_step(self, run: FitRun, logs: dict[str, float]) -> None:
        """Callbacks, validation, epoch bookkeeping and checkpoints after a step."""
        state = run.state
        for c in run.callbacks:
            c.on_batch_end(state, logs)
        if self.validation and self.validation.trigger(state):
            metrics = self.validate(self.validation.data, self.validation.methods)
            state.metrics = metrics
            state.score = next(iter(metrics.values()))
            for c in run.callbacks:
                c.on_validation_end(state, metrics)
        if state.epoch_end:
            self._epoch_logs = self._end_epoch(run)
            run.epoch_loss = [0.0, 0.0]
        if self.checkpoint and self.checkpoint.trigger(state):
            run.last_ckpt = save_run(run, self.checkpoint.path, self.checkpoint.keep)
            for c in run.callbacks:
                c.on_checkpoint(state, run.last_ckpt)
        if state.epoch_end:
            for c in run.callbacks:
                c.on_epoch_end(state, self._epoch_logs)
        state.epoch_end = False

    def _end_epoch(self, run: FitRun) -> dict[str, float]:
        """The epoch's logs (loss all-reduced over ranks); appends to the history."""
        import torch
        import torch.distributed as dist

        state = run.state
        sums = torch.tensor(run.epoch_loss, dtype=torch.float64)
        if is_distributed():
            dist.all_reduce(sums)
        dt = time.perf_counter() - run.t_epoch
        logs = {
            "train_loss": float(sums[0] / sums[1]) if sums[1] else float("nan"),
            "photos_per_s": run.seen_epoch / dt if dt > 0 else 0.0,
        }
        val = {f"val_{k}": v for k, v in state.metrics.items()}
        # Wall-clock throughput differs between runs; the history keeps what is exact.
        state.history.append(
            {"epoch": state.epoch, "iteration": state.iteration, "train_loss": logs["train_loss"]}
            | val
        )
        return logs | val

    def _finish(self, run: FitRun) -> TrainResult:
        state = run.state
        state.skipped = sum_over_ranks(state.skipped)
        return TrainResult(
            model=run.model,
            state=state,
            metrics=dict(state.metrics),
            history=list(state.history),
            checkpoint=run.last_ckpt,
        )


def _wrap(model: torch.nn.Module, size: int) -> torch.nn.Module:
    """The module the steps call: DDP around ``model`` when there are several ranks."""
    if size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model)
