"""Training on Spark with BigDL's concepts, in Python style.

The pieces, one concept per module:

* :mod:`~crowdlens.training.triggers`: when to stop, validate, checkpoint.
* :mod:`~crowdlens.training.metrics`: validation methods (Top1Accuracy, ...).
* :mod:`~crowdlens.training.optim`: optimisers and learning-rate schedules.
* :mod:`~crowdlens.training.callbacks`: TensorBoard, console progress.
* :mod:`~crowdlens.training.checkpoint`: atomic rank-0 checkpoints, exact resume.
* :mod:`~crowdlens.training.trainer`: the :class:`Trainer` loop (alone, torchrun
  or TorchDistributor: :mod:`~crowdlens.training.ranks` reads RANK / WORLD_SIZE),
  with :mod:`~crowdlens.training.batches` (each rank's shuffled batches),
  :mod:`~crowdlens.training.validation` and :mod:`~crowdlens.training.fit_run`
  (one run's state, saved and restored exactly).
* :mod:`~crowdlens.training.distributed`: launching through TorchDistributor.
* :mod:`~crowdlens.training.data`: labelled photos for the torch side.
* :mod:`~crowdlens.training.head`: the fast path (cached features + softmax head).
* :mod:`~crowdlens.training.hierarchy`, :mod:`~crowdlens.training.evaluate`.

Example::

    from crowdlens.training import Trainer, SGD, Cosine, MaxEpoch, EveryEpoch
    from crowdlens.training import Validation, Top1Accuracy, Top5Accuracy, Loss

    trainer = Trainer(model, torch.nn.CrossEntropyLoss(), SGD(lr=0.05),
                      schedule=Cosine(), end_trigger=MaxEpoch(10), batch_size=32,
                      validation=Validation(EveryEpoch(), val_set,
                                            [Top1Accuracy(), Top5Accuracy(), Loss()]))
    result = trainer.fit(train_set)
"""

from crowdlens.training.metrics import Loss, Top1Accuracy, Top5Accuracy, ValidationMethod
from crowdlens.training.optim import SGD, AdamW, Constant, Cosine, Poly, Step, Warmup
from crowdlens.training.trainer import Checkpoint, Trainer, TrainResult
from crowdlens.training.triggers import (
    EveryEpoch,
    MaxEpoch,
    MaxIteration,
    MaxScore,
    MinLoss,
    SeveralIteration,
    TrainState,
)
from crowdlens.training.validation import Validation

__all__ = [
    "SGD",
    "AdamW",
    "Checkpoint",
    "Constant",
    "Cosine",
    "EveryEpoch",
    "Loss",
    "MaxEpoch",
    "MaxIteration",
    "MaxScore",
    "MinLoss",
    "Poly",
    "SeveralIteration",
    "Step",
    "Top1Accuracy",
    "Top5Accuracy",
    "TrainResult",
    "TrainState",
    "Trainer",
    "Validation",
    "ValidationMethod",
    "Warmup",
]
