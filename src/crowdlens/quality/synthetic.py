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


def _featureless(image: Image.Image, rng: np.random.Generator, level: float) -> Image.Image:
    """A close, out-of-focus frame of one surface at mean luma ``level`` (0..1)."""
    import cv2
    from PIL import Image

    arr = np.asarray(image.convert("RGB"), np.float32)
    h, w = arr.shape[:2]
    side = max(4, round(rng.uniform(0.03, 0.08) * min(h, w)))
    y, x = (int(rng.integers(0, max(1, n - side))) for n in (h, w))
    patch = cv2.resize(arr[y : y + side, x : x + side], (w, h), interpolation=cv2.INTER_CUBIC)
    patch = cv2.GaussianBlur(patch, (0, 0), rng.uniform(0.03, 0.08) * min(h, w))
    mean = patch.mean(axis=(0, 1), keepdims=True)
    # Light is multiplicative: the surface's variation shrinks with its brightness.
    flat = ((patch - mean) * rng.uniform(0.1, 0.3) + mean) * (255.0 * level / max(1.0, mean.mean()))
    flat += rng.normal(0, rng.uniform(1.0, 3.0), flat.shape)
    return Image.fromarray(np.clip(flat + 0.5, 0, 255).astype(np.uint8))


def featureless(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """An accidental shot of the floor, a ceiling or a wall: one surface, out of focus.

    A 3-8 % patch of the photo blown up, blurred by 3-8 % of the short side,
    contrast cut to 10-30 %, mean luma 0.3-0.55, plus sensor noise.
    """
    return _featureless(image, rng, rng.uniform(0.3, 0.55))


def pocket_shot(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Taken inside a pocket or with the lens covered: featureless *and* dark (luma 0.02-0.08)."""
    return _featureless(image, rng, rng.uniform(0.02, 0.08))


def to_grayscale(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A black-and-white photo (a filter, or a grey print photographed): chroma tint 0-1.5 %."""
    from PIL import Image

    grey = np.asarray(image.convert("L"), np.float32)[..., None]
    tint = 1.0 + rng.uniform(-0.015, 0.015, 3).astype(np.float32)
    return Image.fromarray(np.clip(grey * tint + 0.5, 0, 255).astype(np.uint8))


def screenshot(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A phone screenshot: the photo inside a portrait 18:9 .. 20.5:9 screen with flat UI bars.

    The bars take about half the frame, so their colour is kept mid-tone (levels
    40-200): a white (light-mode) or black (dark-mode) screen is also, rightly,
    ``too_bright`` / ``too_dark`` on its pixels, which this case does not test.
    """
    from PIL import Image

    w, h = image.size
    screen_h = round(w * rng.uniform(2.0, 2.28))
    ui = tuple(int(c) for c in rng.integers(40, 201, 3))
    canvas = Image.new("RGB", (w, max(screen_h, h)), ui)
    canvas.paste(image.convert("RGB"), (0, (canvas.height - h) // 2))
    return canvas


def panorama(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A panorama: 2.5-5x as wide as high (the scene continued by mirrored copies)."""
    from PIL import Image

    arr = np.asarray(image.convert("RGB"))
    h, w = arr.shape[:2]
    width = round(h * rng.uniform(2.5, 5.0))
    reps = [arr if i % 2 == 0 else arr[:, ::-1] for i in range(width // w + 1)]
    return Image.fromarray(np.ascontiguousarray(np.concatenate(reps, axis=1)[:, :width]))


def wide_crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """An ordinary phone photo's shape: the photo cropped to 4:3 or 16:9 (a clean case)."""
    w, h = image.size
    ratio = (4 / 3, 16 / 9)[int(rng.integers(0, 2))]
    if rng.uniform() < 0.5:  # landscape
        new_h = round(w / ratio)
        top = (h - new_h) // 2
        return image.convert("RGB").crop((0, top, w, top + new_h))
    new_w = round(h / ratio)
    left = (w - new_w) // 2
    return image.convert("RGB").crop((left, 0, left + new_w, h))


Distortion = Callable[["Image.Image", np.random.Generator], "Image.Image"]

# Distortion name -> (function, the flag it must raise).
DISTORTIONS: dict[str, tuple[Distortion, str]] = {
    "gaussian_blur": (gaussian_blur, "blurry"),
    "motion_blur": (motion_blur, "blurry"),
    "underexposed": (underexpose, "too_dark"),
    "overexposed": (overexpose, "too_bright"),
    "downscaled": (downscale, "low_resolution"),
    "near_copy": (near_copy, "duplicate"),
    "featureless": (featureless, "low_information"),
    "pocket_shot": (pocket_shot, "low_information"),
    "grayscale": (to_grayscale, "grayscale"),
    "screenshot": (screenshot, "odd_aspect_ratio"),
    "panorama": (panorama, "odd_aspect_ratio"),
}

# Flags a distortion raises besides its own, by design (a pocket is also dark).
ALSO_FLAGS: dict[str, set[str]] = {"pocket_shot": {"too_dark"}}


def jpeg_bytes(image: Image.Image, quality: int = 92) -> bytes:
    """Encode ``image`` as JPEG bytes (what a phone would upload)."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
