"""Where bundles come from: a path on disk, or a registry name exported once and cached.

Kept apart from the bundle format (:mod:`crowdlens.models.bundle`) as timm
keeps its hub apart from its model code: the format does not know about
exporting, and exporting does not know about caches.

Example::

    resolve_bundle("efficientnet_lite0").labels[950]   # 'orange'
    resolve_bundle("models/grocery")                    # a trained bundle
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from crowdlens.models.bundle import META_FILE, Bundle, BundleError, load_bundle

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where bundles exported on demand from registry names are kept."""
    root = os.environ.get("CROWDLENS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "crowdlens"
    )
    return Path(root) / "bundles"


def resolve_bundle(model: str | Path) -> Bundle:
    """A bundle path, or a registry name (pretrained ImageNet bundle, exported once and cached).

    Example::

        resolve_bundle("efficientnet_lite0").labels[950]   # 'orange'
        resolve_bundle("models/grocery")                    # a trained bundle
    """
    p = Path(model)
    if p.exists():
        return load_bundle(p)
    from crowdlens.models.registry import create_model, list_models

    name = str(model)
    if name not in list_models():
        raise BundleError(
            f"{name!r} is neither a bundle directory nor a model name. "
            f"Model names: {', '.join(list_models())}."
        )
    target = cache_dir() / name
    if (target / META_FILE).is_file():
        return load_bundle(target)
    from crowdlens.models.export import export_bundle

    net = create_model(name, pretrained=True)
    log.info("exporting the pretrained %s bundle once to %s", name, target)
    return export_bundle(net, net.pretrained_cfg, target, labels=net.pretrained_cfg.labels)
