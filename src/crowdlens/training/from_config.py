"""A :class:`~crowdlens.training.trainer.Trainer` built from a :class:`TrainConfig`.

Head mode and fine-tuning train different modules on different data, but
with the same loss, optimiser, schedule, triggers, checkpoints and callbacks;
this is where those choices are made once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crowdlens.training.config import TrainConfig

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from crowdlens.training.trainer import Trainer


def make_trainer(model: torch.nn.Module, cfg: TrainConfig, val: Any, **extra: Any) -> Trainer:
    """The trainer for ``model`` as ``cfg`` says; ``val`` may be None or empty.

    ``extra`` goes to :class:`Trainer` as is (``param_groups``, ``channels_last``).
    Settings left unset take the mode's defaults (:meth:`TrainConfig.resolved`).
    """
    import torch

    from crowdlens.training.callbacks import ConsoleProgress, TensorBoard
    from crowdlens.training.optim import make_optimizer, make_schedule
    from crowdlens.training.trainer import Checkpoint, Trainer
    from crowdlens.training.triggers import EveryEpoch, MaxEpoch
    from crowdlens.training.validation import Validation

    cfg = cfg.resolved()  # epochs, lr, batch_size: the mode's defaults where unset
    callbacks: list[Any] = [ConsoleProgress()]
    if cfg.tensorboard_dir:
        callbacks.append(TensorBoard(cfg.tensorboard_dir))
    return Trainer(
        model,
        torch.nn.CrossEntropyLoss(),
        make_optimizer(cfg.optimizer, cfg.lr, cfg.weight_decay, cfg.momentum),
        schedule=make_schedule(cfg.schedule, cfg.warmup_epochs or 0.0),
        end_trigger=MaxEpoch(cfg.epochs),
        batch_size=cfg.batch_size,
        validation=Validation(EveryEpoch(), val) if val is not None and len(val) else None,
        checkpoint=Checkpoint(EveryEpoch(), cfg.checkpoint_dir) if cfg.checkpoint_dir else None,
        callbacks=callbacks,
        grad_clip_norm=cfg.grad_clip_norm,
        seed=cfg.seed,
        **extra,
    )
