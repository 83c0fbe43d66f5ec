"""The embed stage: pooled backbone features (``embedding``) for every ok photo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crowdlens.models.predict import InferenceConfig
from crowdlens.stages.classify import inference_stage

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame


def embed_stage(
    df: DataFrame, bundle_path: str | Path, cfg: InferenceConfig | None = None
) -> DataFrame:
    """Add ``embedding`` (array<float>, the bundle's ``features`` output).

    Works with ``embed`` and ``classify`` bundles (both carry features).
    Rows whose status is not ``ok`` get a null embedding. To get embeddings
    and predictions in one pass use ``classify_stage(..., embed=True)``.

    Example::

        df = embed_stage(df, "efficientnet_lite0")
        df.select("image_id", "embedding").show()
    """
    return inference_stage(df, bundle_path, cfg, embed=True, classify=False, name="embed")
