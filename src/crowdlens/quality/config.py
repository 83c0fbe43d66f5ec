"""QualityConfig: the quality stage's switches and calibrated thresholds.

Defaults were calibrated on the grocery-store photos plus synthetic
distortions (see docs/quality.md and ``benchmarks/quality.py``). In a config
file they live in the ``[quality]`` table::

    [quality]
    blur_extent_max = 0.72
    contributor_column = "contributor"
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from crowdlens import schema as S
from crowdlens.params import Each, Interval, NonEmpty, Options, OrNone, Params, Rule, validate
from crowdlens.quality.hashing import HASH_BITS

HASH_BAND_CHOICES = (2, 4, 8, 16)
# Probe keys per band above which near-duplicate search would explode (load-time check).
MAX_PROBES = 4096
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

    PARAMS: ClassVar[Params] = {
        "analysis_size": Interval(int, 32, 4096),
        "sharpness_min": OrNone(Interval(float, 0, None)),
        "blur_extent_max": Interval(float, 0, 1, closed="right"),
        "brightness_min": Interval(float, 0, 1),
        "brightness_max": Interval(float, 0, 1),
        "dark_fraction_max": Interval(float, 0, 1),
        "bright_fraction_max": Interval(float, 0, 1),
        "dark_level": Interval(int, 0, 255),
        "bright_level": Interval(int, 0, 255),
        "min_short_side": Interval(int, 0, None),
        "min_megapixels": Interval(float, 0, None),
        "contrast_min": OrNone(Interval(float, 0, 0.5)),
        "noise_max": OrNone(Interval(float, 0, None, closed="neither"), ""),
        "detail_min": OrNone(Interval(float, 0, 1)),
        "colorfulness_max": OrNone(Interval(float, 0, 1)),
        "aspect_ratio_max": OrNone(Interval(float, 1, 100)),
        "gps_decimals": Interval(int, 0, 6),
        "stale_days": OrNone(Interval(float, 0, None)),
        "location_tolerance_km": Interval(float, 0, None),
        "submitted_at_column": NonEmpty("column name"),
        "country_column": NonEmpty("column name"),
        "editing_software": Each(NonEmpty(), "a list of non-empty application names"),
        "hash_distance": Interval(int, 0, HASH_BITS // 2),
        "hash_bands": Options(
            HASH_BAND_CHOICES, note="the 64-bit hash is cut into that many equal bands"
        ),
        "contributor_column": NonEmpty("column name"),
        "order_column": NonEmpty("column name"),
    }

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "brightness_max",
            lambda c: c.brightness_max > c.brightness_min,
            "a float greater than brightness_min",
        ),
        Rule(
            "hash_distance",
            lambda c: c.probe_keys <= MAX_PROBES,
            f"small enough for hash_bands: at most {MAX_PROBES} probe keys per band "
            "(raise quality.hash_bands to 8 or 16, or lower quality.hash_distance)",
        ),
    )

    def __post_init__(self) -> None:
        validate(self)

    @property
    def probe_keys(self) -> int:
        """Hash keys probed per band: every mask of ``band_radius`` bits or fewer."""
        bits = HASH_BITS // self.hash_bands
        return sum(math.comb(bits, k) for k in range(min(self.band_radius, bits) + 1))

    @property
    def band_radius(self) -> int:
        """Bit errors probed per band: a pair within ``hash_distance`` has a band this close.

        Pigeonhole: if two hashes differ in at most d bits spread over b
        bands, some band differs in at most floor(d / b) bits, so probing that
        radius finds every such pair (no false negatives).
        """
        return self.hash_distance // self.hash_bands
