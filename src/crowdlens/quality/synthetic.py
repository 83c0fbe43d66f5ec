"""Synthetic distortions of clean photos, for calibration, benchmarks and tests.

Each function takes an RGB PIL image and a ``numpy.random.Generator`` and
returns a new image (the input is never modified), with strengths drawn from
ranges that a person would call clearly blurred / dark / blown out / tiny.
Ranges are relative to the photo's size so they mean the same on any photo.

Example::

    rng = np.random.default_rng(0)
    dark = DISTORTIONS["too_dark"](photo, rng)
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image


def gaussian_blur(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Out of focus: Gaussian sigma 0.7-1.5 % of the short side (2.4-5 px at 348 px)."""
    from PIL import ImageFilter

    sigma = rng.uniform(0.007, 0.015) * min(image.size)
    return image.filter(ImageFilter.GaussianBlur(sigma))


def motion_blur(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Camera shake: a line kernel 3.5-7 % of the short side long, at a random angle."""
    import cv2
    from PIL import Image

    length = max(3, round(rng.uniform(0.035, 0.07) * min(image.size)))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    centre = ((length - 1) / 2.0, (length - 1) / 2.0)
    rot = cv2.getRotationMatrix2D(centre, float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    kernel /= kernel.sum()
    arr = cv2.filter2D(np.asarray(image.convert("RGB")), -1, kernel)
    return Image.fromarray(arr)


def underexpose(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A dark shop corner without flash: gain 0.12-0.3 and a gamma that crushes shadows."""
    from PIL import Image

    x = np.asarray(image.convert("RGB"), np.float32) / 255.0
    y = rng.uniform(0.12, 0.3) * x ** rng.uniform(1.1, 1.6)
    return Image.fromarray(np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8))


def overexpose(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Blown out by a window or flash: gain 2-3.5 plus a lift, clipped at white."""
    from PIL import Image

    x = np.asarray(image.convert("RGB"), np.float32) / 255.0
    y = x * rng.uniform(2.0, 3.5) + rng.uniform(0.05, 0.2)
    return Image.fromarray(np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8))


def downscale(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A thumbnail: short side 32-96 px (below the 100 px default)."""
    from PIL import Image

    short = int(rng.integers(32, 97))
    w, h = image.size
    scale = short / min(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def near_copy(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A re-submitted copy: cropped 1-5 % per side, resized to 50-90 %, re-encoded as JPEG 55-85."""
    from PIL import Image

    w, h = image.size
    left, top, right, bottom = (rng.uniform(0.01, 0.05) for _ in range(4))
    box = (round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom)))
    cropped = image.convert("RGB").crop(box)
    scale = rng.uniform(0.5, 0.9)
    size = (max(1, round(cropped.width * scale)), max(1, round(cropped.height * scale)))
    resized = cropped.resize(size, Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    resized.save(buf, format="JPEG", quality=int(rng.integers(55, 86)))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


Distortion = Callable[["Image.Image", np.random.Generator], "Image.Image"]

# Distortion name -> (function, the flag it must raise).
DISTORTIONS: dict[str, tuple[Distortion, str]] = {
    "gaussian_blur": (gaussian_blur, "blurry"),
    "motion_blur": (motion_blur, "blurry"),
    "underexposed": (underexpose, "too_dark"),
    "overexposed": (overexpose, "too_bright"),
    "downscaled": (downscale, "low_resolution"),
    "near_copy": (near_copy, "duplicate"),
}


def jpeg_bytes(image: Image.Image, quality: int = 92) -> bytes:
    """Encode ``image`` as JPEG bytes (what a phone would upload)."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
