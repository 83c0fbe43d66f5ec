"""Pure quality measures of one photo (numpy/OpenCV, no Spark).

Every measure except resolution is taken on a grayscale copy resized so that
its long side is ``analysis_size`` pixels (512 by default), so the thresholds
in :class:`~crowdlens.quality.config.QualityConfig` mean the same thing for a
348-pixel crop and a 12-megapixel phone photo. Resolution is measured on the
true decoded size.

Example::

    from crowdlens.decode import decode_image
    m = measure(decode_image(data).image)
    m.sharpness, m.blur_extent, m.brightness
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

DEFAULT_ANALYSIS_SIZE = 512
# Luma at or below this is "crushed black", at or above "blown white" (8-bit).
DEFAULT_DARK_LEVEL = 16
DEFAULT_BRIGHT_LEVEL = 245
# Length of the re-blur filter of the blur-extent measure (Crete et al. 2007).
REBLUR_LENGTH = 9


@dataclass(frozen=True)
class QualityMeasures:
    """What is measured on one photo; every value is a plain float/int."""

    sharpness: float  # variance of the Laplacian (texture-dependent)
    blur_extent: float  # 0 = crisp edges .. 1 = fully blurred (texture-independent)
    edge_density: float  # fraction of pixels on Canny edges
    brightness: float  # mean luma, 0..1
    dark_fraction: float  # share of pixels at or below the dark level
    bright_fraction: float  # share of pixels at or above the bright level
    contrast: float  # RMS contrast: standard deviation of luma, 0..1
    noise: float  # estimated noise standard deviation, in 8-bit grey levels
    megapixels: float  # true size
    short_side: int  # true size
    detail: float  # thumbnail structure over exposure headroom (0 = flat frame)
    colorfulness: float  # 95th percentile of per-pixel saturation, 0 (grey) .. 1
    aspect_ratio: float  # long side / short side, true size

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def to_gray(image: Image.Image | np.ndarray, size: int = DEFAULT_ANALYSIS_SIZE) -> np.ndarray:
    """8-bit luma of ``image`` resized so that its long side is ``size``.

    Downscaling uses area averaging (no aliasing); small photos are upscaled
    bilinearly so that every measure sees the same pixel grid.

    >>> to_gray(np.zeros((100, 50, 3), np.uint8), size=64).shape
    (64, 32)
    """
    import cv2

    arr = np.asarray(image)
    if arr.ndim == 3:
        arr = cv2.cvtColor(np.ascontiguousarray(arr[..., :3]), cv2.COLOR_RGB2GRAY)
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    h, w = arr.shape
    scale = size / max(h, w)
    if scale == 1:
        return arr
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(arr, new, interpolation=interp)


def laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the Laplacian: high for crisp texture, low for blur *and* for smooth subjects."""
    import cv2

    return float(cv2.Laplacian(gray.astype(np.float32), cv2.CV_32F, ksize=3).var())


def _diff(a: np.ndarray, direction: int) -> np.ndarray:
    """Absolute neighbour differences along 0°, 90°, 45° or 135°."""
    if direction == 0:
        return np.abs(a[:, 1:] - a[:, :-1])
    if direction == 1:
        return np.abs(a[1:, :] - a[:-1, :])
    if direction == 2:
        return np.abs(a[1:, 1:] - a[:-1, :-1])
    return np.abs(a[1:, :-1] - a[:-1, 1:])


def blur_extent(gray: np.ndarray, length: int = REBLUR_LENGTH) -> float:
    """How much of the photo's edge contrast is already gone, 0 (crisp) .. 1 (blurred).

    The no-reference metric of Crete et al. (2007): blur the photo again with
    a box filter and measure how much neighbour-pixel variation that removes.
    A sharp photo loses much, a blurred one almost nothing. Being a ratio of
    variations it does not depend on contrast or on how much texture the
    subject has, so a white egg on a white plate is not called blurry. It is
    taken along four directions and the worst is kept, because motion blur
    only softens edges across the direction of motion.

    >>> rng = np.random.default_rng(0)
    >>> blur_extent(rng.integers(0, 255, (64, 64)).astype(np.uint8)) < 0.5
    True
    """
    import cv2

    g = gray.astype(np.float32)
    line = np.ones(length, np.float32) / length
    kernels = (
        line[None, :],
        line[:, None],
        np.diag(line),
        np.fliplr(np.diag(line)),
    )
    worst = 0.0
    for direction, kernel in enumerate(kernels):
        reblurred = cv2.filter2D(g, -1, np.ascontiguousarray(kernel), borderType=cv2.BORDER_REFLECT)
        d_orig = _diff(g, direction)
        total = float(d_orig.sum())
        if total <= 0:  # a flat image has no edges to judge
            continue
        lost = np.maximum(0.0, d_orig - _diff(reblurred, direction)).sum()
        worst = max(worst, (total - float(lost)) / total)
    return worst


def edge_density(gray: np.ndarray) -> float:
    """Fraction of pixels on Canny edges (thresholds relative to the median grey).

    Low for blurred photos and for smooth, low-texture subjects alike: it is
    reported to explain a low ``sharpness``, not used to flag on its own.
    """
    import cv2

    med = float(np.median(gray))
    lo, hi = int(max(0, 0.66 * med)), int(min(255, 1.33 * med))
    edges = cv2.Canny(gray, max(lo, 10), max(hi, 30))
    return float(np.count_nonzero(edges)) / edges.size


def exposure(
    gray: np.ndarray, dark_level: int = DEFAULT_DARK_LEVEL, bright_level: int = DEFAULT_BRIGHT_LEVEL
) -> tuple[float, float, float]:
    """``(brightness, dark_fraction, bright_fraction)``: mean luma 0..1 and clipped shares."""
    n = gray.size
    return (
        float(gray.mean()) / 255.0,
        float(np.count_nonzero(gray <= dark_level)) / n,
        float(np.count_nonzero(gray >= bright_level)) / n,
    )


def rms_contrast(gray: np.ndarray) -> float:
    """Standard deviation of luma, 0..1 (0.5 is the most a photo can have)."""
    return float(gray.std()) / 255.0


def noise_sigma(gray: np.ndarray) -> float:
    """Noise standard deviation in grey levels (Immerkær 1996, fast estimate).

    A 3x3 operator that cancels locally linear image structure leaves mostly
    noise; edges are excluded so strong texture is not mistaken for noise.
    """
    import cv2

    g = gray.astype(np.float32)
    if min(g.shape) < 3:
        return 0.0
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = np.abs(cv2.filter2D(g, -1, kernel)[1:-1, 1:-1])
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0)[1:-1, 1:-1]
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1)[1:-1, 1:-1]
    mag = np.hypot(gx, gy)
    flat = mag <= np.percentile(mag, 90)  # drop the strongest 10 % of edges
    if not flat.any():
        return 0.0
    return float(np.sqrt(np.pi / 2.0) * response[flat].mean() / 6.0)


# Structure is judged on a 32x32 thumbnail: area averaging removes sensor noise,
# which would otherwise look like detail in a frame with nothing in it.
DETAIL_THUMB = 32
# Luma headroom below which a frame is not darker/brighter "relative" (8-bit levels).
DETAIL_FLOOR = 16.0


def detail(gray: np.ndarray, thumb: int = DETAIL_THUMB) -> float:
    """How much the frame shows: mean neighbour step on a thumbnail over the exposure headroom.

    The mean absolute luma difference between neighbouring pixels of a
    ``thumb`` x ``thumb`` area-averaged thumbnail, divided by the distance of
    the mean luma to black or to white (whichever is nearer, at least 16
    levels). Dividing makes it exposure-invariant: an under-exposed shelf
    keeps its structure (and is ``too_dark``, not ``low_information``), a
    blown-out one too, while the inside of a pocket, the floor or a lens cap
    have almost none. Calibrated values: clean grocery photos 0.10-0.33,
    synthetic featureless frames 0-0.05.

    >>> detail(np.full((64, 64), 120, np.uint8))
    0.0
    """
    import cv2

    t = cv2.resize(gray, (thumb, thumb), interpolation=cv2.INTER_AREA).astype(np.float32)
    step = (np.abs(np.diff(t, axis=0)).mean() + np.abs(np.diff(t, axis=1)).mean()) / 2.0
    mean = float(t.mean())
    return float(step) / max(min(mean, 255.0 - mean), DETAIL_FLOOR)


# Colour is judged on a thumbnail: chroma needs no detail, and it keeps the cost flat.
COLOR_THUMB = 64
COLOR_FLOOR = 32.0  # 8-bit level below which a pixel's hue is noise


def colorfulness(image: Image.Image | np.ndarray, thumb: int = COLOR_THUMB) -> float:
    """95th percentile of per-pixel saturation on a thumbnail, 0 (grey) .. 1.

    Saturation is ``(max - min) / max`` of R, G, B (HSV's), with ``max``
    floored at 32 so the colour noise of dark pixels does not count and an
    under-exposed photo keeps its colour. A percentile, not the mean, so a grey
    shelf with one coloured label still counts as a colour photo. Calibrated:
    clean grocery photos 0.51-1.0, grey photos (even with a 1.5 % tint and
    JPEG chroma noise) 0-0.07, under-exposed 0.25+.

    >>> colorfulness(np.full((10, 10, 3), 90, np.uint8))
    0.0
    """
    import cv2

    arr = np.asarray(image)
    if arr.ndim == 2:
        return 0.0
    arr = np.ascontiguousarray(arr[..., :3])
    h, w = arr.shape[:2]
    scale = thumb / max(h, w)
    if scale < 1:
        new = (max(1, round(w * scale)), max(1, round(h * scale)))
        arr = cv2.resize(arr, new, interpolation=cv2.INTER_AREA)
    hi = arr.max(axis=2).astype(np.float32)
    chroma = hi - arr.min(axis=2)
    return float(np.percentile(chroma / np.maximum(hi, COLOR_FLOOR), 95))


def aspect_ratio(width: int, height: int) -> float:
    """Long side over short side (1.0 = square, 1.78 = 16:9, 2.17 = a 19.5:9 phone screen).

    >>> aspect_ratio(1080, 2340)
    2.1666666666666665
    """
    return max(width, height) / max(1, min(width, height))


def measure(
    image: Image.Image | np.ndarray,
    *,
    width: int | None = None,
    height: int | None = None,
    analysis_size: int = DEFAULT_ANALYSIS_SIZE,
    dark_level: int = DEFAULT_DARK_LEVEL,
    bright_level: int = DEFAULT_BRIGHT_LEVEL,
) -> QualityMeasures:
    """All measures of one RGB photo.

    ``width``/``height`` are the photo's true size (after EXIF rotation);
    pass them when ``image`` was decoded at reduced size (JPEG draft mode),
    otherwise the image's own size is used.

    >>> m = measure(np.full((300, 400, 3), 128, np.uint8))
    >>> (m.short_side, round(m.brightness, 2), m.dark_fraction)
    (300, 0.5, 0.0)
    """
    arr = np.asarray(image)
    h, w = arr.shape[:2]
    width, height = width or w, height or h
    gray = to_gray(arr, analysis_size)
    brightness, dark, bright = exposure(gray, dark_level, bright_level)
    return QualityMeasures(
        sharpness=laplacian_variance(gray),
        blur_extent=blur_extent(gray),
        edge_density=edge_density(gray),
        brightness=brightness,
        dark_fraction=dark,
        bright_fraction=bright,
        contrast=rms_contrast(gray),
        noise=noise_sigma(gray),
        megapixels=width * height / 1e6,
        short_side=int(min(width, height)),
        detail=detail(gray),
        colorfulness=colorfulness(arr),
        aspect_ratio=aspect_ratio(width, height),
    )
