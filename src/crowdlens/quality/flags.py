"""Thresholds -> quality flags, each with a one-line explanation by its measure.

Pure functions over a mapping of measure name -> value (the result row's
columns, or :meth:`QualityMeasures.as_dict`), so the stage, the report and the
review UI all explain a flag the same way.

Example::

    m = measure(photo).as_dict()
    flags = quality_flags(m, QualityConfig())          # ["too_dark"]
    explain("too_dark", m, QualityConfig())
    # 'too_dark: mean brightness 0.07 < 0.20 (or dark pixels 83 % > 60 %)'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crowdlens import schema as S
from crowdlens.quality.config import QualityConfig

LOW_RESOLUTION = S.FLAG_LOW_RESOLUTION
BLURRY = S.FLAG_BLURRY
TOO_DARK = S.FLAG_TOO_DARK
TOO_BRIGHT = S.FLAG_TOO_BRIGHT
LOW_CONTRAST = S.FLAG_LOW_CONTRAST
NOISY = S.FLAG_NOISY
LOW_INFORMATION = S.FLAG_LOW_INFORMATION
GRAYSCALE = S.FLAG_GRAYSCALE
ODD_ASPECT_RATIO = S.FLAG_ODD_ASPECT_RATIO
DUPLICATE = S.FLAG_DUPLICATE

# The fixed vocabulary, in the order flags appear in ``quality_flags``.
VOCABULARY = (
    LOW_RESOLUTION,
    BLURRY,
    TOO_DARK,
    TOO_BRIGHT,
    LOW_CONTRAST,
    NOISY,
    LOW_INFORMATION,
    GRAYSCALE,
    ODD_ASPECT_RATIO,
    *S.PROVENANCE_FLAGS,
    DUPLICATE,
    S.FLAG_SHARED_PHOTO,
    S.FLAG_REUSED_PHOTO,
)

# Which result columns explain each flag (for the report and the review UI).
FLAG_MEASURES: dict[str, tuple[str, ...]] = {
    LOW_RESOLUTION: (S.SHORT_SIDE, S.MEGAPIXELS),
    BLURRY: (S.BLUR_EXTENT, S.SHARPNESS, S.EDGE_DENSITY),
    TOO_DARK: (S.BRIGHTNESS, S.DARK_FRACTION),
    TOO_BRIGHT: (S.BRIGHTNESS, S.BRIGHT_FRACTION),
    LOW_CONTRAST: (S.CONTRAST,),
    NOISY: (S.NOISE,),
    LOW_INFORMATION: (S.DETAIL,),
    GRAYSCALE: (S.COLORFULNESS,),
    ODD_ASPECT_RATIO: (S.ASPECT_RATIO,),
    S.FLAG_STALE_CAPTURE: (S.CAPTURE_AGE_DAYS, S.CAPTURED_AT),
    S.FLAG_LOCATION_MISMATCH: (S.GPS_COUNTRY, S.GPS_LAT, S.GPS_LON),
    S.FLAG_EDITED: (S.SOFTWARE,),
    DUPLICATE: (S.DUPLICATE_OF, S.DUPLICATE_KIND, S.DUPLICATE_NOTE),
    S.FLAG_SHARED_PHOTO: (S.DUPLICATE_NOTE,),
    S.FLAG_REUSED_PHOTO: (S.DUPLICATE_NOTE,),
}


def is_low_resolution(m: Mapping[str, Any], cfg: QualityConfig) -> bool:
    return m[S.SHORT_SIDE] < cfg.min_short_side or (
        cfg.min_megapixels > 0 and m[S.MEGAPIXELS] < cfg.min_megapixels
    )


def is_low_information(m: Mapping[str, Any], cfg: QualityConfig) -> bool:
    return cfg.detail_min is not None and _known(m, S.DETAIL) and m[S.DETAIL] < cfg.detail_min


def is_grayscale(m: Mapping[str, Any], cfg: QualityConfig) -> bool:
    # A frame with nothing in it (a grey floor) is low_information; its colour says no more.
    return (
        not is_low_information(m, cfg)
        and cfg.colorfulness_max is not None
        and _known(m, S.COLORFULNESS)
        and m[S.COLORFULNESS] < cfg.colorfulness_max
    )


def is_odd_aspect_ratio(m: Mapping[str, Any], cfg: QualityConfig) -> bool:
    return (
        cfg.aspect_ratio_max is not None
        and _known(m, S.ASPECT_RATIO)
        and m[S.ASPECT_RATIO] > cfg.aspect_ratio_max
    )


def _known(m: Mapping[str, Any], name: str) -> bool:
    """The measure is there (rows measured before it existed lack it)."""
    v = m.get(name)
    return v is not None and v == v


def is_blurry(m: Mapping[str, Any], cfg: QualityConfig) -> bool:
    # A photo below the resolution limit is upscaled for measuring, which
    # softens every edge: blur is not judged there (low_resolution says it all).
    # A frame with nothing in it has no edges to judge either.
    if is_low_resolution(m, cfg) or is_low_information(m, cfg):
        return False
    if m[S.BLUR_EXTENT] > cfg.blur_extent_max:
        return True
    return cfg.sharpness_min is not None and m[S.SHARPNESS] < cfg.sharpness_min


def is_too_dark(m: Mapping[str, Any], cfg: QualityConfig) -> bool:
    return m[S.BRIGHTNESS] < cfg.brightness_min or m[S.DARK_FRACTION] > cfg.dark_fraction_max


def is_too_bright(m: Mapping[str, Any], cfg: QualityConfig) -> bool:
    return m[S.BRIGHTNESS] > cfg.brightness_max or m[S.BRIGHT_FRACTION] > cfg.bright_fraction_max


def is_low_contrast(m: Mapping[str, Any], cfg: QualityConfig) -> bool:
    return cfg.contrast_min is not None and m[S.CONTRAST] < cfg.contrast_min


def is_noisy(m: Mapping[str, Any], cfg: QualityConfig) -> bool:
    return cfg.noise_max is not None and m[S.NOISE] > cfg.noise_max


_RULES = (
    (LOW_RESOLUTION, is_low_resolution),
    (BLURRY, is_blurry),
    (TOO_DARK, is_too_dark),
    (TOO_BRIGHT, is_too_bright),
    (LOW_CONTRAST, is_low_contrast),
    (NOISY, is_noisy),
    (LOW_INFORMATION, is_low_information),
    (GRAYSCALE, is_grayscale),
    (ODD_ASPECT_RATIO, is_odd_aspect_ratio),
)


def quality_flags(m: Mapping[str, Any], cfg: QualityConfig) -> list[str]:
    """The per-photo image flags (not provenance, not duplicates), in vocabulary order.

    >>> m = {S.SHORT_SIDE: 64, S.MEGAPIXELS: 0.004, S.BLUR_EXTENT: 0.9, S.SHARPNESS: 3.0,
    ...      S.BRIGHTNESS: 0.5, S.DARK_FRACTION: 0.0, S.BRIGHT_FRACTION: 0.0,
    ...      S.CONTRAST: 0.2, S.NOISE: 1.0}
    >>> quality_flags(m, QualityConfig())
    ['low_resolution']
    """
    return [flag for flag, rule in _RULES if rule(m, cfg)]


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def explain(flag: str, m: Mapping[str, Any], cfg: QualityConfig) -> str:
    """One line saying which measure raised ``flag`` and against which threshold."""
    if flag == LOW_RESOLUTION:
        return (
            f"low_resolution: short side {m[S.SHORT_SIDE]} px < {cfg.min_short_side} px"
            if m[S.SHORT_SIDE] < cfg.min_short_side
            else f"low_resolution: {m[S.MEGAPIXELS]:.2f} MP < {cfg.min_megapixels:.2f} MP"
        )
    if flag == BLURRY:
        if m[S.BLUR_EXTENT] > cfg.blur_extent_max:
            return (
                f"blurry: blur extent {m[S.BLUR_EXTENT]:.2f} > {cfg.blur_extent_max:.2f} "
                f"(Laplacian sharpness {m[S.SHARPNESS]:.0f})"
            )
        return f"blurry: Laplacian sharpness {m[S.SHARPNESS]:.0f} < {cfg.sharpness_min}"
    if flag == TOO_DARK:
        if m[S.BRIGHTNESS] < cfg.brightness_min:
            return f"too_dark: mean brightness {m[S.BRIGHTNESS]:.2f} < {cfg.brightness_min:.2f}"
        return (
            f"too_dark: {_pct(m[S.DARK_FRACTION])} of pixels are black "
            f"(> {_pct(cfg.dark_fraction_max)})"
        )
    if flag == TOO_BRIGHT:
        if m[S.BRIGHTNESS] > cfg.brightness_max:
            return f"too_bright: mean brightness {m[S.BRIGHTNESS]:.2f} > {cfg.brightness_max:.2f}"
        return (
            f"too_bright: {_pct(m[S.BRIGHT_FRACTION])} of pixels are blown white "
            f"(> {_pct(cfg.bright_fraction_max)})"
        )
    if flag == LOW_CONTRAST:
        return f"low_contrast: RMS contrast {m[S.CONTRAST]:.3f} < {cfg.contrast_min}"
    if flag == NOISY:
        return f"noisy: noise {m[S.NOISE]:.1f} grey levels > {cfg.noise_max}"
    if flag == LOW_INFORMATION:
        return (
            f"low_information: detail {m[S.DETAIL]:.3f} < {cfg.detail_min} "
            "(a near-uniform frame: pocket, floor, lens cap)"
        )
    if flag == GRAYSCALE:
        return f"grayscale: colorfulness {m[S.COLORFULNESS]:.3f} < {cfg.colorfulness_max}"
    if flag == ODD_ASPECT_RATIO:
        return (
            f"odd_aspect_ratio: {m[S.ASPECT_RATIO]:.2f}:1 > {cfg.aspect_ratio_max}:1 "
            "(a screenshot, a panorama or a strip)"
        )
    if flag in S.PROVENANCE_FLAGS:
        from crowdlens.quality.provenance import explain_provenance

        return explain_provenance(flag, m, cfg)
    if flag in (S.FLAG_SHARED_PHOTO, S.FLAG_REUSED_PHOTO) and m.get(S.DUPLICATE_NOTE):
        return f"{flag}: {m[S.DUPLICATE_NOTE]}"
    if flag in (DUPLICATE, S.FLAG_SHARED_PHOTO, S.FLAG_REUSED_PHOTO):
        kind = m.get(S.DUPLICATE_KIND) or S.DUPLICATE_NEAR
        return f"{flag}: {kind.replace('_', ' ')} copy of {m.get(S.DUPLICATE_OF)}"
    raise ValueError(f"unknown quality flag {flag!r}; known flags: {', '.join(VOCABULARY)}")
