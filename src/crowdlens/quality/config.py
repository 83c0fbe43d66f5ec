"""QualityConfig: the quality stage's switches and calibrated thresholds.

Defaults were calibrated on the grocery-store photos plus synthetic
distortions (see docs/quality.md and ``benchmarks/quality.py``). In a config
file they live in the ``[quality]`` table::

    [quality]
    blur_extent_max = 0.72
    contributor_column = "contributor"
"""

from __future__ import annotations

from dataclasses import dataclass

from crowdlens import schema as S
from crowdlens.config import check

HASH_BAND_CHOICES = (2, 4, 8, 16)


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds and switches of ``quality_stage`` and ``duplicates_stage``.

    A flag is raised when its measure crosses its threshold; set an optional
    threshold to ``None`` to switch that flag off.

    Example::

        cfg = QualityConfig(min_short_side=200, hash_distance=6)
        df = duplicates_stage(quality_stage(df, cfg), cfg)
    """

    enabled: bool = True
    # Measures are taken with the long side resized to this many pixels.
    analysis_size: int = 512
    # blurry: blur_extent > blur_extent_max (OR sharpness < sharpness_min when set;
    # off by default because the Laplacian also punishes dark and smooth photos).
    blur_extent_max: float = 0.70
    sharpness_min: float | None = None
    # too_dark: brightness < brightness_min OR dark_fraction > dark_fraction_max.
    brightness_min: float = 0.17
    dark_fraction_max: float = 0.50
    # too_bright: brightness > brightness_max OR bright_fraction > bright_fraction_max.
    brightness_max: float = 0.60
    bright_fraction_max: float = 0.15
    # 8-bit luma levels that count as crushed black / blown white.
    dark_level: int = 16
    bright_level: int = 245
    # low_resolution: true short side < min_short_side OR megapixels < min_megapixels.
    min_short_side: int = 100
    min_megapixels: float = 0.0
    # Off by default: not calibrated to the F1 goal (see docs/quality.md).
    contrast_min: float | None = None
    noise_max: float | None = None
    # Duplicates.
    duplicates: bool = True
    hash_distance: int = 10
    hash_bands: int = 4
    contributor_column: str = "contributor"
    order_column: str = S.ROW_NUMBER

    def __post_init__(self) -> None:
        check(self, "analysis_size", 32 <= self.analysis_size <= 4096, "an int in [32, 4096]")
        check(
            self,
            "sharpness_min",
            self.sharpness_min is None or self.sharpness_min >= 0,
            "a float >= 0 or None (off)",
        )
        check(self, "blur_extent_max", 0 < self.blur_extent_max <= 1, "a float in (0, 1]")
        for name in (
            "brightness_min",
            "brightness_max",
            "dark_fraction_max",
            "bright_fraction_max",
        ):
            check(self, name, 0 <= getattr(self, name) <= 1, "a float in [0, 1]")
        check(
            self,
            "brightness_max",
            self.brightness_max > self.brightness_min,
            f"a float greater than brightness_min ({self.brightness_min})",
        )
        for name in ("dark_level", "bright_level"):
            check(self, name, 0 <= getattr(self, name) <= 255, "an int in [0, 255]")
        check(self, "min_short_side", self.min_short_side >= 0, "an int >= 0")
        check(self, "min_megapixels", self.min_megapixels >= 0, "a float >= 0")
        check(
            self,
            "contrast_min",
            self.contrast_min is None or 0 <= self.contrast_min <= 0.5,
            "a float in [0, 0.5] or None (off)",
        )
        check(
            self, "noise_max", self.noise_max is None or self.noise_max > 0, "a float > 0 or None"
        )
        check(self, "hash_distance", 0 <= self.hash_distance <= 32, "an int in [0, 32]")
        check(
            self,
            "hash_bands",
            self.hash_bands in HASH_BAND_CHOICES,
            f"one of {', '.join(map(str, HASH_BAND_CHOICES))} (the 64-bit hash is cut "
            "into that many equal bands)",
        )
        check(self, "contributor_column", bool(self.contributor_column), "a non-empty column name")
        check(self, "order_column", bool(self.order_column), "a non-empty column name")

    @property
    def band_radius(self) -> int:
        """Bit errors probed per band: a pair within ``hash_distance`` has a band this close.

        Pigeonhole: if two hashes differ in at most d bits spread over b
        bands, some band differs in at most floor(d / b) bits, so probing that
        radius finds every such pair (no false negatives).
        """
        return self.hash_distance // self.hash_bands
