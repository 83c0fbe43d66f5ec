"""The companions' network: other pretrained backbones fed the main network's input.

Used by tail mode's companions (:mod:`crowdlens.training.companion`) to
compute training features on the Spark workers and, inside the exported
bundle, to judge. Kept apart so the feature pass
(:func:`crowdlens.training.head.embed_rows`) needs nothing of the fitting.

Example::

    f = companion_features(("efficientnet_lite0", "mobilenet_v2"), "efficientnet_lite2", x)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from crowdlens.models.preprocess import PreprocessSpec


def companion_network(names: tuple[str, ...], spec: PreprocessSpec) -> Any:
    """Module: the main network's input ``[n, 3, S, S]`` -> the companions' pooled features.

    Each companion gets the same crop, back in pixels (``x * std + mean`` of
    ``spec``), resized bilinearly to its own input size and normalised with its
    own mean and std; the features of all companions are concatenated.
    """
    import torch
    from torch import nn
    from torch.nn import functional as F

    from crowdlens.models.registry import create_model

    def column(values: tuple[float, ...]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32).view(1, 3, 1, 1)

    class Companions(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.nets = nn.ModuleList(
                create_model(n, pretrained=True, num_classes=0).eval() for n in names
            )
            self.sizes = [int(m.pretrained_cfg.preprocess.input_size) for m in self.nets]
            self.input_size = int(spec.input_size)
            self.register_buffer("mean", column(spec.mean))
            self.register_buffer("std", column(spec.std))
            for i, m in enumerate(self.nets):
                self.register_buffer(f"mean{i}", column(m.pretrained_cfg.preprocess.mean))
                self.register_buffer(f"std{i}", column(m.pretrained_cfg.preprocess.std))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            pixels = x * self.std + self.mean
            feats = []
            for i, (net, size) in enumerate(zip(self.nets, self.sizes, strict=True)):
                p = pixels
                if size != self.input_size:
                    p = F.interpolate(p, size=(size, size), mode="bilinear", align_corners=False)
                p = (p - getattr(self, f"mean{i}")) / getattr(self, f"std{i}")
                feats.append(net.forward_features(p))
            return torch.cat(feats, dim=1)

    return Companions().eval()


def companion_features(names: tuple[str, ...], main: str, x: np.ndarray) -> np.ndarray:
    """:func:`companion_network` of ``names`` for inputs ``x`` of backbone ``main``, ``[n, D]``.

    Exported once per Python worker and run through ONNX Runtime, like the
    tail's trunk (:mod:`crowdlens.training.worker_onnx`).
    """
    from crowdlens.models.registry import get_pretrained_config
    from crowdlens.training.worker_onnx import worker_session

    size = get_pretrained_config(main).preprocess.input_size
    sess = worker_session(network_for, size, tuple(names), main)
    return sess.run(None, {"x": np.ascontiguousarray(x, np.float32)})[0]


def network_for(names: tuple[str, ...], main: str) -> Any:
    """:func:`companion_network` for the inputs of the registry backbone ``main``."""
    from crowdlens.models.registry import get_pretrained_config

    return companion_network(names, get_pretrained_config(main).preprocess)
