"""Real pretrained bundles, exported once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

IMAGENET_PHOTOS = Path(__file__).resolve().parents[1] / "data" / "imagenet"


@pytest.fixture(scope="session")
def mobilenet_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pretrained MobileNetV2 ImageNet head as a bundle (about 3 s to export)."""
    from crowdlens.models.export import export_bundle
    from crowdlens.models.registry import create_model

    model = create_model("mobilenet_v2")
    out = tmp_path_factory.mktemp("bundles") / "mobilenet_v2"
    export_bundle(model, model.pretrained_cfg, out, labels=model.pretrained_cfg.labels)
    return out


@pytest.fixture(scope="session")
def lite0_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pretrained EfficientNet-Lite0 ImageNet head as a bundle (about 6 s to export)."""
    from crowdlens.models.export import export_bundle
    from crowdlens.models.registry import create_model

    model = create_model("efficientnet_lite0")
    out = tmp_path_factory.mktemp("bundles") / "efficientnet_lite0"
    export_bundle(model, model.pretrained_cfg, out, labels=model.pretrained_cfg.labels)
    return out


@pytest.fixture(scope="session")
def photo_bytes() -> dict[str, bytes]:
    """The checked-in real photos, by ImageNet class name."""
    return {p.stem: p.read_bytes() for p in sorted(IMAGENET_PHOTOS.glob("*.jpg"))}
