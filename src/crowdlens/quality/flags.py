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

LOW_RESOLUTION = "low_resolution"
BLURRY = "blurry"
TOO_DARK = "too_dark"
TOO_BRIGHT = "too_bright"
LOW_CONTRAST = "low_contrast"
NOISY = "noisy"
DUPLICATE = "duplicate"

# The fixed vocabulary, in the order flags appear in ``quality_flags``.
VOCABULARY = (LOW_RESOLUTION, BLURRY, TOO_DARK, TOO_BRIGHT, LOW_CONTRAST, NOISY, DUPLICATE)

# Which result columns explain each flag (for the report and the review UI).
FLAG_MEASURES: dict[str, tuple[str, ...]] = {
    LOW_RESOLUTION: (S.SHORT_SIDE, S.MEGAPIXELS),
    BLURRY: (S.BLUR_EXTENT, S.SHARPNESS, S.EDGE_DENSITY),
    TOO_DARK: (S.BRIGHTNESS, S.DARK_FRACTION),
    TOO_BRIGHT: (S.BRIGHTNESS, S.BRIGHT_FRACTION),
    LOW_CONTRAST: (S.CONTRAST,),
    NOISY: (S.NOISE,),
    DUPLICATE: (S.DUPLICATE_OF, S.DUPLICATE_KIND),
}


def is_low_resolution(m: Mapping[str, Any], cfg: QualityConfig) -> bool:
    return m[S.SHORT_SIDE] < cfg.min_short_side or (
        cfg.min_megapixels > 0 and m[S.MEGAPIXELS] < cfg.min_megapixels
    )


def is_blurry(m: Mapping[str, Any], cfg: QualityConfig) -> bool:
    # A photo below the resolution limit is upscaled for measuring, which
    # softens every edge: blur is not judged there (low_resolution says it all).
    if is_low_resolution(m, cfg):
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
)


def quality_flags(m: Mapping[str, Any], cfg: QualityConfig) -> list[str]:
    """The per-photo flags (everything but ``duplicate``), in vocabulary order.

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
    if flag == DUPLICATE:
        kind = m.get(S.DUPLICATE_KIND) or "near"
        return f"duplicate: {kind.replace('_', ' ')} copy of {m.get(S.DUPLICATE_OF)}"
    raise ValueError(f"unknown quality flag {flag!r}; known flags: {', '.join(VOCABULARY)}")
