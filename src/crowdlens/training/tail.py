"""The network pieces of ``tail`` mode: a frozen trunk, a trainable tail, the exported whole.

``tail`` mode fine-tunes only the last block(s) of a pretrained
EfficientNet-Lite (plus its 1x1 head convolution and the classifier) on
*cached* activations of the frozen trunk before them: the trunk runs once
per photo and view (the photo, its mirror image), every epoch after that
costs only the tail. BatchNorm layers keep their pretrained statistics
(``--freeze-bn``: a few photos per step give noisy batch statistics).

Example::

    acts = trunk_forward(base, x, trunk_blocks=20)           # [n, 208, 9, 9] for Lite2
    tail = make_tail(base, 20, acts.shape[1:], num_classes=81)
    logits = tail(acts.flatten(1))
    model = export_model(base, tail, flip=True)              # photo -> logits, flip TTA
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from crowdlens.errors import CrowdlensError

if TYPE_CHECKING:  # pragma: no cover
    import torch


def trunk_blocks_for(base: Any, tail_blocks: int) -> int:
    """How many leading blocks are frozen (the trunk) when the last ``tail_blocks`` train."""
    blocks = getattr(base, "_blocks", None)
    if blocks is None:
        raise CrowdlensError(
            "tail mode needs an EfficientNet-Lite backbone (efficientnet_lite0 or _lite2)."
        )
    if not 1 <= tail_blocks < len(blocks):
        raise CrowdlensError(f"tail_blocks must be in [1, {len(blocks) - 1}]. Got {tail_blocks}.")
    return len(blocks) - tail_blocks


def trunk_forward(base: Any, x: torch.Tensor, trunk_blocks: int) -> torch.Tensor:
    """Activations after the stem and the first ``trunk_blocks`` blocks (eval mode)."""
    x = base._swish(base._bn0(base._conv_stem(x)))
    for block in base._blocks[:trunk_blocks]:
        x = block(x)
    return x


def _trunk_module(base: Any, trunk_blocks: int, flat: bool) -> Any:
    import torch

    class Trunk(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base

        def forward(self, inp: torch.Tensor) -> torch.Tensor:
            out = trunk_forward(self.base, inp, trunk_blocks)
            return out.flatten(1) if flat else out

    return Trunk()


def export_trunk(base: Any, trunk_blocks: int, size: int, path: str, *, flat: bool = True) -> str:
    """Export ``trunk_forward`` of ``base`` at ``size`` x ``size`` input to ONNX at ``path``.

    Input ``x`` ``[n, 3, size, size]``; output ``a``: ``[n, C*H*W]`` (``flat``)
    or ``[n, C, H, W]``. Returns ``path``.
    """
    from crowdlens.training.worker_onnx import export_module

    return export_module(_trunk_module(base, trunk_blocks, flat), size, path)


def trunk_activations(backbone: str, trunk_blocks: int, x: np.ndarray) -> np.ndarray:
    """``trunk_forward`` of the pretrained ``backbone`` through ONNX Runtime, ``[n, C*H*W]``.

    The trunk is exported once per Python worker (ONNX Runtime runs these
    depthwise convolutions ~3x faster than torch on CPU, measured here:
    :mod:`crowdlens.training.worker_onnx`).
    """
    from crowdlens.models.registry import get_pretrained_config
    from crowdlens.training.worker_onnx import worker_session

    size = get_pretrained_config(backbone).preprocess.input_size
    sess = worker_session(pretrained_trunk, size, backbone, trunk_blocks)
    return sess.run(None, {"x": np.ascontiguousarray(x, np.float32)})[0]


def pretrained_trunk(backbone: str, trunk_blocks: int) -> Any:
    """The flat trunk module of the pretrained ``backbone`` (what the workers export)."""
    from crowdlens.models.registry import create_model

    base = create_model(backbone, pretrained=True, num_classes=0).eval()
    return _trunk_module(base, trunk_blocks, flat=True)


def _tail_class() -> Any:
    import torch
    from torch import nn

    class Tail(nn.Module):
        """The last blocks + head convolution + pooling + linear classifier, on trunk activations.

        Input: flattened activations ``[n, C*H*W]``. In training, the activation
        map is shifted by up to ``shift`` cells (a cheap stand-in for crops);
        BatchNorm always runs in eval mode.
        """

        def __init__(
            self,
            base: Any,
            trunk_blocks: int,
            shape: tuple[int, int, int],
            num_classes: int,
            *,
            shift: int = 1,
            dropout: float = 0.2,
        ) -> None:
            super().__init__()
            self.shape = tuple(int(s) for s in shape)
            self.blocks = nn.ModuleList(base._blocks[trunk_blocks:])
            self.conv_head, self.bn, self.act = base._conv_head, base._bn1, base._swish
            self.fc = nn.Linear(base._conv_head.out_channels, num_classes)
            self.shift, self.dropout = shift, dropout

        def train(self, mode: bool = True) -> Tail:
            super().train(mode)
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
            return self

        def features(self, x: torch.Tensor) -> torch.Tensor:
            x = x.reshape(-1, *self.shape)
            if self.training and self.shift:
                dy, dx = torch.randint(-self.shift, self.shift + 1, (2,)).tolist()
                x = torch.roll(x, (dy, dx), (2, 3))
            for block in self.blocks:
                x = block(x)
            return self.act(self.bn(self.conv_head(x))).mean((2, 3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.features(x)
            return self.fc(nn.functional.dropout(f, self.dropout, self.training))

    return Tail


def make_tail(*args: Any, **kwargs: Any) -> Any:
    """A ``Tail(base, trunk_blocks, shape, num_classes, *, shift=1, dropout=0.2)`` module.

    The class is defined on first use (torch is imported lazily).
    """
    return _tail_class()(*args, **kwargs)


def pooled_features(tail: Any, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """The tail's pooled features of activations ``x`` ``[n, C*H*W]`` (eval mode, no grad)."""
    import torch

    tail.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(x), batch):
            out.append(tail.features(torch.from_numpy(x[s : s + batch])).numpy())
    return np.concatenate(out) if out else np.zeros((0, tail.fc.in_features), np.float32)


def tail_logits(tail: Any, views: list[np.ndarray], batch: int = 256) -> np.ndarray:
    """Logits of the mean of the views' pooled features (flip TTA), ``[n, classes]``."""
    import torch

    feats = np.mean([pooled_features(tail, v, batch) for v in views], axis=0)
    with torch.no_grad():
        return tail.fc(torch.from_numpy(feats.astype(np.float32))).numpy()


def set_linear(fc: Any, weight: np.ndarray, bias: np.ndarray) -> None:
    """Copy ``weight`` ``[C, d]`` and ``bias`` into a ``Linear``."""
    import torch

    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(np.asarray(weight, np.float32)))
        fc.bias.copy_(torch.from_numpy(np.asarray(bias, np.float32)))


def export_model(base: Any, tail: Any, *, flip: bool = True) -> torch.nn.Module:
    """The whole network for a bundle: ``base`` with ``tail``'s weights, flip TTA.

    ``forward(x)`` = ``fc(mean(features(x), features(mirror of x)))``, exactly
    what :func:`tail_logits` computes from cached activations.
    """
    from torch import nn

    trunk = len(base._blocks) - len(tail.blocks)
    for i, block in enumerate(tail.blocks):
        base._blocks[trunk + i] = block
    base._conv_head, base._bn1 = tail.conv_head, tail.bn
    base.eval()

    class TailTTA(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base, self.fc = base, tail.fc

        def forward_features(self, x: Any) -> Any:
            f = self.base.forward_features(x)
            return (f + self.base.forward_features(x.flip(3))) / 2 if flip else f

        def forward(self, x: Any) -> Any:
            return self.fc(self.forward_features(x))

        def get_classifier(self) -> nn.Module:
            return self.fc

    model: Any = TailTTA().eval()
    model.pretrained_cfg = base.pretrained_cfg
    model.model_name = getattr(base, "model_name", "efficientnet") + (
        "+tail+flip" if flip else "+tail"
    )
    return model
