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
# Applications whose name in EXIF Software means the photo was edited (case-insensitive
# substrings). Phone camera firmware writes its own version there, which is not editing.
EDITING_SOFTWARE = (
    "photoshop",
    "lightroom",
    "gimp",
    "snapseed",
    "picsart",
    "facetune",
    "pixelmator",
    "affinity photo",
    "canva",
    "vsco",
    "airbrush",
    "meitu",
    "photoscape",
    "paint.net",
    "photodirector",
    "picmonkey",
    "fotor",
)


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
    # low_information: detail < detail_min (a frame with nothing in it).
    detail_min: float | None = 0.045
    # grayscale: colorfulness < colorfulness_max (no colour anywhere).
    colorfulness_max: float | None = 0.15
    # odd_aspect_ratio: long / short side > aspect_ratio_max (16:9 is 1.78; 19.5:9 screens 2.17).
    aspect_ratio_max: float | None = 1.9
    # Provenance (EXIF, read by the decode stage before anything is stripped).
    gps_decimals: int = 3  # 3 decimals ~ 110 m; 2 ~ 1.1 km
    submitted_at_column: str = S.SUBMITTED_AT  # stale_capture needs it in the manifest
    stale_days: float | None = 30.0  # stale_capture: captured more than this before submission
    country_column: str = S.COUNTRY  # location_mismatch needs it (English name or ISO code)
    location_tolerance_km: float = 10.0  # GPS error and coastlines: no flag this close
    editing_software: tuple[str, ...] = EDITING_SOFTWARE  # edited: EXIF Software contains one
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
        for name, lo, hi in (
            ("detail_min", 0.0, 1.0),
            ("colorfulness_max", 0.0, 1.0),
            ("aspect_ratio_max", 1.0, 100.0),
        ):
            value = getattr(self, name)
            check(
                self,
                name,
                value is None or lo <= value <= hi,
                f"a float in [{lo:g}, {hi:g}] or None (off)",
            )
        check(self, "gps_decimals", 0 <= self.gps_decimals <= 6, "an int in [0, 6]")
        check(
            self,
            "stale_days",
            self.stale_days is None or self.stale_days >= 0,
            "a float >= 0 or None (off)",
        )
        check(self, "location_tolerance_km", self.location_tolerance_km >= 0, "a float >= 0")
        for name in ("submitted_at_column", "country_column"):
            check(self, name, bool(getattr(self, name)), "a non-empty column name")
        check(
            self,
            "editing_software",
            isinstance(self.editing_software, tuple)
            and all(isinstance(v, str) and v for v in self.editing_software),
            "a list of non-empty application names",
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
