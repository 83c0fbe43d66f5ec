"""Training callbacks: plain classes with hook methods, passed as a list.

Only rank 0 runs a callback unless it sets ``all_ranks = True``, so a
TensorBoard writer or a progress line appears once per run, not once per
process.

Example::

    trainer = Trainer(..., callbacks=[TensorBoard("runs/grocery"), ConsoleProgress()])
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # pragma: no cover
    from crowdlens.training.triggers import TrainState

log = logging.getLogger(__name__)


class Callback:
    """Hooks the trainer calls; override the ones you need.

    ``logs`` on batch end holds ``loss``, ``lr``, ``photos_per_s`` and
    ``batch_size``; ``metrics`` on validation end maps method names
    (``top1``, ``top5``, ``loss``) to values.
    """

    all_ranks = False

    def on_train_begin(self, state: TrainState) -> None: ...

    def on_epoch_begin(self, state: TrainState) -> None: ...

    def on_batch_end(self, state: TrainState, logs: dict[str, float]) -> None: ...

    def on_validation_end(self, state: TrainState, metrics: dict[str, float]) -> None: ...

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None: ...

    def on_checkpoint(self, state: TrainState, path: str) -> None: ...

    def on_train_end(self, state: TrainState) -> None: ...


class TensorBoard(Callback):
    """Write loss, top-1/top-5, learning rate and photos/s as TensorBoard scalars.

    Training scalars go under ``train/`` every ``every`` iterations, validation
    results under ``val/``. On resume, events after the resumed iteration are
    purged so curves do not double back.
    """

    def __init__(self, log_dir: str, every: int = 1) -> None:
        self.log_dir = log_dir
        self.every = max(1, every)
        self._writer: Any = None

    def on_train_begin(self, state: TrainState) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self._writer = SummaryWriter(
            self.log_dir, purge_step=state.iteration if state.iteration else None
        )

    def on_batch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        if self._writer is None or state.iteration % self.every:
            return
        for key in ("loss", "lr", "photos_per_s"):
            if key in logs:
                self._writer.add_scalar(f"train/{key}", logs[key], state.iteration)

    def on_validation_end(self, state: TrainState, metrics: dict[str, float]) -> None:
        if self._writer is None:
            return
        for key, value in metrics.items():
            self._writer.add_scalar(f"val/{key}", value, state.iteration)
        self._writer.flush()

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        if self._writer is not None:
            for key, value in logs.items():
                self._writer.add_scalar(f"epoch/{key}", value, state.epoch)
            self._writer.flush()

    def on_train_end(self, state: TrainState) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class ConsoleProgress(Callback):
    """One line per epoch (and every ``every`` iterations) on stderr."""

    def __init__(self, every: int = 0, stream: TextIO | None = None) -> None:
        self.every = every
        self.stream = stream or sys.stderr
        self._t0 = 0.0

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def on_train_begin(self, state: TrainState) -> None:
        self._t0 = time.perf_counter()

    def on_batch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        if self.every and state.iteration % self.every == 0:
            self._print(
                f"  iter {state.iteration}  loss {logs['loss']:.4f}  lr {logs['lr']:.3g}  "
                f"{logs['photos_per_s']:.1f} photos/s"
            )

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        parts = [f"epoch {state.epoch}", f"{time.perf_counter() - self._t0:.0f}s"]
        parts += [f"{k} {v:.4g}" for k, v in logs.items()]
        self._print("  ".join(parts))

    def on_validation_end(self, state: TrainState, metrics: dict[str, float]) -> None:
        self._print("  val " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
