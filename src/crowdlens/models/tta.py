"""A frozen backbone with flip test-time augmentation and a linear head, as one network.

``forward_features(x)`` is the mean of the backbone's (power-normalised)
features of ``x`` and of its mirror image, exactly what :mod:`crowdlens.training.probe` trains and
predicts on, so the exported ONNX model reproduces the probe's predictions
(one graph, two forward passes of the backbone per photo).

Example::

    model = flip_tta_model("efficientnet_lite2", weight, bias)
    export_bundle(model, model.pretrained_cfg, "models/grocery", labels)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch


def flip_tta_model(
    backbone: str, weight: np.ndarray, bias: np.ndarray, *, flip: bool = True, power: float = 1.0
) -> torch.nn.Module:
    """The registry's pretrained ``backbone`` + (flip-averaged ``relu(features) ** power``)
    + ``Linear(weight, bias)``: what :class:`crowdlens.training.probe.LinearProbe` computes."""
    import torch
    from torch import nn

    from crowdlens.models.registry import create_model

    base = create_model(backbone, pretrained=True, num_classes=0)
    fc = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(np.asarray(weight, np.float32)))
        fc.bias.copy_(torch.from_numpy(np.asarray(bias, np.float32)))

    class FlipTTA(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base
            self.fc = fc

        def _view(self, x: torch.Tensor) -> torch.Tensor:
            feats = self.base.forward_features(x).clamp_min(0.0)
            return feats if power == 1.0 else feats.pow(power)

        def forward_features(self, x: torch.Tensor) -> torch.Tensor:
            if not flip:
                return self._view(x)
            return (self._view(x) + self._view(x.flip(3))) / 2

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.forward_features(x))

        def get_classifier(self) -> nn.Module:
            return self.fc

    model: Any = FlipTTA().eval()
    model.pretrained_cfg = base.pretrained_cfg
    model.model_name = f"{backbone}+flip" if flip else backbone
    return model
