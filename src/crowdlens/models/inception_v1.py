"""Inception-v1 (GoogLeNet, Szegedy et al. 2014): the architecture the seed used.

The seed fine-tuned Caffe's BVLC GoogLeNet. No pretrained weights for it can
be had offline, so ``pretrained=True`` raises a clear error; the model serves
training from scratch and the seed comparison. Module names follow
torchvision's ``googlenet`` (``conv1``, ``inception3a.branch1``, ``fc``);
batch norm replaces Caffe's LRN (the torchvision variant) and the two
auxiliary classifiers are left out (they only help very long from-scratch
runs and never run at inference).
"""

from __future__ import annotations

from typing import Any

from crowdlens.models.preprocess import IMAGENET_MEAN, IMAGENET_STD, PreprocessSpec
from crowdlens.models.registry import PretrainedConfig, register_model

CFG = PretrainedConfig(
    name="inception_v1",
    preprocess=PreprocessSpec(
        input_size=224, resize=256, mean=IMAGENET_MEAN, std=IMAGENET_STD, interpolation="bilinear"
    ),
    feature_dim=1024,
    weights=None,
    classifier="fc",
    description="GoogLeNet / Inception-v1 with batch norm, 224 px, no pretrained weights",
)

# in, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5 (3x3 in torchvision), pool proj
BLOCKS = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


def build(num_classes: int = 1000, dropout: float = 0.2) -> Any:
    """GoogLeNet with torchvision's module names; ``forward_features`` -> [N, 1024]."""
    import torch
    from torch import nn

    class BasicConv2d(nn.Module):
        def __init__(self, inp: int, out: int, **kw: Any) -> None:
            super().__init__()
            self.conv = nn.Conv2d(inp, out, bias=False, **kw)
            self.bn = nn.BatchNorm2d(out, eps=0.001)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.bn(self.conv(x)))

    class Inception(nn.Module):
        def __init__(self, inp: int, c1: int, r3: int, c3: int, r5: int, c5: int, pp: int) -> None:
            super().__init__()
            self.branch1 = BasicConv2d(inp, c1, kernel_size=1)
            self.branch2 = nn.Sequential(
                BasicConv2d(inp, r3, kernel_size=1), BasicConv2d(r3, c3, kernel_size=3, padding=1)
            )
            self.branch3 = nn.Sequential(
                BasicConv2d(inp, r5, kernel_size=1), BasicConv2d(r5, c5, kernel_size=3, padding=1)
            )
            self.branch4 = nn.Sequential(
                nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                BasicConv2d(inp, pp, kernel_size=1),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat(
                [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1
            )

    class GoogLeNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.conv2 = BasicConv2d(64, 64, kernel_size=1)
            self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
            self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            for name, args in BLOCKS.items():
                setattr(self, name, Inception(*args))
            self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(dropout)
            self.num_features = CFG.feature_dim
            self.fc: nn.Module = nn.Linear(self.num_features, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d | nn.Linear):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

        def forward_features(self, x: torch.Tensor) -> torch.Tensor:
            x = self.maxpool1(self.conv1(x))
            x = self.maxpool2(self.conv3(self.conv2(x)))
            x = self.inception3b(self.inception3a(x))
            x = self.maxpool3(x)
            for name in ("inception4a", "inception4b", "inception4c", "inception4d", "inception4e"):
                x = getattr(self, name)(x)
            x = self.maxpool4(x)
            x = self.inception5b(self.inception5a(x))
            return torch.flatten(self.avgpool(x), 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.dropout(self.forward_features(x)))

        def get_classifier(self) -> nn.Module:
            return self.fc

        def reset_classifier(self, num_classes: int) -> None:
            self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()

    return GoogLeNet()


register_model(CFG)(build)
