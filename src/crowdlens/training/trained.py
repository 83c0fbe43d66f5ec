"""What a training mode (probe, head, fine-tune) hands back to :func:`crowdlens.training.api.train`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Trained:
    """A trained model ready to export, and what validation saw.

    ``val_logits[i]`` is the model's output for validation row ``val_rows[i]``
    (rows whose photo could not be decoded are left out); ``info`` is merged
    into the training report (history, skipped counts, timings, and for probe
    mode the cross-validated temperature and thresholds); ``text`` is the text
    evidence to write into the bundle beside the model
    (:class:`crowdlens.training.text_fusion.FittedText`, tail mode), if any.
    """

    model: Any  # a torch module with ``pretrained_cfg``, as export_bundle takes it
    val_logits: np.ndarray
    val_rows: list[int]
    info: dict[str, Any]
    text: Any = None
